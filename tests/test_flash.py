"""Flash sales (秒杀) through the real API on both backends: a crowd for a few units, the
per-member limit under concurrency, unpaid orders giving their units back live, the clock as the
only judge of start and end, editing rules, tenancy and bad input."""
from __future__ import annotations

import asyncio
import datetime
import time

from models.base import utcnow
from models.flash import FlashItem
from models.order import Order
from tests.builders import assert_invalid, buyer, eventually, fast_members, goods_with_skus, new_goods
from tests.conftest import MemberFixture
from tests.ws_client import WsClient


def _at(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _whole_second_ahead(seconds: float) -> datetime.datetime:
    """The first whole UTC second at least `seconds` from now."""
    moment = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(seconds=seconds)
    return moment.replace(microsecond=0) + datetime.timedelta(seconds=1)


async def _sleep_until(moment: datetime.datetime) -> None:
    """Sleep until `moment` (naive UTC) by the wall clock the server reads too."""
    target = moment.replace(tzinfo=datetime.timezone.utc).timestamp()
    await asyncio.sleep(max(0.0, target - time.time()))


async def _sale(api, shop, goods, *, starts_at=None, ends_at=None, stock=10, price_fen=100, limit=1,
                sku_id=None) -> dict:
    starts_at = starts_at or utcnow()
    ends_at = ends_at or starts_at + datetime.timedelta(hours=1)
    item = {"goods_id": goods["id"], "price_fen": price_fen, "stock": stock, "per_member_limit": limit}
    if sku_id is not None:
        item["sku_id"] = sku_id
    created = await api.post("/api/merchant/flash/sales", {"title": "整点秒杀", "starts_at": _at(starts_at),
                                                           "ends_at": _at(ends_at), "items": [item]},
                             token=shop.owner_token)
    assert created.status == 201, created.body
    return created.body


async def _buyers(api, shop, count: int) -> list[tuple[MemberFixture, int]]:
    members = await fast_members(shop.id, count)
    addresses = await asyncio.gather(*(buyer(api, shop, m) for m in members))
    return list(zip(members, addresses))


async def _buy(api, shop, sale, member, address_id, quantity=1, item_id=None):
    return await api.post(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}/orders",
                          {"item_id": item_id or sale["items"][0]["id"], "quantity": quantity,
                           "address_id": address_id}, token=member.token)


async def _goods_stock(api, shop, goods_id) -> int:
    return (await api.get(f"/api/merchant/goods/{goods_id}", token=shop.owner_token)).body["stock"]


async def _events_until(client: WsClient, last_type: str, timeout: float = 10.0) -> list[dict]:
    received = []
    while True:
        try:
            message = await client.recv(timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {last_type} within {timeout} s; received {received}") from None
        assert message is not None
        if message.get("op") == "event":
            received.append(message)
            if message["type"] == last_type:
                return received


async def test_two_hundred_buyers_for_ten_units(server, api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=9900, stock=50)
    people = await _buyers(api, shop, 200)
    start = _whole_second_ahead(1.5)
    sale = await _sale(api, shop, goods, starts_at=start, stock=10, price_fen=990)
    assert await _goods_stock(api, shop, goods["id"]) == 40  # the pool is carved out of the goods
    page = (await api.get(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}")).body
    assert page["status"] == "upcoming" and page["items"][0]["remaining"] == 10
    assert page["items"][0]["original_price_fen"] == 9900 and page["server_time"].endswith("Z")
    watcher = await WsClient.connect(server.port)
    subscribed = await watcher.subscribe(f"flash:{sale['id']}", since=page["channel"]["seq"],
                                         epoch=page["channel"]["epoch"])
    assert subscribed["op"] == "subscribed"

    await _sleep_until(start)
    answers = await asyncio.gather(*(_buy(api, shop, sale, m, a) for m, a in people))
    won = [r for r in answers if r.status == 201]
    lost = [r for r in answers if r.status != 201]
    assert len(won) == 10, [(r.status, r.body) for r in answers if r.status not in (201, 409)]
    assert {(r.status, r.body["error"]["code"]) for r in lost} == {(409, "sold_out")}
    assert {(r.body["total_fen"], r.body["items"][0]["price_fen"], r.body["flash_item_id"]) for r in won} == {
        (990, 990, sale["items"][0]["id"])}
    assert len({r.body["member_id"] for r in won}) == 10
    rows = await FlashItem.select().where(FlashItem.sale_id == sale["id"]).aio_execute()
    assert [(row.remaining, row.stock) for row in rows] == [(0, 10)]
    assert await Order.select().where(Order.flash_item_id == sale["items"][0]["id"]).aio_count() == 10
    assert await _goods_stock(api, shop, goods["id"]) == 40  # orders took the pool, not the goods again
    later = await _buy(api, shop, sale, *people[0])
    assert later.status == 409 and later.body["error"]["code"] == "sold_out"

    seen = await _events_until(watcher, "flash.sold_out")
    stock = [e["data"]["remaining"] for e in seen if e["type"] == "flash.stock"]
    assert stock and stock == sorted(stock, reverse=True) and stock[-1] == 0 and len(stock) <= 10
    assert seen[-1]["type"] == "flash.sold_out" and seen[-1]["data"] == {"item_id": sale["items"][0]["id"]}
    assert all(0 <= value < 10 for value in stock)
    stats = await eventually(lambda: _stats_with_refusals(api, shop, sale, 191))
    assert (stats["sold"], stats["awaiting_payment"], stats["buyers"], stats["revenue_fen"]) == (0, 10, 0, 0)
    watcher.close()


async def _stats_with_refusals(api, shop, sale, sold_out: int):
    stats = (await api.get(f"/api/merchant/flash/sales/{sale['id']}/stats", token=shop.owner_token)).body
    return stats if stats["refusals"]["sold_out"] == sold_out else None


async def test_per_member_limit_holds_with_two_tokens_at_once(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=20)
    sale = await _sale(api, shop, goods, stock=10, limit=2)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member)
    login = await api.post(f"/api/mobile/{shop.id}/auth/login", {"mobile": member.mobile, "password": "member-pass-1"})
    assert login.status == 200
    phone = MemberFixture(member.id, shop.id, member.mobile, login.body["token"])  # a second session (device)
    answers = await asyncio.gather(*(_buy(api, shop, sale, who, address_id) for who in [member, phone] * 6))
    assert sorted(r.status for r in answers) == [201] * 2 + [409] * 10
    assert {r.body["error"]["code"] for r in answers if r.status == 409} == {"limit_reached"}
    too_many = await _buy(api, shop, sale, *(await _buyers(api, shop, 1))[0], quantity=3)
    assert too_many.status == 409 and too_many.body["error"]["code"] == "limit_reached"
    remaining = (await api.get(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}")).body["items"][0]["remaining"]
    assert remaining == 8
    # a cancelled order no longer counts toward the limit
    order_id = next(r.body["id"] for r in answers if r.status == 201)
    cancelled = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/cancel", token=member.token)
    assert cancelled.status == 200
    again = await _buy(api, shop, sale, member, address_id)
    assert again.status == 201, again.body


async def test_unpaid_flash_order_gives_its_unit_back_live(server, api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=5)
    sale = await _sale(api, shop, goods, stock=1, price_fen=500)
    (first, first_address), (second, second_address) = await _buyers(api, shop, 2)
    page = (await api.get(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}")).body
    assert page["status"] == "running"
    watcher = await WsClient.connect(server.port)
    await watcher.subscribe(f"flash:{sale['id']}", since=page["channel"]["seq"], epoch=page["channel"]["epoch"])

    won = await _buy(api, shop, sale, first, first_address)
    assert won.status == 201 and won.body["status"] == 0
    created = datetime.datetime.strptime(won.body["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    expires = datetime.datetime.strptime(won.body["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires - created == datetime.timedelta(minutes=5)  # the shop's flash payment window, not 30 min
    refused = await _buy(api, shop, sale, second, second_address)
    assert refused.status == 409 and refused.body["error"]["code"] == "sold_out"
    assert [(e["type"], e["data"].get("remaining")) for e in await _events_until(watcher, "flash.sold_out")] == [
        ("flash.stock", 0), ("flash.sold_out", None)]

    # the payment window passes (the deadline is state; the job applies it)
    await Order.update(expires_at=utcnow() - datetime.timedelta(seconds=1)).where(
        Order.id == won.body["id"]).aio_execute()
    back = await watcher.recv(10)
    assert (back["type"], back["data"]) == ("flash.stock", {"item_id": sale["items"][0]["id"], "remaining": 1})
    order = (await api.get(f"/api/mobile/{shop.id}/orders/{won.body['id']}", token=first.token)).body
    assert (order["status"], order["cancel_reason"]) == (-1, "payment_timeout")
    assert await _goods_stock(api, shop, goods["id"]) == 4  # the unit went back to the pool, not the goods
    retried = await _buy(api, shop, sale, second, second_address)  # the sold-out mark was dropped
    assert retried.status == 201, retried.body
    topped = await api.post(f"/api/merchant/members/{second.id}/balance", {"delta_fen": 500}, token=shop.owner_token)
    assert topped.status == 200
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{retried.body['id']}/pay", {"method": "balance"},
                          token=second.token)
    assert paid.status == 200, paid.body
    stats = (await api.get(f"/api/merchant/flash/sales/{sale['id']}/stats", token=shop.owner_token)).body
    assert (stats["sold"], stats["awaiting_payment"], stats["buyers"], stats["revenue_fen"]) == (1, 0, 1, 500)
    assert stats["refusals"]["sold_out"] == 1
    watcher.close()


async def test_sale_end_gives_the_pool_back_and_late_cancels_go_to_the_goods(server, api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=10)
    ends = _whole_second_ahead(1.5)
    sale = await _sale(api, shop, goods, starts_at=utcnow(), ends_at=ends, stock=3)
    (member, address_id), = await _buyers(api, shop, 1)
    won = await _buy(api, shop, sale, member, address_id)
    assert won.status == 201
    assert await _goods_stock(api, shop, goods["id"]) == 7
    watcher = await WsClient.connect(server.port)
    await watcher.subscribe(f"flash:{sale['id']}")
    await _sleep_until(ends)
    late = await _buy(api, shop, sale, *(await _buyers(api, shop, 1))[0])
    assert late.status == 409 and late.body["error"]["code"] == "ended"
    page = (await api.get(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}")).body
    assert page["status"] == "ended"
    assert (await watcher.recv_op("event"))["type"] == "flash.ended"
    assert await _goods_stock(api, shop, goods["id"]) == 9  # the 2 units left in the pool
    cancelled = await api.post(f"/api/mobile/{shop.id}/orders/{won.body['id']}/cancel", token=member.token)
    assert cancelled.status == 200
    assert await _goods_stock(api, shop, goods["id"]) == 10  # after the end, to the goods; never twice
    item = await FlashItem.aio_get(FlashItem.id == sale["items"][0]["id"])
    assert (item.remaining, item.settled) == (0, True)
    listed = (await api.get(f"/api/mobile/{shop.id}/flash/sales")).body
    assert sale["id"] not in [s["id"] for s in listed["items"]] and listed["server_time"]
    watcher.close()


async def test_times_are_enforced_by_the_clock_to_fifty_milliseconds(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=10)
    start = _whole_second_ahead(1.5)
    end = start + datetime.timedelta(seconds=2)
    sale = await _sale(api, shop, goods, starts_at=start, ends_at=end, stock=5)
    (early, early_address), (on_time, on_time_address), (late, late_address) = await _buyers(api, shop, 3)
    margin = datetime.timedelta(milliseconds=50)
    # a request only ever lands later than sent: the "after" sides hold at 50 ms; the "before" sides
    # keep 300 ms so that a slow loopback answer on a busy machine does not carry them past the instant
    before = datetime.timedelta(milliseconds=300)

    await _sleep_until(start - before)
    refused = await _buy(api, shop, sale, early, early_address)
    assert refused.status == 409 and refused.body["error"]["code"] == "not_started", refused.body
    await _sleep_until(start + margin)
    assert (await _buy(api, shop, sale, early, early_address)).status == 201
    await _sleep_until(end - before)
    assert (await _buy(api, shop, sale, on_time, on_time_address)).status == 201
    await _sleep_until(end + margin)
    ended = await _buy(api, shop, sale, late, late_address)
    assert ended.status == 409 and ended.body["error"]["code"] == "ended", ended.body


async def test_editing_is_refused_once_the_sale_starts_but_stock_may_be_added(server, api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=20)
    start = _whole_second_ahead(2)
    sale = await _sale(api, shop, goods, starts_at=start, stock=5)
    item_id = sale["items"][0]["id"]
    path = f"/api/merchant/flash/sales/{sale['id']}"
    before = await api.patch(path, {"title": "午夜秒杀", "ends_at": _at(start + datetime.timedelta(hours=2)),
                                    "items": [{"id": item_id, "price_fen": 80, "stock": 7, "per_member_limit": 2}]},
                             token=shop.owner_token)
    assert before.status == 200, before.body
    assert (before.body["title"], before.body["items"][0]["price_fen"], before.body["items"][0]["stock"]) == (
        "午夜秒杀", 80, 7)
    assert await _goods_stock(api, shop, goods["id"]) == 13
    shrunk = await api.patch(path, {"items": [{"id": item_id, "stock": 4}]}, token=shop.owner_token)
    assert shrunk.status == 200 and shrunk.body["items"][0]["remaining"] == 4
    assert await _goods_stock(api, shop, goods["id"]) == 16

    await _sleep_until(start)
    watcher = await WsClient.connect(server.port)
    await watcher.subscribe(f"flash:{sale['id']}")
    for change in ({"items": [{"id": item_id, "price_fen": 50}]}, {"items": [{"id": item_id, "stock": 3}]},
                   {"items": [{"id": item_id, "per_member_limit": 5}]}, {"starts_at": _at(start)},
                   {"ends_at": _at(start + datetime.timedelta(hours=3))}):
        refused = await api.patch(path, change, token=shop.owner_token)
        assert refused.status == 409 and refused.body["error"]["code"] == "sale_started", (change, refused.body)
    added = await api.patch(path, {"title": "加量秒杀", "items": [{"id": item_id, "stock": 6}]}, token=shop.owner_token)
    assert added.status == 200, added.body
    assert (added.body["items"][0]["stock"], added.body["items"][0]["remaining"]) == (6, 6)
    assert await _goods_stock(api, shop, goods["id"]) == 14
    event = (await _events_until(watcher, "flash.stock"))[-1]  # (after flash.started, if the start came later)
    assert event["data"] == {"item_id": item_id, "remaining": 6}
    deleted = await api.delete(path, token=shop.owner_token)
    assert deleted.status == 204
    assert await _goods_stock(api, shop, goods["id"]) == 20  # ended now: the pool went back
    assert (await api.get(path, token=shop.owner_token)).status == 404
    watcher.close()


async def test_another_shops_sales_are_not_found(api, make_shop):
    shop, other = await make_shop(), await make_shop()
    goods = await new_goods(api, shop)
    sale = await _sale(api, shop, goods, stock=2)
    path = f"/api/merchant/flash/sales/{sale['id']}"
    for method, body in (("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)):
        assert (await api.call(method, path, body, token=other.owner_token)).status == 404
    assert (await api.get(path + "/stats", token=other.owner_token)).status == 404
    assert (await api.get(f"/api/mobile/{other.id}/flash/sales/{sale['id']}")).status == 404
    (stranger, address_id), = await _buyers(api, other, 1)
    foreign = await api.post(f"/api/mobile/{other.id}/flash/sales/{sale['id']}/orders",
                             {"item_id": sale["items"][0]["id"], "address_id": address_id}, token=stranger.token)
    assert foreign.status == 404
    own_goods = await new_goods(api, other)
    own_sale = await _sale(api, other, own_goods, stock=1)
    wrong_item = await _buy(api, other, own_sale, stranger, address_id, item_id=sale["items"][0]["id"])
    assert wrong_item.status == 404
    assert (await api.get(f"/api/merchant/flash/sales/{own_sale['id']}", token=other.owner_token)).status == 200


async def test_bad_input_is_refused_naming_the_field(api, make_shop):
    shop, other = await make_shop(), await make_shop()
    goods = await new_goods(api, shop, stock=3)
    tee = await goods_with_skus(api, shop, {"尺码": ["M", "L"]}, stock=2)
    foreign = await new_goods(api, other)
    now = utcnow()
    base = {"title": "秒杀", "starts_at": _at(now), "ends_at": _at(now + datetime.timedelta(hours=1))}

    def body(**item):
        return {**base, "items": [{"goods_id": goods["id"], "price_fen": 100, "stock": 1, "per_member_limit": 1,
                                   **item}]}
    url = "/api/merchant/flash/sales"
    assert_invalid(await api.post(url, {**base, "items": []}, token=shop.owner_token), "items")
    assert_invalid(await api.post(url, body(price_fen=0), token=shop.owner_token), "items.0.price_fen")
    assert_invalid(await api.post(url, body(stock=0), token=shop.owner_token), "items.0.stock")
    assert_invalid(await api.post(url, body(goods_id=foreign["id"]), token=shop.owner_token), "items.0.goods_id")
    assert_invalid(await api.post(url, body(goods_id=tee["id"]), token=shop.owner_token), "items.0.sku_id")
    assert_invalid(await api.post(url, {**body(), "ends_at": _at(now - datetime.timedelta(hours=1))},
                                  token=shop.owner_token), "ends_at")
    assert_invalid(await api.post(url, {**body(), "starts_at": "soon"}, token=shop.owner_token), "starts_at")
    short = await api.post(url, body(stock=4), token=shop.owner_token)  # the goods has 3
    assert short.status == 409 and short.body["error"]["code"] == "out_of_stock"
    assert await _goods_stock(api, shop, goods["id"]) == 3
    assert (await api.get(url, token=shop.owner_token)).body["total"] == 0  # nothing half-created
    sku_sale = await api.post(url, body(goods_id=tee["id"], sku_id=tee["skus"][0]["id"], stock=2),
                              token=shop.owner_token)
    assert sku_sale.status == 201, sku_sale.body
    sale = sku_sale.body
    assert_invalid(await api.patch(f"{url}/{sale['id']}", {"items": [{"id": 10**9, "price_fen": 5}]},
                                   token=shop.owner_token), "items.0.id")
    (member, address_id), = await _buyers(api, shop, 1)
    assert_invalid(await _buy(api, shop, sale, member, address_id, quantity=0), "quantity")
    bought = await _buy(api, shop, sale, member, address_id)
    assert bought.status == 201 and bought.body["items"][0]["sku_id"] == tee["skus"][0]["id"]
    anonymous = await api.post(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}/orders",
                               {"item_id": sale["items"][0]["id"], "address_id": address_id})
    assert anonymous.status == 401


async def test_an_exchanged_flash_unit_does_not_sell_the_pool_twice(api, make_shop):
    """Review defect: an exchange of a flash order puts the returned unit back into the flash pool
    (receive) while the replacement is taken from the goods (reship), so a pool of 1 sells 2 units
    at the flash price and the goods lose a unit they never sold."""
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=5000, stock=5)
    sale = await _sale(api, shop, goods, stock=1, limit=1)
    (first, first_address), (second, second_address) = await _buyers(api, shop, 2)
    await buyer(api, shop, first, balance_fen=10_000)
    won = await _buy(api, shop, sale, first, first_address)
    assert won.status == 201, won.body
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{won.body['id']}/pay", {"method": "balance"},
                          token=first.token)
    assert paid.status == 200, paid.body
    shipped = await api.post(f"/api/merchant/orders/{won.body['id']}/ship", {"express_company": "SF", "express_no": "SF1"},
                             token=shop.owner_token)
    assert shipped.status == 200, shipped.body
    asked = await api.post(f"/api/mobile/{shop.id}/orders/{won.body['id']}/aftersales",
                           {"type": "exchange", "items": [{"order_item_id": won.body["items"][0]["id"], "quantity": 1}],
                            "reason": "尺码不对"}, token=first.token)
    assert asked.status == 201, asked.body
    approved = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/approve", {"return_address": {
        "name": "售后部", "mobile": "02100000000", "province": "上海市", "city": "上海市", "district": "徐汇区",
        "detail": "漕溪北路 1 号"}}, token=shop.owner_token)
    assert approved.status == 200, approved.body
    back = await api.post(f"/api/mobile/{shop.id}/aftersales/{asked.body['id']}/ship",
                          {"express_company": "YTO", "express_no": "YT9"}, token=first.token)
    assert back.status == 200, back.body
    received = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/receive", {}, token=shop.owner_token)
    assert received.status == 200, received.body
    reshipped = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/reship",
                               {"express_company": "SF", "express_no": "SF77"}, token=shop.owner_token)
    assert reshipped.status == 200, reshipped.body
    # the first member still holds the one flash unit: the pool of 1 has nothing left to sell
    again = await _buy(api, shop, sale, second, second_address)
    assert again.status == 409 and again.body["error"]["code"] == "sold_out", again.body
    page = (await api.get(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}")).body
    assert page["items"][0]["remaining"] == 0
    # one unit left the shop for good (the replacement): 5 - 1
    assert await _goods_stock(api, shop, goods["id"]) + page["items"][0]["remaining"] == 4
