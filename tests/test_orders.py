"""Orders through the real API on both backends: pricing, the status machine with live events,
stock races, refunds, timed jobs."""
from __future__ import annotations

import asyncio
import datetime

from models.base import utcnow
from models.order import Order
from services import orders as order_service
from tests.builders import ADDRESS, assert_invalid, buyer, fast_members, goods_with_skus, new_goods
from tests.ws_client import WsClient


async def test_preview_prices_exactly_like_the_order(api, make_shop, make_member):
    shop = await make_shop()
    await api.patch("/api/merchant/settings", {"order": {"shipping_fee_fen": 800}}, token=shop.owner_token)
    level = (await api.post("/api/merchant/levels", {"name": "VIP", "discount_percent": 95},
                            token=shop.owner_token)).body
    tea = await new_goods(api, shop, price_fen=1999)
    shirt = await new_goods(api, shop, title="Shirt", specs=[{"name": "尺码", "values": ["M", "L"]}],
                            skus=[{"spec_values": ["M"], "price_fen": 5000, "stock": 3},
                                  {"spec_values": ["L"], "price_fen": 5500, "stock": 3}])
    member = await make_member(shop.id)
    await api.patch(f"/api/merchant/members/{member.id}", {"level_id": level["id"]}, token=shop.owner_token)
    address_id = await buyer(api, shop, member)
    items = [{"goods_id": tea["id"], "quantity": 3}, {"goods_id": shirt["id"], "sku_id": shirt["skus"][1]["id"],
                                                      "quantity": 1}, {"goods_id": tea["id"], "quantity": 1}]
    preview = await api.post(f"/api/mobile/{shop.id}/orders/preview", {"items": items}, token=member.token)
    assert preview.status == 200, preview.body
    goods_total = 1999 * 4 + 5500  # 13496
    level_discount = goods_total - (goods_total * 95 + 50) // 100  # pay 12821 -> discount 675
    assert preview.body["goods_total_fen"] == goods_total
    assert preview.body["level_discount_fen"] == level_discount == 675
    assert preview.body["shipping_fee_fen"] == 800
    assert preview.body["total_fen"] == goods_total - level_discount + 800
    assert [(line["goods_id"], line["quantity"]) for line in preview.body["lines"]] == [(tea["id"], 4), (shirt["id"], 1)]
    order = await api.post(f"/api/mobile/{shop.id}/orders", {"items": items, "address_id": address_id,
                                                             "remark": "尽快发货"}, token=member.token)
    assert order.status == 201, order.body
    for key in ("goods_total_fen", "level_discount_fen", "shipping_fee_fen", "total_fen"):
        assert order.body[key] == preview.body[key]
    assert order.body["status"] == 0 and order.body["address"]["detail"] == ADDRESS["detail"]
    assert order.body["items"][1]["sku_title"] == "L" and len(order.body["order_no"]) == 26
    # the answer to the POST is rendered without reading the order back: it must be what a GET shows
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{order.body['id']}", token=member.token)).body == order.body
    unknown_coupon = await api.post(f"/api/mobile/{shop.id}/orders/preview", {"items": items, "coupon_id": 5},
                                    token=member.token)
    assert unknown_coupon.status == 422 and unknown_coupon.body["error"]["code"] == "coupon_unavailable"
    assert unknown_coupon.body["error"]["details"]["coupon_id"] == 5, unknown_coupon.body


async def test_full_flow_with_live_events(server, api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=2500, stock=5)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    member_ws = await WsClient.connect(server.port, member.token)
    await member_ws.recv_op("authenticated")
    assert (await member_ws.subscribe(f"member:{member.id}"))["op"] == "subscribed"
    shop_ws = await WsClient.connect(server.port, shop.owner_token)
    await shop_ws.recv_op("authenticated")
    assert (await shop_ws.subscribe(f"shop:{shop.id}:orders"))["op"] == "subscribed"

    created = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 2}],
                                                               "address_id": address_id}, token=member.token)
    order_id = created.body["id"]
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/pay", {"method": "balance"}, token=member.token)
    assert paid.status == 200 and paid.body["status"] == 1 and paid.body["pay_method"] == "balance"
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["balance_fen"] == 10000 - 5000
    again = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/pay", {"method": "balance"}, token=member.token)
    assert again.status == 409 and again.body["error"]["code"] == "invalid_state"
    early = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/confirm", token=member.token)
    assert early.status == 409
    shipped = await api.post(f"/api/merchant/orders/{order_id}/ship", {"express_company": "顺丰", "express_no": "SF123"},
                             token=shop.owner_token)
    assert shipped.status == 200 and shipped.body["status"] == 2 and shipped.body["auto_confirm_at"]
    done = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/confirm", token=member.token)
    assert done.status == 200 and done.body["status"] == 3

    statuses = [(await member_ws.recv())["data"] for _ in range(4)]
    assert [(e["previous_status"], e["status"]) for e in statuses] == [(None, 0), (0, 1), (1, 2), (2, 3)]
    shop_events = [(await shop_ws.recv()) for _ in range(2)]
    assert [e["type"] for e in shop_events] == ["order.created", "order.paid"]
    assert [e["seq"] for e in shop_events] == [1, 2]
    assert await member_ws.nothing_within(0.3) and await shop_ws.nothing_within(0.01)

    detail = await api.get(f"/api/merchant/orders/{order_id}", token=shop.owner_token)
    assert [log["action"] for log in detail.body["logs"]] == ["create", "pay", "ship", "confirm"]
    me = (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body
    assert me["points"] == 50  # 1 point per yuan paid, on completion
    goods_after = (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body
    assert (goods_after["stock"], goods_after["sales"]) == (3, 2)
    member_ws.close()
    shop_ws.close()


async def test_fifty_buyers_race_for_five_units(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=5)
    buyers = await fast_members(shop.id, 50)
    addresses = [await buyer(api, shop, m) for m in buyers]
    results = await asyncio.gather(*(
        api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                   "address_id": address_id}, token=m.token)
        for m, address_id in zip(buyers, addresses)))
    statuses = [r.status for r in results]
    assert statuses.count(201) == 5 and statuses.count(409) == 45, sorted(set(statuses))
    assert {r.body["error"]["code"] for r in results if r.status == 409} == {"out_of_stock"}
    after = (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body
    assert after["stock"] == 0
    orders = (await api.get("/api/merchant/orders?page_size=100", token=shop.owner_token)).body
    assert orders["total"] == 5 and sum(i["quantity"] for o in orders["items"] for i in o["items"]) == 5


async def test_orders_placed_together_each_take_all_their_lines_or_nothing(api, make_shop, admin_token):
    """Concurrent orders share transactions (group commit); stock, ledger and answers are still
    each order's own: scarce lines decide which orders go through, in full or not at all."""
    shop = await make_shop()
    scarce, plenty = await new_goods(api, shop, title="Scarce", stock=3), await new_goods(api, shop, title="Plenty", stock=100)
    sized = await goods_with_skus(api, shop, {"尺码": ["M", "L"]}, stock=10)
    small, large = sized["skus"]
    cut = await api.post(f"/api/merchant/goods/{sized['id']}/stock", {"sku_id": small["id"], "delta": -8},
                         token=shop.owner_token)
    assert cut.status == 200 and cut.body["stock"] == 2
    carts = [[{"goods_id": scarce["id"], "quantity": 1}, {"goods_id": plenty["id"], "quantity": 1}],
             [{"goods_id": sized["id"], "sku_id": small["id"], "quantity": 1}, {"goods_id": plenty["id"], "quantity": 1}],
             [{"goods_id": plenty["id"], "quantity": 2}]]
    buyers = await fast_members(shop.id, 30)
    addresses = [await buyer(api, shop, m) for m in buyers]
    before = (await api.get("/api/admin/metrics", token=admin_token)).body["orders_group_commit"]
    foreign_address = api.post(f"/api/mobile/{shop.id}/orders", {"items": carts[2], "address_id": addresses[1]},
                               token=buyers[0].token)  # another member's address, in the same rush
    results = await asyncio.gather(*(
        api.post(f"/api/mobile/{shop.id}/orders", {"items": carts[n % 3], "address_id": address_id}, token=m.token)
        for n, (m, address_id) in enumerate(zip(buyers, addresses))), foreign_address)
    results, foreign = results[:-1], results[-1]
    assert foreign.status == 404 and foreign.body["error"]["code"] == "not_found", foreign.body
    placed = [r.body for r in results if r.status == 201]
    refused = [r.body["error"] for r in results if r.status != 201]
    kinds = [tuple(sorted(i["goods_id"] for i in order["items"])) for order in placed]
    assert kinds.count(tuple(sorted((scarce["id"], plenty["id"])))) == 3
    assert kinds.count(tuple(sorted((sized["id"], plenty["id"])))) == 2
    assert kinds.count((plenty["id"],)) == 10
    assert len(refused) == 15 and {e["code"] for e in refused} == {"out_of_stock"}
    stock = {g: (await api.get(f"/api/merchant/goods/{g}", token=shop.owner_token)).body
             for g in (scarce["id"], plenty["id"], sized["id"])}
    assert stock[scarce["id"]]["stock"] == 0 and stock[plenty["id"]]["stock"] == 100 - 3 - 2 - 20
    assert {s["id"]: s["stock"] for s in stock[sized["id"]]["skus"]} == {small["id"]: 0, large["id"]: 10}
    ledger = (await api.get(f"/api/merchant/goods/{plenty['id']}/stock-ledger?page_size=100",
                            token=shop.owner_token)).body["items"][::-1]
    orders = [row for row in ledger if row["reason"] == "order"]
    assert sum(row["delta"] for row in orders) == -25 and orders[-1]["stock_after"] == 75
    assert all(b["stock_after"] == a["stock_after"] + b["delta"] for a, b in zip(orders, orders[1:]))
    assert sorted(row["reference"] for row in orders) == sorted(o["order_no"] for o in placed)
    for order in placed:  # each answer is that order as stored, its lines with their ids
        stored = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=next(
            m.token for m in buyers if m.id == order["member_id"]))).body
        assert [i["id"] for i in stored["items"]] == [i["id"] for i in order["items"]]
        assert stored["order_no"] == order["order_no"] and stored["total_fen"] == order["total_fen"]
    after = (await api.get("/api/admin/metrics", token=admin_token)).body["orders_group_commit"]
    assert after["orders"] - before["orders"] == 31
    assert after["batches"] - before["batches"] < 31  # they did share transactions


async def test_an_order_takes_all_lines_or_nothing(api, make_shop, make_member):
    shop = await make_shop()
    plenty, scarce = await new_goods(api, shop, stock=10), await new_goods(api, shop, title="Scarce", stock=1)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member)
    failed = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [
        {"goods_id": plenty["id"], "quantity": 3}, {"goods_id": scarce["id"], "quantity": 2}],
        "address_id": address_id}, token=member.token)
    assert failed.status == 409
    assert (await api.get(f"/api/merchant/goods/{plenty['id']}", token=shop.owner_token)).body["stock"] == 10
    assert (await api.get("/api/merchant/orders", token=shop.owner_token)).body["total"] == 0


async def test_concurrent_pays_debit_once(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=3000)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=member.token)).body
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "balance"},
                                              token=member.token) for _ in range(10)))
    assert sorted(r.status for r in results) == [200] + [409] * 9
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["balance_fen"] == 7000
    poor = await make_member(shop.id)
    poor_address = await buyer(api, shop, poor, balance_fen=100)
    poor_order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                                   "address_id": poor_address}, token=poor.token)).body
    short = await api.post(f"/api/mobile/{shop.id}/orders/{poor_order['id']}/pay", {"method": "balance"}, token=poor.token)
    assert short.status == 409 and short.body["error"]["code"] == "insufficient_balance"
    still = (await api.get(f"/api/mobile/{shop.id}/orders/{poor_order['id']}", token=poor.token)).body
    assert still["status"] == 0 and (await api.get(f"/api/mobile/{shop.id}/me", token=poor.token)).body["balance_fen"] == 100


async def test_idempotent_order_creation(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=10)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member)
    body = {"items": [{"goods_id": goods["id"], "quantity": 2}], "address_id": address_id}
    key = {"Idempotency-Key": f"checkout-{member.id}"}
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/orders", body, token=member.token, headers=key)
                                     for _ in range(4)))
    assert all(r.status == 201 for r in results) and len({r.body["id"] for r in results}) == 1
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 8


async def test_cancel_returns_stock_once_even_with_two_job_runners(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=10)
    members = [await make_member(shop.id) for _ in range(3)]
    order_ids = []
    for member in members:
        address_id = await buyer(api, shop, member)
        created = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 2}],
                                                                   "address_id": address_id}, token=member.token)
        order_ids.append(created.body["id"])
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 4
    # member cancels the first one; the deadline of the other two passes
    cancelled = await api.post(f"/api/mobile/{shop.id}/orders/{order_ids[0]}/cancel", token=members[0].token)
    assert cancelled.status == 200 and cancelled.body["status"] == -1
    assert (await api.post(f"/api/mobile/{shop.id}/orders/{order_ids[0]}/cancel", token=members[0].token)).status == 409
    await Order.update(expires_at=utcnow() - datetime.timedelta(minutes=1)).where(Order.id.in_(order_ids[1:])).aio_execute()
    late = await api.post(f"/api/mobile/{shop.id}/orders/{order_ids[1]}/pay", {"method": "balance"}, token=members[1].token)
    # refused: past its deadline, or already cancelled by the server's own job run (every 0.5 s here)
    assert late.status == 409 and late.body["error"]["code"] in ("order_expired", "invalid_state"), late.body
    # two job runners at once, besides the server's own periodic run: each order is cancelled once
    first, second = await asyncio.gather(order_service.cancel_expired_orders(), order_service.cancel_expired_orders())
    assert first + second <= 2
    for order_id in order_ids[1:]:
        detail = (await api.get(f"/api/merchant/orders/{order_id}", token=shop.owner_token)).body
        assert detail["status"] == -1 and detail["cancel_reason"] == "payment_timeout"
        assert [log["action"] for log in detail["logs"]].count("cancel") == 1
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 10
    ledger = (await api.get(f"/api/merchant/goods/{goods['id']}/stock-ledger?page_size=100", token=shop.owner_token)).body
    assert [row["reason"] for row in ledger["items"]].count("release") == 3


async def test_auto_confirm_job_completes_shipped_orders(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member, balance_fen=5000)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=member.token)).body
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "balance"}, token=member.token)
    await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "EMS", "express_no": "E1"},
                   token=shop.owner_token)
    await Order.update(auto_confirm_at=utcnow() - datetime.timedelta(seconds=1)).where(Order.id == order["id"]).aio_execute()
    await asyncio.gather(order_service.auto_confirm_orders(), order_service.auto_confirm_orders())
    detail = (await api.get(f"/api/merchant/orders/{order['id']}", token=shop.owner_token)).body
    assert detail["status"] == 3 and [log["actor"] for log in detail["logs"]][-1] == "system"
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["points"] == 10


async def test_refund_to_balance_exactly_once(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1500, stock=4)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member, balance_fen=3000)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 2}],
                                                              "address_id": address_id}, token=member.token)).body
    unpaid_refund = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "x"}, token=member.token)
    assert unpaid_refund.status == 409
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "balance"}, token=member.token)
    requested = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "不想要了"},
                               token=member.token)
    assert requested.status == 200 and requested.body["refund_status"] == "none"
    assert [a["status"] for a in requested.body["aftersales"]] == ["requested"]  # the request lives on its after-sale
    blocked = await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "EMS", "express_no": "E2"},
                             token=shop.owner_token)
    assert blocked.status == 409  # no shipping while a refund is pending
    approvals = await asyncio.gather(*(api.post(f"/api/merchant/orders/{order['id']}/refund/approve",
                                                token=shop.owner_token) for _ in range(5)))
    assert sorted(r.status for r in approvals) == [200] + [409] * 4
    final = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (final["status"], final["refund_status"], final["refunded_fen"]) == (-1, "full", 3000)
    assert [a["status"] for a in final["aftersales"]] == ["refunded"]
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["balance_fen"] == 3000
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 4


async def test_refund_rejection_and_merchant_edits(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member, balance_fen=5000)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=member.token)).body
    repriced = await api.post(f"/api/merchant/orders/{order['id']}/price", {"total_fen": 800}, token=shop.owner_token)
    assert repriced.status == 200 and repriced.body["total_fen"] == 800 and repriced.body["price_adjustment_fen"] == -200
    assert repriced.body["logs"][-1]["note"] == '{"before_fen": 1000, "after_fen": 800}'
    assert_invalid(await api.post(f"/api/merchant/orders/{order['id']}/price", {"total_fen": 0}, token=shop.owner_token),
                   "total_fen")
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "balance"}, token=member.token)
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["balance_fen"] == 4200
    assert (await api.post(f"/api/merchant/orders/{order['id']}/price", {"total_fen": 500},
                           token=shop.owner_token)).status == 409
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "坏了"}, token=member.token)
    rejected = await api.post(f"/api/merchant/orders/{order['id']}/refund/reject", {"reason": "已超过质保"},
                              token=shop.owner_token)
    assert rejected.status == 200 and rejected.body["refund_status"] == "none" and rejected.body["status"] == 1
    assert [(a["status"], a["reject_reason"]) for a in rejected.body["aftersales"]] == [("rejected", "已超过质保")]
    remark = await api.post(f"/api/merchant/orders/{order['id']}/remark", {"remark": "VIP"}, token=shop.owner_token)
    assert remark.body["merchant_remark"] == "VIP"
    assert (await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "EMS", "express_no": "E3"},
                           token=shop.owner_token)).status == 200


async def test_orders_are_private_to_member_and_shop(api, make_shop, make_member):
    shop_a, shop_b = await make_shop(), await make_shop()
    goods = await new_goods(api, shop_a)
    owner, stranger = await make_member(shop_a.id), await make_member(shop_a.id)
    address_id = await buyer(api, shop_a, owner)
    order = (await api.post(f"/api/mobile/{shop_a.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                                "address_id": address_id}, token=owner.token)).body
    assert (await api.get(f"/api/mobile/{shop_a.id}/orders/{order['id']}", token=stranger.token)).status == 404
    assert (await api.post(f"/api/mobile/{shop_a.id}/orders/{order['id']}/cancel", token=stranger.token)).status == 404
    assert (await api.get(f"/api/merchant/orders/{order['id']}", token=shop_b.owner_token)).status == 404
    assert (await api.post(f"/api/merchant/orders/{order['id']}/close", token=shop_b.owner_token)).status == 404
    stolen_address = await api.post(f"/api/mobile/{shop_a.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                                         "address_id": address_id}, token=stranger.token)
    assert stolen_address.status == 404
    assert (await api.get(f"/api/mobile/{shop_a.id}/orders/{order['id']}", token=owner.token)).body["status"] == 0
    closed = await api.post(f"/api/merchant/orders/{order['id']}/close", token=shop_a.owner_token)
    assert closed.status == 200 and closed.body["status"] == -1


async def test_purchase_limit_and_blacklist(api, make_shop, make_member):
    shop = await make_shop()
    limited = await new_goods(api, shop, purchase_limit=2)
    member = await make_member(shop.id)
    address_id = await buyer(api, shop, member)

    async def order(quantity):
        return await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": limited["id"], "quantity": quantity}],
                                                                "address_id": address_id}, token=member.token)
    assert (await order(3)).status == 409
    results = await asyncio.gather(order(1), order(1), order(1))
    assert sorted(r.status for r in results) == [201, 201, 409]
    await api.patch(f"/api/merchant/members/{member.id}", {"is_blacklisted": True}, token=shop.owner_token)
    other = await new_goods(api, shop, title="Other")
    refused = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": other["id"], "quantity": 1}],
                                                               "address_id": address_id}, token=member.token)
    assert refused.status == 403 and refused.body["error"]["code"] == "member_blacklisted"


async def test_cart(api, make_shop, make_member):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=3)
    member = await make_member(shop.id)
    path = f"/api/mobile/{shop.id}/cart"
    assert (await api.post(path, {"goods_id": goods["id"], "quantity": 2}, token=member.token)).status == 201
    too_many = await api.post(path, {"goods_id": goods["id"], "quantity": 2}, token=member.token)
    assert too_many.status == 409  # 4 > stock 3
    cart = (await api.get(path, token=member.token)).body["items"]
    assert [(i["goods_id"], i["quantity"], i["available"]) for i in cart] == [(goods["id"], 2, True)]
    item_id = cart[0]["id"]
    assert (await api.patch(f"{path}/{item_id}", {"quantity": 3}, token=member.token)).body["items"][0]["quantity"] == 3
    await api.post("/api/merchant/goods/shelf", {"ids": [goods["id"]], "status": "off_sale"}, token=shop.owner_token)
    assert (await api.get(path, token=member.token)).body["items"][0]["available"] is False
    other = await make_member(shop.id)
    assert (await api.delete(f"{path}/{item_id}", token=other.token)).status == 404
    assert (await api.delete(f"{path}/{item_id}", token=member.token)).status == 204
    assert (await api.get(path, token=member.token)).body["items"] == []




async def _complete_then_refund(api, shop, member, address_id, goods, quantity=1) -> dict:
    order = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": quantity}],
                                                             "address_id": address_id}, token=member.token)
    assert order.status == 201, order.body
    order_id = order.body["id"]
    assert (await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/pay", {"method": "balance"},
                           token=member.token)).status == 200
    assert (await api.post(f"/api/merchant/orders/{order_id}/ship", {"express_company": "SF", "express_no": "S1"},
                           token=shop.owner_token)).status == 200
    assert (await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/confirm", token=member.token)).status == 200
    return order.body


async def _refund(api, shop, member, order_id):
    requested = await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/refund", {"reason": "退货"}, token=member.token)
    assert requested.status == 200, requested.body
    return await api.post(f"/api/merchant/orders/{order_id}/refund/approve", token=shop.owner_token)


async def test_refund_of_a_completed_order_takes_back_what_completing_it_earned(api, make_shop):
    """Pay -> ship -> confirm -> refund, three times: the balance comes back and so does nothing
    else — no points left, spending back to 0, level back to the base, commission reversed."""
    shop = await make_shop()
    await api.patch("/api/merchant/settings", {
        "points": {"points_per_yuan": 100},
        "distribution": {"enabled": True, "levels": 1, "rates_bp": [1000], "auto_approve": True}},
        token=shop.owner_token)
    vip = (await api.post("/api/merchant/levels", {"name": "VIP", "threshold_fen": 5000, "discount_percent": 80},
                          token=shop.owner_token)).body
    goods = await new_goods(api, shop, price_fen=5200, stock=10)
    referrer, member = await fast_members(shop.id, 2)
    assert (await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": "赵六", "mobile": "13800000002"},
                           token=referrer.token)).status == 201
    assert (await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": referrer.id},
                           token=member.token)).body["parent_id"] == referrer.id
    address_id = await buyer(api, shop, member, balance_fen=20000)
    for _ in range(3):
        order = await _complete_then_refund(api, shop, member, address_id, goods)
        assert order["level_discount_fen"] == 0 and order["total_fen"] == 5200  # no VIP price from a refunded past
        completed = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
        assert (completed["points"], completed["total_spent_fen"], completed["level"]) == (5200, 5200, vip["id"])
        frozen = (await api.get(f"/api/mobile/{shop.id}/distribution", token=referrer.token)).body["commission"]
        assert frozen["frozen_fen"] == 520
        approved = await _refund(api, shop, member, order["id"])
        assert approved.status == 200, approved.body
        after = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
        assert (after["balance_fen"], after["points"], after["total_spent_fen"], after["level"]) == (20000, 0, 0, None)
        centre = (await api.get(f"/api/mobile/{shop.id}/distribution", token=referrer.token)).body["commission"]
        assert centre == {"frozen_fen": 0, "withdrawable_fen": 0, "withdrawn_fen": 0}
        # approving again changes nothing
        assert (await api.post(f"/api/merchant/orders/{order['id']}/refund/approve",
                               token=shop.owner_token)).status == 409
    ledger = (await api.get(f"/api/merchant/members/{member.id}/ledger?currency=points", token=shop.owner_token)).body
    assert [(r["type"], r["amount"]) for r in ledger["items"]] == [("order_reward_reverse", -5200),
                                                                   ("order_reward", 5200)] * 3
    assert sum(r["amount"] for r in ledger["items"]) == 0


async def test_reward_points_already_spent_follow_the_shop_setting(api, make_shop):
    """`points.refund_spent_rewards`: "forgive" (default) takes back what is left and writes the
    shortfall into the ledger; "refuse" refuses to approve the refund (409) and changes nothing."""
    shop = await make_shop()
    await api.patch("/api/merchant/settings", {"points": {"points_per_yuan": 10}}, token=shop.owner_token)
    goods = await new_goods(api, shop, price_fen=3000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    points_path = f"/api/merchant/members/{member.id}/points"

    order = await _complete_then_refund(api, shop, member, address_id, goods)
    assert (await api.post(points_path, {"delta": -200, "remark": "兑换礼品"}, token=shop.owner_token)).status == 200
    approved = await _refund(api, shop, member, order["id"])
    assert approved.status == 200, approved.body
    after = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
    assert (after["points"], after["total_spent_fen"], after["balance_fen"]) == (0, 0, 10000)
    reversal = (await api.get(f"/api/merchant/members/{member.id}/ledger?currency=points",
                              token=shop.owner_token)).body["items"][0]
    assert (reversal["type"], reversal["amount"], reversal["balance_after"]) == ("order_reward_reverse", -100, 0)
    assert "200" in reversal["remark"] and "spent" in reversal["remark"]

    settings = await api.patch("/api/merchant/settings", {"points": {"refund_spent_rewards": "refuse"}},
                               token=shop.owner_token)
    assert settings.status == 200, settings.body
    order = await _complete_then_refund(api, shop, member, address_id, goods)
    assert (await api.post(points_path, {"delta": -250}, token=shop.owner_token)).status == 200
    refused = await _refund(api, shop, member, order["id"])
    assert refused.status == 409 and refused.body["error"]["code"] == "reward_points_spent", refused.body
    assert refused.body["error"]["details"]["points_short"] == 250
    kept = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (kept["status"], kept["refund_status"], kept["aftersales"][-1]["status"]) == (3, "none", "requested")
    unchanged = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
    assert (unchanged["points"], unchanged["total_spent_fen"], unchanged["balance_fen"]) == (50, 3000, 7000)
    # the merchant may reject it instead; a bad setting value is a 422
    assert (await api.post(f"/api/merchant/orders/{order['id']}/refund/reject", {"reason": "积分已用"},
                           token=shop.owner_token)).status == 200
    assert_invalid(await api.patch("/api/merchant/settings", {"points": {"refund_spent_rewards": "maybe"}},
                                   token=shop.owner_token), "points.refund_spent_rewards")
