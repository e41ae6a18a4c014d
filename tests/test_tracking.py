"""Parcel tracking: a shipped order's route from the shop's tracking provider (a fake kuaidi100 on
loopback checking the real sign), cached per tracking number, refreshed at most once per TTL,
served stale (flagged) when the provider is down, and a delivered parcel confirming the order
after the shop's configured days."""
from __future__ import annotations

import asyncio
import datetime

from models.base import iso, utcnow
from models.tracking import ExpressCache
from tests.builders import buyer, eventually, new_goods
from tests.conftest import unique


async def tracked_shop(api, make_shop, fake_tracking, **order_rules):
    shop = await make_shop()
    customer, key = unique("cust"), unique("key")
    fake_tracking.add_account(customer, key)
    patched = await api.patch("/api/merchant/settings", {"tracking": {"customer": customer, "key": key},
                                                         **({"order": order_rules} if order_rules else {})},
                              token=shop.owner_token)
    assert patched.status == 200, patched.body
    return shop


async def placed_order(api, shop, member) -> int:
    goods = await new_goods(api, shop)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    created = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                               "address_id": address_id}, token=member.token)
    assert created.status == 201, created.body
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{created.body['id']}/pay", {"method": "balance"},
                          token=member.token)
    assert paid.status == 200, paid.body
    return created.body["id"]


async def shipped_order(api, shop, member, express_no: str, company: str = "顺丰") -> int:
    order_id = await placed_order(api, shop, member)
    shipped = await api.post(f"/api/merchant/orders/{order_id}/ship", {"express_company": company,
                                                                       "express_no": express_no}, token=shop.owner_token)
    assert shipped.status == 200, shipped.body
    return order_id


def in_transit(fake_tracking, number: str, company: str = "shunfeng") -> None:
    now = utcnow()
    fake_tracking.set_route(company, number, 0, [(now - datetime.timedelta(hours=1), "【杭州】快件已发出"),
                                                 (now - datetime.timedelta(hours=5), "【杭州】已揽收")])


async def expire(number: str) -> None:
    """The cached route's TTL is over (as if `tracking.cache_minutes` had passed)."""
    await ExpressCache.update(refresh_at=utcnow() - datetime.timedelta(seconds=1)).where(
        ExpressCache.express_no == number).aio_execute()


async def test_the_route_is_served_to_the_member_and_the_merchant(api, make_shop, make_member, fake_tracking):
    shop = await tracked_shop(api, make_shop, fake_tracking)
    member = await make_member(shop.id)
    number = unique("SF")
    in_transit(fake_tracking, number)
    order_id = await shipped_order(api, shop, member, number)

    mine = await api.get(f"/api/mobile/{shop.id}/orders/{order_id}/tracking", token=member.token)
    assert mine.status == 200, mine.body
    assert (mine.body["provider"], mine.body["company_code"], mine.body["express_no"]) == ("kuaidi100", "shunfeng", number)
    assert [e["context"] for e in mine.body["events"]] == ["【杭州】快件已发出", "【杭州】已揽收"]
    assert mine.body["events"][0]["time"].endswith("Z") and mine.body["stale"] is False
    assert mine.body["delivered"] is False and mine.body["state"] == 0
    merchant = await api.get(f"/api/merchant/orders/{order_id}/tracking", token=shop.owner_token)
    assert merchant.status == 200 and merchant.body["events"] == mine.body["events"]
    assert fake_tracking.calls[number] == 1  # the merchant read the cache
    assert fake_tracking.params[-1]["phone"] == "5678"  # the receiver's mobile's last digits (SF asks for them)

    settings = (await api.get("/api/merchant/settings", token=shop.owner_token)).body["tracking"]
    assert settings["key_set"] is True and "key" not in settings and settings["customer"]


async def test_a_hundred_concurrent_lookups_make_one_provider_call_and_one_more_after_the_ttl(
        api, make_shop, make_member, fake_tracking):
    shop = await tracked_shop(api, make_shop, fake_tracking)
    member = await make_member(shop.id)
    number = unique("SF")
    in_transit(fake_tracking, number)
    order_id = await shipped_order(api, shop, member, number)
    fake_tracking.delay = 0.3  # every lookup arrives while the first is still asking the provider
    try:
        looks = await asyncio.gather(*(
            api.get(f"/api/mobile/{shop.id}/orders/{order_id}/tracking", token=member.token) for _ in range(100)))
        assert {r.status for r in looks} == {200} and fake_tracking.calls[number] == 1
        await expire(number)
        again = await asyncio.gather(*(
            api.get(f"/api/merchant/orders/{order_id}/tracking", token=shop.owner_token) for _ in range(30)))
        assert {r.status for r in again} == {200} and fake_tracking.calls[number] == 2
    finally:
        fake_tracking.delay = 0.0


async def test_provider_down_serves_the_cached_route_stale_or_503_when_nothing_is_cached(
        api, make_shop, make_member, fake_tracking):
    shop = await tracked_shop(api, make_shop, fake_tracking)
    member = await make_member(shop.id)
    cached, fresh = unique("SF"), unique("SF")
    in_transit(fake_tracking, cached)
    in_transit(fake_tracking, fresh)
    cached_order = await shipped_order(api, shop, member, cached)
    fresh_order = await shipped_order(api, shop, member, fresh)
    first = await api.get(f"/api/mobile/{shop.id}/orders/{cached_order}/tracking", token=member.token)
    assert first.status == 200 and first.body["stale"] is False
    await expire(cached)
    fake_tracking.down = True
    try:
        stale = await api.get(f"/api/mobile/{shop.id}/orders/{cached_order}/tracking", token=member.token)
        assert stale.status == 200 and stale.body["stale"] is True and "502" in stale.body["error"]
        assert stale.body["events"] == first.body["events"]
        missing = await api.get(f"/api/mobile/{shop.id}/orders/{fresh_order}/tracking", token=member.token)
        assert missing.status == 503 and missing.body["error"]["code"] == "tracking_unavailable"
        calls = fake_tracking.calls[cached] + fake_tracking.calls[fresh]
        for order_id in (cached_order, fresh_order):  # a failing provider is not asked by every look
            await api.get(f"/api/mobile/{shop.id}/orders/{order_id}/tracking", token=member.token)
        assert fake_tracking.calls[cached] + fake_tracking.calls[fresh] == calls
    finally:
        fake_tracking.down = False


async def test_another_shops_or_members_order_is_404_and_an_unshipped_one_409(api, make_shop, make_member,
                                                                              fake_tracking):
    shop = await tracked_shop(api, make_shop, fake_tracking)
    other_shop = await tracked_shop(api, make_shop, fake_tracking)
    member, stranger = await make_member(shop.id), await make_member(shop.id)
    number = unique("SF")
    in_transit(fake_tracking, number)
    order_id = await shipped_order(api, shop, member, number)
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{order_id}/tracking", token=stranger.token)).status == 404
    foreign = await api.get(f"/api/merchant/orders/{order_id}/tracking", token=other_shop.owner_token)
    assert foreign.status == 404 and foreign.body["error"]["code"] == "not_found"
    unshipped = await placed_order(api, shop, member)
    refused = await api.get(f"/api/mobile/{shop.id}/orders/{unshipped}/tracking", token=member.token)
    assert refused.status == 409 and refused.body["error"]["code"] == "not_shipped"
    assert fake_tracking.calls[number] == 0


async def test_a_delivered_parcel_confirms_the_order_the_configured_days_after_delivery(
        api, make_shop, make_member, fake_tracking):
    shop = await tracked_shop(api, make_shop, fake_tracking, confirm_days_after_delivered=2)
    member = await make_member(shop.id)
    due, later = unique("YT"), unique("YT")
    now = utcnow()
    long_ago = now - datetime.timedelta(days=2, minutes=1)  # two days have passed since delivery
    recently = now - datetime.timedelta(hours=1)
    fake_tracking.set_route("yuantong", due, 3, [(long_ago, "已签收"), (long_ago - datetime.timedelta(days=1), "派送中")])
    fake_tracking.set_route("yuantong", later, 3, [(recently, "已签收")])
    due_order = await shipped_order(api, shop, member, due, company="圆通")
    later_order = await shipped_order(api, shop, member, later, company="圆通")

    for order_id in (due_order, later_order):
        tracked = await api.get(f"/api/mobile/{shop.id}/orders/{order_id}/tracking", token=member.token)
        assert tracked.status == 200 and tracked.body["delivered"] is True, tracked.body
    assert tracked.body["delivered_at"] == iso(recently)

    async def confirmed():
        order = (await api.get(f"/api/mobile/{shop.id}/orders/{due_order}", token=member.token)).body
        return order["status"] == 3
    await eventually(confirmed)  # the auto-confirm job, at the instant the rule set
    waiting = (await api.get(f"/api/mobile/{shop.id}/orders/{later_order}", token=member.token)).body
    assert waiting["status"] == 2 and waiting["auto_confirm_at"] == iso(recently + datetime.timedelta(days=2))
