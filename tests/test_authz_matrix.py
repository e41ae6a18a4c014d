"""Authorization and tenancy matrix, generated from the OpenAPI document (so a new endpoint is
covered the day it lands): two shops, each with owner, a staff member without permissions and
members; every operation is called as every identity that must be refused.

- no token / a token of another audience -> 401 (API.md: audiences are never interchangeable);
- a member token of shop B on shop A's paths -> 403 `wrong_shop`;
- staff without the permission -> 403 `permission_denied`;
- shop B's owner with shop A's object ids, member A2 with member A1's addresses, cart lines and
  orders, shop B's catalogue path with shop A's ids -> answered exactly as a missing id (API.md:
  "a foreign object answers 404, exactly as a missing one"); every GET and DELETE of that kind is 404;
- shop B's lists never show a byte of shop A's data (shop A's names carry a marker).

Every stored row of both shops (and the platform's admins and settings) is compared before and
after: no refused request changes anything.
"""
from __future__ import annotations

import datetime
import re

from handlers.openapi import spec
from handlers.routes import ROUTES
from models.member import Member
from models.user import Staff
from services.credentials import hash_password, issue_token
from tests.builders import buyer, fast_members, new_goods, open_and_pay, snapshot
from tests.conftest import unique

MARK = "ZQXMARKA"  # in every name of shop A: must never appear in anything shop B is shown
MISSING = 999_999_999

# path segment before an id -> which of shop A's objects to put there
SEGMENT_KIND = {"members": "member", "levels": "level", "categories": "category", "goods": "goods",
                "banners": "banner", "activities": "activity", "teams": "team", "staff": "staff", "roles": "role",
                "withdrawals": "withdrawal", "distributors": "distributor", "coupons": "coupon", "orders": "order",
                "addresses": "address", "cart": "cart_item", "shops": "shop", "admins": "admin",
                "aftersales": "aftersale", "sales": "flash_sale"}
MEMBER_OWNED = {"address", "cart_item", "order", "aftersale"}  # what one shopper must not reach of another's


def operations() -> list[dict]:
    """Every REST operation of the OpenAPI document with its audience and a plausible body."""
    document = spec(ROUTES)
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            security = operation.get("security") or []
            audience = next(iter(security[0]), "public") if security else "public"
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body = sample(schema, document["components"]["schemas"]) if schema else None
            if body is None and method in ("post", "put", "patch"):
                body = {}
            found.append({"path": path, "method": method.upper(), "audience": audience, "body": body,
                          "params": operation.get("parameters", []), "permission": operation.get("x-permission")})
    return found


def sample(schema: dict, components: dict, name: str = ""):
    """A small valid-looking value for a JSON schema: required fields only, lowest allowed numbers."""
    if "$ref" in schema:
        return sample(components[schema["$ref"].rsplit("/", 1)[-1]], components, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return sample(options[0], components, name) if options else None
    kind = schema.get("type")
    if kind == "object":
        return {k: sample(v, components, k) for k, v in schema.get("properties", {}).items()
                if k in schema.get("required", [])}
    if kind == "array":
        return [sample(schema.get("items", {}), components, name)] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(1, low) if schema.get("maximum", 2) >= 1 else low
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for candidate in ("13800000000", "matrix-value", "2026-01-01", "x"):
        if re.fullmatch(schema.get("pattern", ".*"), candidate) and len(candidate) >= schema.get("minLength", 0):
            return candidate[:schema.get("maxLength", 64)]
    return "x" * schema.get("minLength", 1)


def url(operation: dict, shop_id: int, objects: dict, object_id: int | None = None) -> tuple[str, str | None]:
    """The operation's path filled in; returns (url, kind of the object id used or None)."""
    path, kind_used = operation["path"], None
    for param in operation["params"]:
        if param["in"] != "path":
            continue
        placeholder = "{" + param["name"] + "}"
        if "enum" in param["schema"]:
            value = param["schema"]["enum"][0]
        else:
            segment = path.split(placeholder)[0].rstrip("/").rsplit("/", 1)[-1]
            if segment == "mobile":
                value = shop_id
            else:
                kind_used = SEGMENT_KIND[segment]
                value = object_id if object_id is not None else objects[kind_used]
        path = path.replace(placeholder, str(value), 1)
    return path, kind_used


async def populated_shop(api, make_shop) -> dict:
    """A shop with one of every kind of object, all named with MARK; returns ids and tokens."""
    shop = await make_shop(f"Shop {MARK}")
    token = shop.owner_token
    assert (await api.patch("/api/merchant/settings", {"distribution": {
        "enabled": True, "levels": 1, "rates_bp": [1000], "auto_approve": False}}, token=token)).status == 200

    async def created(path, body) -> dict:
        response = await api.post(path, body, token=token)
        assert response.status == 201, (path, response.body)
        return response.body

    category = await created("/api/merchant/categories", {"name": f"cat {MARK}"})
    goods = await new_goods(api, shop, title=f"goods {MARK}", stock=50, category_id=category["id"])
    banner = await created("/api/merchant/banners", {"title": f"banner {MARK}", "image": "https://img.example.com/b.jpg"})
    level = await created("/api/merchant/levels", {"name": f"level {MARK}", "discount_percent": 95})
    coupon = await created("/api/merchant/coupons", {"name": f"coupon {MARK}", "kind": "amount", "valid_days": 30,
                                                     "amount_fen": 100})
    role = await created("/api/merchant/roles", {"name": f"role {MARK}", "permissions": ["goods.view"]})
    staff = await created("/api/merchant/staff", {"username": unique("matrixstaff"), "password": "staff-pass-1"})
    limited = await Staff.aio_create(shop_id=shop.id, username=unique("nothing"), permissions="[]",
                                     password_hash=await hash_password("nothing-pass-1"))
    activity = (await created("/api/merchant/groups/activities", {
        "title": f"team {MARK}", "goods_id": goods["id"], "duration_seconds": 3600,
        "tiers": [{"team_size": 3, "price_fen": 500}]}))
    now = datetime.datetime.now(datetime.timezone.utc)
    flash_sale = await created("/api/merchant/flash/sales", {
        "title": f"flash {MARK}", "starts_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": [{"goods_id": goods["id"], "price_fen": 100, "stock": 1, "per_member_limit": 1}]})
    member, other = await fast_members(shop.id, 2)
    await Member.update(nickname=f"member {MARK}", openid=f"o_{MARK}_{member.id}").where(
        Member.id == member.id).aio_execute()
    address_id = await buyer(api, shop, member, balance_fen=100_000)
    team = await open_and_pay(api, shop, activity, member, address_id)
    order = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                             "address_id": address_id, "remark": MARK}, token=member.token)
    assert order.status == 201, order.body
    bought = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id, "remark": MARK}, token=member.token)
    assert (await api.post(f"/api/mobile/{shop.id}/orders/{bought.body['id']}/pay", {"method": "balance"},
                           token=member.token)).status == 200
    aftersale = await api.post(f"/api/mobile/{shop.id}/orders/{bought.body['id']}/aftersales",
                               {"type": "refund", "items": [{"order_item_id": bought.body["items"][0]["id"],
                                                             "quantity": 1}], "reason": MARK}, token=member.token)
    assert aftersale.status == 201, aftersale.body
    cart = await api.post(f"/api/mobile/{shop.id}/cart", {"goods_id": goods["id"], "quantity": 1}, token=member.token)
    assert cart.status == 201, cart.body
    cart_item = (await api.get(f"/api/mobile/{shop.id}/cart", token=member.token)).body["items"][0]["id"]
    applied = await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": MARK, "mobile": "13800000000"},
                             token=member.token)
    assert applied.status == 201 and applied.body["status"] == "pending", applied.body
    withdrawal = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "balance", "target": "wechat",
                                                                        "amount_fen": 100}, token=member.token)
    assert withdrawal.status == 201, withdrawal.body
    objects = {"member": member.id, "level": level["id"], "category": category["id"], "goods": goods["id"],
               "banner": banner["id"], "activity": activity["id"], "team": team["team"]["id"], "staff": staff["id"],
               "role": role["id"], "withdrawal": withdrawal.body["id"], "distributor": applied.body["id"],
               "coupon": coupon["id"], "order": order.body["id"], "address": address_id, "cart_item": cart_item,
               "shop": shop.id, "admin": MISSING, "flash_sale": flash_sale["id"],
               "aftersale": aftersale.body["id"]}
    return {"shop": shop, "objects": objects, "member": member, "other_member": other,
            "limited_token": issue_token("merchant", limited.id, limited.token_version, shop_id=shop.id)}


def outcome(response) -> tuple:
    """What a client can tell from an answer: status and error code."""
    error = response.body.get("error") if isinstance(response.body, dict) else None
    return response.status, error and error.get("code")


async def test_every_operation_refuses_every_wrong_identity(api, admin_token, make_shop):
    a = await populated_shop(api, make_shop)
    b_shop = await make_shop("Shop B")
    b_member, = await fast_members(b_shop.id, 1)
    shop_a, objects = a["shop"], a["objects"]
    ops = [op for op in operations() if op["audience"] != "public" or op["path"].startswith("/api/mobile/")]
    before = await snapshot([shop_a.id, b_shop.id])
    wrong_audience = {"adminBearer": {"merchant": shop_a.owner_token, "member": a["member"].token},
                      "merchantBearer": {"admin": admin_token, "member": a["member"].token},
                      "memberBearer": {"admin": admin_token, "merchant": shop_a.owner_token}}
    refused = foreign_404 = 0
    for op in ops:
        path, kind = url(op, shop_a.id, objects)
        call = (op["method"], path)
        if op["audience"] != "public":
            for label, token in [("none", None), *wrong_audience[op["audience"]].items()]:
                response = await api.call(op["method"], path, op["body"], token=token)
                assert response.status == 401, (call, label, response.status, response.body)
                refused += 1
        if op["audience"] == "memberBearer":
            response = await api.call(op["method"], path, op["body"], token=b_member.token)
            assert outcome(response) == (403, "wrong_shop"), (call, response.body)
        if op["audience"] == "merchantBearer" and op["permission"] != "any staff":
            response = await api.call(op["method"], path, op["body"], token=a["limited_token"])
            assert outcome(response) == (403, "permission_denied"), (call, response.body)

        # the same operation by someone of another shop / another member, with shop A's object
        if op["audience"] == "merchantBearer":
            intruder, base_shop = b_shop.owner_token, b_shop.id
        elif op["audience"] == "memberBearer" and kind in MEMBER_OWNED:
            intruder, base_shop = a["other_member"].token, shop_a.id
        elif op["audience"] == "public" and kind is not None:
            intruder, base_shop = None, b_shop.id
        else:
            continue
        foreign_path, _ = url(op, base_shop, objects)
        missing_path, _ = url(op, base_shop, objects, MISSING)
        if kind is None:  # a list or a shop-wide setting: shop B's own data, nothing of shop A's
            if op["method"] == "GET":
                response = await api.call("GET", foreign_path, token=intruder)
                assert response.status == 200 and MARK not in response.text, (call, response.text[:300])
            continue
        foreign = await api.call(op["method"], foreign_path, op["body"], token=intruder)
        missing = await api.call(op["method"], missing_path, op["body"], token=intruder)
        assert outcome(foreign) == outcome(missing), (call, foreign.body, missing.body)
        assert MARK not in foreign.text, (call, foreign.text[:300])
        if op["method"] in ("GET", "DELETE"):
            assert outcome(foreign) == (404, "not_found"), (call, foreign.body)
        foreign_404 += foreign.status == 404
    assert await snapshot([shop_a.id, b_shop.id]) == before
    assert refused > 300 and foreign_404 > 40, (refused, foreign_404)
