"""Members: WeChat login through the fake WeChat server, profile, addresses, levels, balance and
points with ledgers, idempotent money writes — on both backends."""
from __future__ import annotations

import asyncio
import secrets

from services import member as member_service
from tests.builders import assert_invalid, configure_wechat
from tests.conftest import unique


async def test_wechat_mini_program_login_creates_then_finds_the_member(api, make_shop, fake_wechat):
    shop = await make_shop()
    path = f"/api/mobile/{shop.id}/auth/wechat"
    not_configured = await api.post(path, {"code": "whatever"})
    assert not_configured.status == 409 and not_configured.body["error"]["code"] == "wechat_not_configured"
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    assert "secret" not in str((await api.get("/api/merchant/wechat", token=shop.owner_token)).body.values())

    openid = "o_" + secrets.token_hex(6)
    first = await api.post(path, {"code": fake_wechat.login_code(mini, openid)})
    assert first.status == 200, first.body
    member = first.body["member"]
    assert member["wechat_bound"] and member["nickname"] == "微信用户"
    me = await api.get(f"/api/mobile/{shop.id}/me", token=first.body["token"])
    assert me.status == 200 and me.body["id"] == member["id"]

    again = await api.post(path, {"code": fake_wechat.login_code(mini, openid)})
    assert again.status == 200 and again.body["member"]["id"] == member["id"]

    bad = await api.post(path, {"code": "not-a-real-code"})
    assert bad.status == 401 and bad.body["error"]["code"] == "invalid_wechat_code"
    used = fake_wechat.login_code(mini, openid)
    assert (await api.post(path, {"code": used})).status == 200
    assert (await api.post(path, {"code": used})).status == 401  # codes are single-use
    assert_invalid(await api.post(path, {"code": ""}), "code")
    members = await api.get("/api/merchant/members", token=shop.owner_token)
    assert members.body["total"] == 1


async def test_concurrent_first_logins_make_one_member(api, make_shop, fake_wechat):
    shop = await make_shop()
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    openid = "o_" + secrets.token_hex(6)
    results = await asyncio.gather(*(
        api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": fake_wechat.login_code(mini, openid)})
        for _ in range(6)))
    assert all(r.status == 200 for r in results), [r.body for r in results]
    assert len({r.body["member"]["id"] for r in results}) == 1


async def test_official_account_login_links_by_unionid(api, make_shop, fake_wechat):
    shop = await make_shop()
    mini, oa = await configure_wechat(api, shop, fake_wechat)
    unionid = "u_" + secrets.token_hex(6)
    from_mini = await api.post(f"/api/mobile/{shop.id}/auth/wechat",
                               {"code": fake_wechat.login_code(mini, "o_mini_" + unionid, unionid)})
    from_oa = await api.post(f"/api/mobile/{shop.id}/auth/wechat-oa", {"code": fake_wechat.login_code(
        oa, "o_oa_" + unionid, unionid, nickname="阿明", avatar="https://wx.example.com/a.png", sex=1)})
    assert from_oa.status == 200, from_oa.body
    assert from_oa.body["member"]["id"] == from_mini.body["member"]["id"]

    newcomer = await api.post(f"/api/mobile/{shop.id}/auth/wechat-oa", {"code": fake_wechat.login_code(
        oa, "o_oa_new" + unionid, None, nickname="小新", avatar="https://wx.example.com/b.png", sex=2)})
    assert newcomer.status == 200
    assert (newcomer.body["member"]["nickname"], newcomer.body["member"]["gender"]) == ("小新", 2)
    assert (await api.post(f"/api/mobile/{shop.id}/auth/wechat-oa", {"code": "nope"})).status == 401


async def test_profile_and_mobile_binding(api, make_shop, make_member, fake_wechat):
    shop = await make_shop()
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    wx = (await api.post(f"/api/mobile/{shop.id}/auth/wechat",
                         {"code": fake_wechat.login_code(mini, "o_" + secrets.token_hex(6))})).body
    token = wx["token"]
    profile = await api.patch(f"/api/mobile/{shop.id}/me", {"nickname": "新名字", "gender": 2,
                                                             "avatar": "https://img.example.com/me.png"}, token=token)
    assert profile.status == 200 and profile.body["nickname"] == "新名字" and profile.body["gender"] == 2
    assert_invalid(await api.patch(f"/api/mobile/{shop.id}/me", {"gender": 7}, token=token), "gender")
    other = await make_member(shop.id)
    taken = await api.post(f"/api/mobile/{shop.id}/me/mobile", {"mobile": other.mobile}, token=token)
    assert taken.status == 409 and taken.body["error"]["code"] == "mobile_taken"
    bound = await api.post(f"/api/mobile/{shop.id}/me/mobile", {"mobile": "13600001111", "password": "bound-pass-1"},
                           token=token)
    assert bound.status == 200 and bound.body["mobile"] == "13600001111"
    login = await api.post(f"/api/mobile/{shop.id}/auth/login", {"mobile": "13600001111", "password": "bound-pass-1"})
    assert login.status == 200 and login.body["member"]["id"] == wx["member"]["id"]



async def test_password_change_needs_the_current_one_and_revokes_every_older_token(api, make_shop, make_member,
                                                                                  fake_wechat):
    """Defect 9: a new password was taken without the current one and older tokens kept working."""
    shop = await make_shop()
    member = await make_member(shop.id)
    second = (await api.post(f"/api/mobile/{shop.id}/auth/login",
                             {"mobile": member.mobile, "password": "member-pass-1"})).body["token"]
    path = f"/api/mobile/{shop.id}/me/mobile"
    missing = await api.post(path, {"mobile": member.mobile, "password": "new-pass-12"}, token=member.token)
    assert missing.status == 422 and missing.body["error"]["details"]["fields"][0]["field"] == "current_password"
    wrong = await api.post(path, {"mobile": member.mobile, "password": "new-pass-12", "current_password": "guess-123"},
                           token=member.token)
    assert wrong.status == 403 and wrong.body["error"]["code"] == "wrong_password"
    for token in (member.token, second):
        assert (await api.get(f"/api/mobile/{shop.id}/me", token=token)).status == 200
    changed = await api.post(path, {"mobile": member.mobile, "password": "new-pass-12",
                                    "current_password": "member-pass-1"}, token=member.token)
    assert changed.status == 200 and changed.body["id"] == member.id and changed.body["token"]
    for token in (member.token, second):
        revoked = await api.get(f"/api/mobile/{shop.id}/me", token=token)
        assert revoked.status == 401 and revoked.body["error"]["code"] == "token_revoked"
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=changed.body["token"])).status == 200
    def login(password):
        return api.post(f"/api/mobile/{shop.id}/auth/login", {"mobile": member.mobile, "password": password})
    assert (await login("member-pass-1")).status == 401
    assert (await login("new-pass-12")).status == 200
    # binding the mobile alone changes no credential and keeps the session
    same = await api.post(path, {"mobile": member.mobile}, token=changed.body["token"])
    assert same.status == 200 and "token" not in same.body

    # a WeChat member without a password yet sets the first one with their session alone
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    openid = "o_" + secrets.token_hex(6)
    wx = (await api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": fake_wechat.login_code(mini, openid)})).body
    wx_again = (await api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": fake_wechat.login_code(mini, openid)})).body
    mobile = f"137{secrets.randbelow(10**8):08d}"
    first = await api.post(path, {"mobile": mobile, "password": "first-pass-1"}, token=wx["token"])
    assert first.status == 200 and first.body["token"]
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=wx_again["token"])).status == 401
    again = await api.post(path, {"mobile": mobile, "password": "second-pass-1"}, token=first.body["token"])
    assert again.status == 422  # from now on the current password is needed

def address(**overrides) -> dict:
    body = {"name": "张三", "mobile": "13812345678", "province": "浙江省", "city": "杭州市", "district": "西湖区",
            "detail": "文三路 1 号"}
    body.update(overrides)
    return body


async def test_address_rules(api, make_shop, make_member):
    shop = await make_shop()
    member, stranger = await make_member(shop.id), await make_member(shop.id)
    base = f"/api/mobile/{shop.id}/addresses"
    first = await api.post(base, address(), token=member.token)
    assert first.status == 201 and first.body["is_default"] is True  # the first is the default
    second = await api.post(base, address(name="李四", is_default=True), token=member.token)
    listing = (await api.get(base, token=member.token)).body["items"]
    assert [(a["id"], a["is_default"]) for a in listing] == [(second.body["id"], True), (first.body["id"], False)]
    for bad, field in ((address(mobile="123"), "mobile"), (address(province=""), "province"),
                       (address(district="   "), "district"), (address(detail=None), "detail")):
        assert_invalid(await api.post(base, bad, token=member.token), field)
    foreign = f"{base}/{first.body['id']}"
    assert (await api.get(foreign, token=stranger.token)).status == 404
    assert (await api.patch(foreign, {"name": "x"}, token=stranger.token)).status == 404
    assert (await api.delete(foreign, token=stranger.token)).status == 404
    await api.delete(f"{base}/{second.body['id']}", token=member.token)
    remaining = (await api.get(base, token=member.token)).body["items"]
    assert [(a["id"], a["is_default"]) for a in remaining] == [(first.body["id"], True)]  # default moves on


async def test_at_most_twenty_addresses_even_when_racing(api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/addresses", address(name=f"n{i}"),
                                              token=member.token) for i in range(26)))
    statuses = [r.status for r in results]
    assert statuses.count(201) == 20 and statuses.count(409) == 6
    listing = (await api.get(f"/api/mobile/{shop.id}/addresses?page_size=100", token=member.token)).body
    assert listing["total"] == 20 and sum(a["is_default"] for a in listing["items"]) == 1


async def test_balance_never_goes_negative_under_concurrent_spends(api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    path = f"/api/merchant/members/{member.id}/balance"
    topped = await api.post(path, {"delta_fen": 1000, "remark": "gift"}, token=shop.owner_token)
    assert topped.status == 200 and topped.body["balance_fen"] == 1000
    spends = await asyncio.gather(*(api.post(path, {"delta_fen": -100}, token=shop.owner_token) for _ in range(20)))
    statuses = [r.status for r in spends]
    assert statuses.count(200) == 10 and statuses.count(409) == 10
    assert {r.body["error"]["code"] for r in spends if r.status == 409} == {"insufficient_balance"}
    me = await api.get(f"/api/mobile/{shop.id}/me", token=member.token)
    assert me.body["balance_fen"] == 0
    ledger = (await api.get(f"/api/mobile/{shop.id}/me/ledger?currency=balance&page_size=100", token=member.token)).body
    assert ledger["total"] == 11 and sum(row["amount"] for row in ledger["items"]) == me.body["balance_fen"]
    assert sorted(row["balance_after"] for row in ledger["items"]) == sorted([1000] + list(range(0, 1000, 100)))
    assert all(row["operator_id"] for row in ledger["items"])


async def test_points_adjustment_and_merchant_ledger(api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    path = f"/api/merchant/members/{member.id}/points"
    assert (await api.post(path, {"delta": 50, "remark": "签到"}, token=shop.owner_token)).body["points"] == 50
    assert (await api.post(path, {"delta": -51}, token=shop.owner_token)).status == 409
    assert_invalid(await api.post(path, {"delta": "50"}, token=shop.owner_token), "delta")
    ledger = (await api.get(f"/api/merchant/members/{member.id}/ledger?currency=points", token=shop.owner_token)).body
    assert [(r["amount"], r["balance_after"], r["remark"]) for r in ledger["items"]] == [(50, 50, "签到")]


async def test_idempotency_key_moves_money_once(api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    path = f"/api/merchant/members/{member.id}/balance"
    key = {"Idempotency-Key": unique("topup")}
    results = await asyncio.gather(*(api.post(path, {"delta_fen": 500}, token=shop.owner_token, headers=key)
                                     for _ in range(5)))
    assert all(r.status == 200 and r.body == {"member_id": member.id, "balance_fen": 500} for r in results)
    replay = await api.post(path, {"delta_fen": 500}, token=shop.owner_token, headers=key)
    assert replay.body["balance_fen"] == 500
    reused = await api.post(path, {"delta_fen": 900}, token=shop.owner_token, headers=key)
    assert reused.status == 422 and reused.body["error"]["code"] == "idempotency_key_reused"
    assert (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body["balance_fen"] == 500
    other_key = await api.post(path, {"delta_fen": 500}, token=shop.owner_token, headers={"Idempotency-Key": unique("k")})
    assert other_key.body["balance_fen"] == 1000


async def test_merchant_cannot_touch_other_shops_member_money(api, make_shop, make_member):
    shop_a, shop_b = await make_shop(), await make_shop()
    member_b = await make_member(shop_b.id)
    for response in (
        await api.post(f"/api/merchant/members/{member_b.id}/balance", {"delta_fen": 100}, token=shop_a.owner_token),
        await api.post(f"/api/merchant/members/{member_b.id}/points", {"delta": 100}, token=shop_a.owner_token),
        await api.patch(f"/api/merchant/members/{member_b.id}", {"is_blacklisted": True}, token=shop_a.owner_token),
        await api.get(f"/api/merchant/members/{member_b.id}/ledger", token=shop_a.owner_token),
    ):
        assert response.status == 404
    untouched = (await api.get(f"/api/merchant/members/{member_b.id}", token=shop_b.owner_token)).body
    assert (untouched["balance_fen"], untouched["points"], untouched["is_blacklisted"]) == (0, 0, False)


async def test_levels_upgrade_with_spending_and_member_management(api, make_shop, make_member):
    shop = await make_shop()
    token = shop.owner_token
    silver = (await api.post("/api/merchant/levels", {"name": "银卡", "threshold_fen": 10000, "discount_percent": 98},
                             token=token)).body
    gold = (await api.post("/api/merchant/levels", {"name": "金卡", "threshold_fen": 50000, "discount_percent": 95},
                           token=token)).body
    assert_invalid(await api.post("/api/merchant/levels", {"name": "x", "discount_percent": 0}, token=token),
                   "discount_percent")
    member = await make_member(shop.id)
    # completed-order spending (the orders module calls this when an order completes)
    assert await member_service.record_spending(shop.id, member.id, 9999) is None
    assert await member_service.record_spending(shop.id, member.id, 1) == silver["id"]
    assert await member_service.record_spending(shop.id, member.id, 60000) == gold["id"]
    me = await api.get(f"/api/mobile/{shop.id}/me", token=member.token)
    assert me.body["level"] == gold["id"]

    other = await make_member(shop.id)
    tagged = await api.patch(f"/api/merchant/members/{other.id}", {"tags": ["vip", "团长"], "is_blacklisted": True,
                                                                   "level_id": silver["id"]}, token=token)
    assert tagged.status == 200 and tagged.body["tags"] == sorted(["vip", "团长"]) and tagged.body["is_blacklisted"]
    assert_invalid(await api.patch(f"/api/merchant/members/{other.id}", {"level_id": 999999}, token=token), "level_id")
    by_level = (await api.get(f"/api/merchant/members?level_id={gold['id']}", token=token)).body
    assert [m["id"] for m in by_level["items"]] == [member.id]
    by_tag = (await api.get("/api/merchant/members?tag=团长", token=token)).body
    assert [m["id"] for m in by_tag["items"]] == [other.id]
    blacklisted = (await api.get("/api/merchant/members?blacklisted=true", token=token)).body
    assert [m["id"] for m in blacklisted["items"]] == [other.id]
    await api.delete(f"/api/merchant/levels/{silver['id']}", token=token)
    assert (await api.get(f"/api/merchant/members/{other.id}", token=token)).body["level"] is None
