"""Shared builders and checks for the test modules: goods, funded members with an address,
group-buy campaigns and teams, a WeChat-enabled shop, refunds — plus `eventually` (poll instead
of sleeping), `assert_invalid` (a 422 that names the wrong field), `snapshot` (every stored row of
some shops) and `seeded` (a random generator whose seed is printed and can be replayed).

Fixtures (`api`, `make_shop`, `make_member`, the fakes) stay in conftest.py; everything here is a
plain function a test calls with them. No test module imports another test module."""
from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import os
import random
import secrets
from typing import Any, Awaitable, Callable

from models.base import BaseModel
from models.member import Member
from models.shop import Shop
from models.stats import DailyGoodsStat, DailyStat
from models.system import AdminUser, PlatformSettings
from services.credentials import issue_token
from tests.conftest import MemberFixture, unique

ADDRESS = {"name": "王五", "mobile": "13912345678", "province": "上海市", "city": "上海市", "district": "浦东新区",
           "detail": "世纪大道 100 号"}


# ---------------------------------------------------------------- waiting and checking
async def eventually(check: Callable[[], Any | Awaitable[Any]], timeout: float = 5.0, interval: float = 0.05,
                     what: str = "") -> Any:
    """Poll `check` (sync or async) until it returns something truthy and return that. A check may
    also raise AssertionError to mean "not yet". After `timeout` seconds: AssertionError saying
    what was last seen. For waiting on a job, a relay or another process — never a bare sleep."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last: Any = result
        except AssertionError as error:
            last = error
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what or getattr(check, '__name__', 'check')}; "
                                 f"last seen {last!r}")
        await asyncio.sleep(interval)


def assert_invalid(response, *fields: str) -> list[str]:
    """The response is API.md's 422 `validation_failed` and names each of `fields` (exactly as the
    server spells them, e.g. "items.0.quantity"); returns all the fields it names."""
    assert response.status == 422, (response.status, response.body)
    error = response.body.get("error", {})
    assert error.get("code") == "validation_failed", response.body
    named = [f.get("field") for f in (error.get("details") or {}).get("fields", [])]
    for field in fields:
        assert field in named, (f"{field!r} is not named", response.body)
    return named


def seeded(name: str) -> tuple[int, random.Random]:
    """(seed, generator) for a randomized test: the seed comes from env MALL_<NAME>_SEED when set,
    else is fresh; it is printed (pytest shows it with a failure) so the run can be replayed."""
    variable = f"MALL_{name.upper()}_SEED"
    seed = int(os.environ.get(variable) or random.randrange(10**9))
    print(f"{name} seed {seed} (replay: {variable}={seed})")
    return seed, random.Random(seed)


def _models_with_shop_id() -> list[type]:
    found, stack = [], list(BaseModel.__subclasses__())
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        if "shop_id" in model._meta.fields and not model.__subclasses__() \
                and model not in (DailyStat, DailyGoodsStat):  # rollups are made by the job, at any time
            found.append(model)
    return found


async def snapshot(shop_ids: list[int]) -> dict:
    """Every stored row of the shops, and the platform's admins and settings, as text: compare a
    snapshot before and after a refused request to show it changed nothing."""
    def rows(query) -> list:
        return [json.dumps(row, sort_keys=True, default=str) for row in query]

    taken = {}
    for model in _models_with_shop_id():
        taken[model.__name__] = rows(await model.select().where(model.shop_id.in_(shop_ids))
                                     .order_by(model.id).dicts().aio_execute())
    taken["Shop"] = rows(await Shop.select().where(Shop.id.in_(shop_ids)).dicts().aio_execute())
    taken["AdminUser"] = rows(await AdminUser.select().order_by(AdminUser.id).dicts().aio_execute())
    taken["PlatformSettings"] = rows(await PlatformSettings.select().dicts().aio_execute())
    return taken


# ---------------------------------------------------------------- catalog
async def new_goods(api, shop, **overrides) -> dict:
    """On-sale goods "Tea" at ¥10 with 10 in stock, unless overridden; returns the created goods."""
    body = {"title": "Tea", "price_fen": 1000, "stock": 10, "status": "on_sale",
            "images": ["https://img.example.com/t.jpg"], **overrides}
    created = await api.post("/api/merchant/goods", body, token=shop.owner_token)
    assert created.status == 201, created.body
    return created.body


async def goods_with_skus(api, shop, specs: dict[str, list[str]], price_fen: int = 8000, stock: int = 5,
                          **overrides) -> dict:
    """Goods with one SKU per combination of the spec values (in spec order), each at `price_fen`
    with `stock`; e.g. specs={"颜色": ["红", "蓝"], "尺码": ["M", "L"]} gives 红/M, 红/L, 蓝/M, 蓝/L."""
    combinations = itertools.product(*specs.values())
    return await new_goods(api, shop, specs=[{"name": name, "values": values} for name, values in specs.items()],
                           skus=[{"spec_values": list(values), "price_fen": price_fen, "stock": stock}
                                 for values in combinations], **overrides)


# ---------------------------------------------------------------- members
async def fast_members(shop_id: int, count: int) -> list[MemberFixture]:
    """Members created directly (no password hashing): for races that need many buyers."""
    members = []
    for i in range(count):
        row = await Member.aio_create(shop_id=shop_id, nickname=f"buyer{i}")
        members.append(MemberFixture(row.id, shop_id, "", issue_token("member", row.id, 1, shop_id=shop_id)))
    return members


async def buyer(api, shop, member, balance_fen: int = 0) -> int:
    """Give the member an address (and balance); returns the address id."""
    if balance_fen:
        topped = await api.post(f"/api/merchant/members/{member.id}/balance", {"delta_fen": balance_fen},
                                token=shop.owner_token)
        assert topped.status == 200, topped.body
    created = await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=member.token)
    assert created.status == 201, created.body
    return created.body["id"]


async def members_with_money(api, shop, count, balance=10000) -> list[tuple[MemberFixture, int]]:
    """`count` members (nicknames buyer0, buyer1, ...) with `balance` fen and an address each:
    [(member, address_id), ...]."""
    members = await fast_members(shop.id, count)
    return [(m, await buyer(api, shop, m, balance_fen=balance)) for m in members]


# ---------------------------------------------------------------- orders
async def refund(api, shop, member, order_id):
    """The member asks for a refund and the merchant approves it."""
    asked = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/refund", {"reason": "changed my mind"},
                           token=member.token)
    assert asked.status == 200, asked.body
    approved = await api.post(f"/api/merchant/orders/{order_id}/refund/approve", {}, token=shop.owner_token)
    assert approved.status == 200, approved.body


# ---------------------------------------------------------------- group buy
async def campaign(api, shop, stock=20, **overrides) -> tuple[dict, dict]:
    """Goods "拼团茶" (¥59) and a campaign on it: teams of 3 at ¥39 or 5 at ¥29, an hour to fill.
    Returns (goods, activity)."""
    goods = await new_goods(api, shop, title="拼团茶", price_fen=5900, stock=stock)
    body = {"title": "好茶拼团", "goods_id": goods["id"], "duration_seconds": 3600,
            "tiers": [{"team_size": 3, "price_fen": 3900}, {"team_size": 5, "price_fen": 2900}], **overrides}
    created = await api.post("/api/merchant/groups/activities", body, token=shop.owner_token)
    assert created.status == 201, created.body
    return goods, created.body


async def open_and_pay(api, shop, activity, member, address_id, team_size=3):
    """The member opens a team and pays for it (the team is open then); returns {team, order}."""
    opened = await api.post(f"/api/mobile/{shop.id}/groups/teams", {"activity_id": activity["id"], "team_size": team_size,
                                                                   "address_id": address_id}, token=member.token)
    assert opened.status == 201, opened.body
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{opened.body['order']['id']}/pay", {"method": "balance"},
                          token=member.token)
    assert paid.status == 200, paid.body
    return opened.body


async def join_and_pay(api, shop, team_id, member, address_id, pay=True) -> dict:
    """The member joins the team (and pays, unless pay=False); returns the member's order."""
    joined = await api.post(f"/api/mobile/{shop.id}/groups/teams/{team_id}/join", {"address_id": address_id},
                            token=member.token)
    assert joined.status == 201, joined.body
    if pay:
        paid = await api.post(f"/api/mobile/{shop.id}/orders/{joined.body['order']['id']}/pay", {"method": "balance"},
                              token=member.token)
        assert paid.status == 200, paid.body
    return joined.body["order"]


# ---------------------------------------------------------------- WeChat
async def configure_wechat(api, shop, fake_wechat) -> tuple[str, str]:
    """Register a mini-program and an official account with the fake WeChat and the shop;
    returns (mini app id, official account app id)."""
    mini, oa = unique("wxmini"), unique("wxoa")
    fake_wechat.add_app(mini, "mini-secret-" + mini)
    fake_wechat.add_app(oa, "oa-secret-" + oa)
    saved = await api.call("PUT", "/api/merchant/wechat", {
        "mini_app_id": mini, "mini_app_secret": "mini-secret-" + mini,
        "oa_app_id": oa, "oa_app_secret": "oa-secret-" + oa}, token=shop.owner_token)
    assert saved.status == 200
    assert saved.body == {"mini_app_id": mini, "mini_app_secret_set": True, "oa_app_id": oa, "oa_app_secret_set": True}
    return mini, oa


async def wechat_shop(api, make_shop, fake_wechat, fake_wechatpay):
    """A shop with a mini-program and WeChat Pay, a member logged in by WeChat, an address, goods
    (¥19.90, 5 in stock). Returns (shop, member token, member id, address id, goods)."""
    shop = await make_shop()
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    saved = await api.call("PUT", "/api/merchant/payment/wechat", fake_wechatpay.merchant_config(mini),
                           token=shop.owner_token)
    assert saved.status == 200 and saved.body["configured"] and "private_key" not in saved.body
    code = fake_wechat.login_code(mini, "o_" + secrets.token_hex(6))
    login = await api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": code})
    token, member_id = login.body["token"], login.body["member"]["id"]
    address_id = (await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=token)).body["id"]
    goods = await new_goods(api, shop, price_fen=1990, stock=5)
    return shop, token, member_id, address_id, goods


async def place_and_prepay(api, shop, token, address_id, goods) -> dict:
    """One unit of `goods` ordered and a WeChat prepay made; the order with its `pay_params`."""
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=token)).body
    prepay = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "wechat"}, token=token)
    assert prepay.status == 200, prepay.body
    return {**order, "pay_params": prepay.body["pay_params"]}


async def notify(api, shop, headers, body):
    """Deliver a WeChat Pay v3 notification (from fake_wechatpay.notification) to the shop."""
    return await api.call("POST", f"/api/pay/wechat/v3/notify/{shop.id}", raw=body, headers=headers)
