"""Promotions through the real API on both backends: the pricing table (preview and order agree to
the fen on hand-computed cases), coupon claims and uses under concurrency, returns, expiry."""
from __future__ import annotations

import asyncio
import datetime

import pytest

from models.base import utcnow
from models.sale import CouponTemplate, MemberCoupon
from services import sale
from tests.builders import assert_invalid, buyer, fast_members, new_goods

SHIPPING = 1000
FIELDS = ("goods_total_fen", "level_discount_fen", "full_reduction_fen", "coupon_discount_fen",
          "points_deduction_fen", "points_used", "shipping_fee_fen", "total_fen")


async def catalog(api, shop) -> dict:
    """A (¥100, category 茶 via its child 绿茶), B (¥30, 杯), C (¥50, virtual)."""
    tea = (await api.post("/api/merchant/categories", {"name": "茶"}, token=shop.owner_token)).body
    green = (await api.post("/api/merchant/categories", {"name": "绿茶", "parent_id": tea["id"]},
                            token=shop.owner_token)).body
    cups = (await api.post("/api/merchant/categories", {"name": "杯"}, token=shop.owner_token)).body
    return {"A": await new_goods(api, shop, title="A", price_fen=10000, stock=100, category_id=green["id"]),
            "B": await new_goods(api, shop, title="B", price_fen=3000, stock=100, category_id=cups["id"]),
            "C": await new_goods(api, shop, title="C", price_fen=5000, stock=100, is_virtual=True),
            "tea": tea["id"], "cups": cups["id"]}


async def coupon(api, shop, **fields) -> dict:
    body = {"name": "券", "kind": "amount", "valid_days": 30, **fields}
    created = await api.post("/api/merchant/coupons", body, token=shop.owner_token)
    assert created.status == 201, created.body
    return created.body


async def claim(api, shop, member, template) -> dict:
    claimed = await api.post(f"/api/mobile/{shop.id}/coupons/{template['id']}/claim", {}, token=member.token)
    assert claimed.status == 201, claimed.body
    return claimed.body


# Each case: settings, member level %, member points, coupons (template fields, with scope given by
# goods letters or category names), the cart, use_points, and the hand-computed breakdown
# (goods, level, full reduction, coupons, points fen, points used, shipping, total).
PRICING_CASES = {
    "plain": dict(cart={"A": 1}, expect=(10000, 0, 0, 0, 0, 0, SHIPPING, 11000)),
    "level 95% rounds half up": dict(level=95, cart={"A": 1, "B": 1},
                                     expect=(13000, 650, 0, 0, 0, 0, SHIPPING, 13350)),
    "best full-reduction tier": dict(sale={"full_reduction": [{"min_fen": 10000, "off_fen": 1000},
                                                              {"min_fen": 20000, "off_fen": 3000}]},
                                     cart={"A": 2, "B": 1}, expect=(23000, 0, 3000, 0, 0, 0, SHIPPING, 21000)),
    "free shipping counts after discounts": dict(
        sale={"full_reduction": [{"min_fen": 10000, "off_fen": 500}], "free_shipping_min_fen": 10000},
        cart={"A": 1}, expect=(10000, 0, 500, 0, 0, 0, SHIPPING, 10500)),
    "free shipping reached": dict(sale={"free_shipping_min_fen": 10000}, cart={"A": 1},
                                  expect=(10000, 0, 0, 0, 0, 0, 0, 10000)),
    "category coupon covers a child category": dict(
        coupons=[{"amount_fen": 2000, "min_spend_fen": 5000, "scope": "categories", "scope_ids": ["tea"]}],
        cart={"A": 1, "B": 1}, expect=(13000, 0, 0, 2000, 0, 0, SHIPPING, 12000)),
    "coupon min spend is on the covered goods only": dict(
        coupons=[{"amount_fen": 500, "min_spend_fen": 5000, "scope": "goods", "scope_ids": ["B"]}],
        cart={"A": 1, "B": 1}, error="coupon_unavailable"),
    "percent coupon capped, after level": dict(
        level=90, coupons=[{"kind": "percent", "percent_off": 20, "max_discount_fen": 5000}],
        cart={"A": 3}, expect=(30000, 3000, 0, 5000, 0, 0, SHIPPING, 23000)),
    "points deduction limited by balance of points": dict(
        points_rules={"deduct_enabled": True, "points_per_yuan_deduct": 100, "deduct_max_percent": 20},
        points=1500, use_points=True, cart={"A": 1}, expect=(10000, 0, 0, 0, 1500, 1500, SHIPPING, 9500)),
    "points deduction limited by max percent": dict(
        points_rules={"deduct_enabled": True, "points_per_yuan_deduct": 100, "deduct_max_percent": 10},
        points=50000, use_points=True, cart={"A": 1}, expect=(10000, 0, 0, 0, 1000, 1000, SHIPPING, 10000)),
    "everything, two stackable coupons": dict(
        level=95, points=3000, use_points=True,
        points_rules={"deduct_enabled": True, "points_per_yuan_deduct": 200, "deduct_max_percent": 10},
        sale={"full_reduction": [{"min_fen": 20000, "off_fen": 2000}], "free_shipping_min_fen": 15000},
        coupons=[{"amount_fen": 1000, "stackable": True},
                 {"kind": "percent", "percent_off": 10, "scope": "goods", "scope_ids": ["B"], "stackable": True}],
        # 23000; level (23000*95+50)//100 = 21850 -> 1150; >= 20000 -> 2000 off -> 19850;
        # coupons 1000 + 10% of B's share 19850*3000//23000 = 2589 -> 258; left 18592 (free shipping);
        # points: min(18592*10//100 = 1859, 3000*100//200 = 1500) = 1500 fen for 3000 points
        cart={"A": 2, "B": 1}, expect=(23000, 1150, 2000, 1258, 1500, 3000, 0, 17092)),
    "two coupons that do not stack": dict(coupons=[{"amount_fen": 100}, {"amount_fen": 200}], cart={"A": 1},
                                          error="coupon_unavailable"),
    "virtual goods ship free": dict(cart={"C": 2}, expect=(10000, 0, 0, 0, 0, 0, 0, 10000)),
}


@pytest.mark.parametrize("name", list(PRICING_CASES))
async def test_pricing_table_preview_and_order_agree(api, make_shop, name):
    case = PRICING_CASES[name]
    shop = await make_shop()
    goods = await catalog(api, shop)
    settings = {"order": {"shipping_fee_fen": SHIPPING}, "sale": case.get("sale", {}),
                "points": case.get("points_rules", {})}
    assert (await api.patch("/api/merchant/settings", settings, token=shop.owner_token)).status == 200
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member)
    if case.get("level"):
        level = (await api.post("/api/merchant/levels", {"name": "VIP", "discount_percent": case["level"]},
                                token=shop.owner_token)).body
        await api.patch(f"/api/merchant/members/{member.id}", {"level_id": level["id"]}, token=shop.owner_token)
    if case.get("points"):
        await api.post(f"/api/merchant/members/{member.id}/points", {"delta": case["points"]}, token=shop.owner_token)
    coupon_ids = []
    for fields in case.get("coupons", []):
        if fields.get("scope") == "goods":
            fields = {**fields, "scope_ids": [goods[letter]["id"] for letter in fields["scope_ids"]]}
        elif fields.get("scope") == "categories":
            fields = {**fields, "scope_ids": [goods[name] for name in fields["scope_ids"]]}
        coupon_ids.append((await claim(api, shop, member, await coupon(api, shop, **fields)))["id"])
    body = {"items": [{"goods_id": goods[letter]["id"], "quantity": n} for letter, n in case["cart"].items()],
            "coupon_ids": coupon_ids, "use_points": case.get("use_points", False)}

    preview = await api.post(f"/api/mobile/{shop.id}/orders/preview", body, token=member.token)
    order = await api.post(f"/api/mobile/{shop.id}/orders", {**body, "address_id": address_id}, token=member.token)
    if "error" in case:
        assert preview.status == order.status == 422 and preview.body["error"]["code"] == case["error"]
        return
    assert preview.status == 200 and order.status == 201, (preview.body, order.body)
    assert tuple(preview.body[f] for f in FIELDS) == case["expect"]
    assert tuple(order.body[f] for f in FIELDS) == case["expect"]
    assert order.body["discounts"] == preview.body["discounts"]
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{order.body['id']}", token=member.token)).body == order.body
    assert sum(d["amount_fen"] for d in order.body["discounts"]) == (
        order.body["goods_total_fen"] + order.body["shipping_fee_fen"] - order.body["total_fen"])
    me = (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body
    assert me["points"] == case.get("points", 0) - case["expect"][5]


async def test_a_hundred_members_race_for_ten_coupons(api, make_shop):
    shop = await make_shop()
    template = await coupon(api, shop, amount_fen=500, total_quantity=10)
    members = await fast_members(shop.id, 100)
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/coupons/{template['id']}/claim", {},
                                              token=m.token) for m in members))
    statuses = [r.status for r in results]
    assert statuses.count(201) == 10 and statuses.count(409) == 90
    assert {r.body["error"]["code"] for r in results if r.status == 409} == {"coupons_gone"}
    detail = (await api.get(f"/api/merchant/coupons/{template['id']}", token=shop.owner_token)).body
    assert (detail["stats"]["claimed"], detail["remaining"]) == (10, 0)
    assert await MemberCoupon.select().where(MemberCoupon.template_id == template["id"]).aio_count() == 10
    centre = (await api.get(f"/api/mobile/{shop.id}/coupons")).body
    assert template["id"] not in [t["id"] for t in centre["items"]]  # none left to claim


async def test_per_member_limit_holds_when_one_member_races(api, make_shop):
    shop = await make_shop()
    template = await coupon(api, shop, amount_fen=500, per_member_limit=2)
    member, = await fast_members(shop.id, 1)
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/coupons/{template['id']}/claim", {},
                                              token=member.token) for _ in range(6)))
    assert sorted(r.status for r in results) == [201, 201, 409, 409, 409, 409]
    mine = (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=member.token)).body
    assert mine["total"] == 2


async def test_one_coupon_on_two_concurrent_orders_is_used_once(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=5000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member)
    held = await claim(api, shop, member, await coupon(api, shop, amount_fen=1000))
    body = {"items": [{"goods_id": goods["id"], "quantity": 1}], "address_id": address_id, "coupon_id": held["id"]}
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/orders", body, token=member.token) for _ in range(5)))
    assert sorted(r.status for r in results)[0] == 201 and [r.status for r in results].count(201) == 1
    assert all(r.status in (409, 422) for r in results if r.status != 201)
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 9
    order = [r.body for r in results if r.status == 201][0]
    assert (order["coupon_discount_fen"], order["total_fen"]) == (1000, 4000)


async def test_cancel_and_refund_give_coupons_and_points_back(api, make_shop):
    shop = await make_shop()
    await api.patch("/api/merchant/settings", {"points": {"deduct_enabled": True, "points_per_yuan_deduct": 100,
                                                          "deduct_max_percent": 50}}, token=shop.owner_token)
    goods = await new_goods(api, shop, price_fen=5000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=100000)
    await api.post(f"/api/merchant/members/{member.id}/points", {"delta": 1000}, token=shop.owner_token)
    template = await coupon(api, shop, amount_fen=1000, per_member_limit=0)
    held = await claim(api, shop, member, template)
    body = {"items": [{"goods_id": goods["id"], "quantity": 1}], "address_id": address_id, "coupon_id": held["id"],
            "use_points": True}
    first = (await api.post(f"/api/mobile/{shop.id}/orders", body, token=member.token)).body
    assert (first["coupon_discount_fen"], first["points_used"], first["total_fen"]) == (1000, 1000, 3000)
    used = (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=used", token=member.token)).body["items"]
    assert [(c["id"], c["order_id"], c["discount_fen"]) for c in used] == [(held["id"], first["id"], 1000)]
    await api.post(f"/api/mobile/{shop.id}/orders/{first['id']}/cancel", {}, token=member.token)
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["points"] == 1000
    unused = (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=member.token)).body["items"]
    assert [c["id"] for c in unused] == [held["id"]]

    second = (await api.post(f"/api/mobile/{shop.id}/orders", body, token=member.token)).body
    await api.post(f"/api/mobile/{shop.id}/orders/{second['id']}/pay", {"method": "balance"}, token=member.token)
    await api.post(f"/api/mobile/{shop.id}/orders/{second['id']}/refund", {"reason": "不要了"}, token=member.token)
    approved = await api.post(f"/api/merchant/orders/{second['id']}/refund/approve", {}, token=shop.owner_token)
    assert approved.status == 200
    me = (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body
    assert (me["points"], me["balance_fen"]) == (1000, 100000)
    assert (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=member.token)).body["total"] == 1
    stats = (await api.get(f"/api/merchant/coupons/{template['id']}", token=shop.owner_token)).body["stats"]
    assert (stats["used"], stats["gmv_fen"]) == (0, 0)  # nothing it drove stayed paid

    await api.patch("/api/merchant/settings", {"sale": {"return_coupon_on_refund": False}}, token=shop.owner_token)
    third = (await api.post(f"/api/mobile/{shop.id}/orders", body, token=member.token)).body
    await api.post(f"/api/mobile/{shop.id}/orders/{third['id']}/pay", {"method": "balance"}, token=member.token)
    stats = (await api.get(f"/api/merchant/coupons/{template['id']}", token=shop.owner_token)).body["stats"]
    assert (stats["used"], stats["gmv_fen"]) == (1, 3000)
    await api.post(f"/api/mobile/{shop.id}/orders/{third['id']}/refund", {"reason": "不要了"}, token=member.token)
    await api.post(f"/api/merchant/orders/{third['id']}/refund/approve", {}, token=shop.owner_token)
    assert (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=member.token)).body["total"] == 0
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["points"] == 1000


async def test_expired_coupons_cannot_be_used(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=5000)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member)
    held = await claim(api, shop, member, await coupon(api, shop, amount_fen=1000, valid_days=1))
    await MemberCoupon.update(valid_until=utcnow() - datetime.timedelta(seconds=1)).where(
        MemberCoupon.id == held["id"]).aio_execute()
    body = {"items": [{"goods_id": goods["id"], "quantity": 1}], "coupon_id": held["id"]}
    refused = await api.post(f"/api/mobile/{shop.id}/orders/preview", body, token=member.token)
    assert refused.status == 422 and refused.body["error"]["details"]["coupon_id"] == held["id"]
    ordered = await api.post(f"/api/mobile/{shop.id}/orders", {**body, "address_id": address_id}, token=member.token)
    assert ordered.status == 422 and ordered.body["error"] == refused.body["error"]
    expired = (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=expired", token=member.token)).body
    assert [(c["id"], c["status"]) for c in expired["items"]] == [(held["id"], "expired")]
    await sale.expire_coupons()  # (the periodic job may have stored it already)
    assert (await MemberCoupon.aio_get(MemberCoupon.id == held["id"])).status == "expired"
    assert await sale.expire_coupons() == 0  # a second run finds nothing left to do
    window = await coupon(api, shop, amount_fen=100, valid_from="2020-01-01T00:00:00Z", valid_until="2020-02-01T00:00:00Z")
    gone = await api.post(f"/api/mobile/{shop.id}/coupons/{window['id']}/claim", {}, token=member.token)
    assert gone.status == 409  # its window has passed


async def test_merchant_issues_coupons_and_carts_show_what_applies(api, make_shop):
    shop = await make_shop()
    goods = await catalog(api, shop)
    level = (await api.post("/api/merchant/levels", {"name": "金卡"}, token=shop.owner_token)).body
    members = await fast_members(shop.id, 3)
    for m in members[:2]:
        await api.patch(f"/api/merchant/members/{m.id}", {"level_id": level["id"]}, token=shop.owner_token)
    private = await coupon(api, shop, name="金卡专享", amount_fen=800, claimable=False, total_quantity=3)
    assert private["id"] not in [t["id"] for t in (await api.get(f"/api/mobile/{shop.id}/coupons")).body["items"]]
    not_claimable = await api.post(f"/api/mobile/{shop.id}/coupons/{private['id']}/claim", {}, token=members[2].token)
    assert not_claimable.status == 404
    issued = await api.post(f"/api/merchant/coupons/{private['id']}/issue", {"level_id": level["id"]},
                            token=shop.owner_token)
    assert issued.body == {"issued": 2, "skipped": 0}
    again = await api.post(f"/api/merchant/coupons/{private['id']}/issue", {"member_ids": [m.id for m in members]},
                           token=shop.owner_token)
    assert again.body == {"issued": 1, "skipped": 2}  # two already hold their one
    assert (await api.post(f"/api/merchant/coupons/{private['id']}/issue", {"member_ids": [members[2].id]},
                           token=shop.owner_token)).body == {"issued": 0, "skipped": 1}
    await api.patch(f"/api/merchant/coupons/{private['id']}", {"per_member_limit": 0}, token=shop.owner_token)
    too_many = await api.post(f"/api/merchant/coupons/{private['id']}/issue", {"member_ids": [members[2].id]},
                              token=shop.owner_token)
    assert too_many.status == 409 and too_many.body["error"]["code"] == "coupons_gone"  # all 3 are out
    cups_only = await coupon(api, shop, name="杯券", amount_fen=300, scope="categories", scope_ids=[goods["cups"]])
    await claim(api, shop, members[0], cups_only)
    cart = {"items": [{"goods_id": goods["A"]["id"], "quantity": 1}]}
    split = (await api.post(f"/api/mobile/{shop.id}/coupons/for-cart", cart, token=members[0].token)).body
    assert [(c["name"], c["discount_fen"]) for c in split["usable"]] == [("金卡专享", 800)]
    assert [(c["name"], c["reason"]) for c in split["unusable"]] == [("杯券", "not valid for these goods")]

    other = await make_shop()
    for bad, field in (({"name": "x", "kind": "percent", "valid_days": 3}, "percent_off"),
                       ({"name": "x", "kind": "amount", "amount_fen": 100}, "valid_until"),  # or valid_days
                       ({"name": "x", "kind": "amount", "amount_fen": 100, "valid_days": 3, "scope": "goods",
                         "scope_ids": [goods["A"]["id"]]}, "scope_ids")):  # another shop's goods
        assert_invalid(await api.post("/api/merchant/coupons", bad, token=other.owner_token), field)
    assert (await api.get(f"/api/merchant/coupons/{private['id']}", token=other.owner_token)).status == 404
    stranger, = await fast_members(other.id, 1)
    assert (await api.post(f"/api/mobile/{other.id}/coupons/{cups_only['id']}/claim", {},
                           token=stranger.token)).status == 404  # another shop's coupon
    assert (await api.post(f"/api/merchant/coupons/{cups_only['id']}/issue", {"member_ids": [stranger.id]},
                           token=other.owner_token)).status == 404
    shrink = await api.patch(f"/api/merchant/coupons/{private['id']}", {"total_quantity": 2}, token=shop.owner_token)
    assert_invalid(shrink, "total_quantity")  # three are already out
    assert (await api.delete(f"/api/merchant/coupons/{cups_only['id']}", token=shop.owner_token)).status == 204
    assert await CouponTemplate.select().where((CouponTemplate.shop_id == shop.id)
                                               & (CouponTemplate.deleted == False)).aio_count() == 1  # noqa: E712
    still_held = (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=members[0].token)).body
    assert {c["name"] for c in still_held["items"]} == {"金卡专享", "杯券"}  # deleting stops claims, not use
