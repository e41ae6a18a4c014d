"""After-sales (售后) through the real API on both backends: line shares to the fen, partial
refunds to balance and through WeChat Pay (partial refund + refund notification), returns,
exchanges, races, limits, reversals of commission and points, deadlines as a rule of time."""
from __future__ import annotations

import asyncio
import datetime

from models.aftersale import AfterSale
from models.base import utcnow
from models.distribution import Commission
from models.finance import CreditLedger
from models.order import Order
from services import payment
from services.orders import aftersales as aftersale_service
from tests.builders import ADDRESS, assert_invalid, buyer, eventually, fast_members, new_goods, notify, wechat_shop
from tests.invariants import violations

RETURN_TO = {"name": "售后部", "mobile": "02100000000", "province": "上海市", "city": "上海市", "district": "徐汇区",
             "detail": "漕溪北路 1 号"}


async def order_of(api, shop, member, address_id, items, **extra) -> dict:
    """Placed and paid with balance."""
    placed = await api.post(f"/api/mobile/{shop.id}/orders", {"items": items, "address_id": address_id, **extra},
                            token=member.token)
    assert placed.status == 201, placed.body
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{placed.body['id']}/pay", {"method": "balance"},
                          token=member.token)
    assert paid.status == 200, paid.body
    return paid.body


async def ask(api, shop, token, order_id, type_, items, **extra):
    return await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/aftersales",
                          {"type": type_, "items": [{"order_item_id": i, "quantity": q} for i, q in items],
                           "reason": "不合适", **extra}, token=token)


async def approve(api, shop, aftersale_id, **body):
    return await api.post(f"/api/merchant/aftersales/{aftersale_id}/approve", body, token=shop.owner_token)


async def ship(api, shop, order_id):
    shipped = await api.post(f"/api/merchant/orders/{order_id}/ship", {"express_company": "SF", "express_no": "SF1"},
                             token=shop.owner_token)
    assert shipped.status == 200, shipped.body


async def me(api, shop, member) -> dict:
    return (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body


async def test_line_shares_to_the_fen_and_partial_refunds_sum_to_the_total(api, make_shop):
    """满减 + a coupon on one category + points across three lines, hand-computed:
    goods 2x A ¥100 (tea) + B ¥30 + D ¥50 = 28000; 满200减20 -> 26000; coupon ¥10 on tea (A only)
    -> 25000; points 10% = 2500 fen (2500 points); shipping 800; total 23300.
    满减 2000 over [20000, 3000, 5000]: 1428.57 / 214.29 / 357.14 -> 1429 (largest remainder), 214, 357;
    coupon 1000 on A alone; points 2500 over [17571, 2786, 4643]: 1757.1 / 278.6 / 464.3 -> 1757, 279, 464.
    Paid per line: A 15814, B 2507, D 4179 (sum 22500 = 23300 - 800 shipping)."""
    shop = await make_shop()
    settings = {"order": {"shipping_fee_fen": 800},
                "sale": {"full_reduction": [{"min_fen": 20000, "off_fen": 2000}]},
                "points": {"deduct_enabled": True, "points_per_yuan_deduct": 100, "deduct_max_percent": 10,
                           "enabled": False}}
    assert (await api.patch("/api/merchant/settings", settings, token=shop.owner_token)).status == 200
    tea = (await api.post("/api/merchant/categories", {"name": "茶"}, token=shop.owner_token)).body
    a = await new_goods(api, shop, title="A", price_fen=10000, stock=10, category_id=tea["id"])
    b = await new_goods(api, shop, title="B", price_fen=3000, stock=10)
    d = await new_goods(api, shop, title="D", price_fen=5000, stock=10)
    template = (await api.post("/api/merchant/coupons", {"name": "茶券", "kind": "amount", "amount_fen": 1000,
                                                         "valid_days": 30, "scope": "categories",
                                                         "scope_ids": [tea["id"]]}, token=shop.owner_token)).body
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=30000)
    await api.post(f"/api/merchant/members/{member.id}/points", {"delta": 5000}, token=shop.owner_token)
    held = (await api.post(f"/api/mobile/{shop.id}/coupons/{template['id']}/claim", {}, token=member.token)).body
    order = await order_of(api, shop, member, address_id, [{"goods_id": a["id"], "quantity": 2},
                                                           {"goods_id": b["id"], "quantity": 1},
                                                           {"goods_id": d["id"], "quantity": 1}],
                           coupon_ids=[held["id"]], use_points=True)
    assert (order["total_fen"], order["points_used"], order["shipping_fee_fen"]) == (23300, 2500, 800)
    line = {item["goods_id"]: item for item in order["items"]}
    assert [line[g["id"]]["paid_fen"] for g in (a, b, d)] == [15814, 2507, 4179]

    # one A, then B, then everything left (the last A and D asked for; the shipping added when refunded)
    steps = [([(line[a["id"]]["id"], 1)], 7907, 878, 0), ([(line[b["id"]]["id"], 1)], 2507, 279, 0),
             ([(line[a["id"]]["id"], 1), (line[d["id"]]["id"], 1)], 7907 + 4179, 879 + 464, 800)]
    refunded = 0
    for items, amount, points, shipping in steps:
        asked = await ask(api, shop, member.token, order["id"], "refund", items)
        assert asked.status == 201, asked.body
        assert (asked.body["status"], asked.body["amount_fen"], asked.body["points"]) == ("requested", amount, points)
        done = await approve(api, shop, asked.body["id"])
        assert done.status == 200 and done.body["status"] == "refunded", done.body
        assert (done.body["amount_fen"], done.body["shipping_fen"]) == (amount + shipping, shipping)
        refunded += amount + shipping
    assert refunded == 23300
    final = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (final["status"], final["refund_status"], final["refunded_fen"]) == (-1, "full", 23300)
    mine = await me(api, shop, member)
    assert (mine["balance_fen"], mine["points"]) == (30000, 5000)
    coupons = (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=member.token)).body["items"]
    assert [c["id"] for c in coupons] == [held["id"]]  # the whole order came back: the coupon too
    stock = [(await api.get(f"/api/merchant/goods/{g['id']}", token=shop.owner_token)).body["stock"] for g in (a, b, d)]
    assert stock == [10, 10, 10]  # refund-only before shipping: restocked at approval
    assert await violations(shop.id, {a["id"]: 10, b["id"]: 10, d["id"]: 10}) == []


async def test_return_one_of_three_through_a_wechat_partial_refund(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, member_id, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    assert (await api.patch("/api/merchant/settings", {"aftersale": {"return_address": RETURN_TO}},
                            token=shop.owner_token)).status == 200
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 3}],
                                                              "address_id": address_id}, token=token)).body
    assert (await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "wechat"},
                           token=token)).status == 200
    assert (await notify(api, shop, *fake_wechatpay.notification(order["order_no"]))).status == 200
    refused = await ask(api, shop, token, order["id"], "return", [(order["items"][0]["id"], 1)])
    assert refused.status == 409  # nothing shipped yet: nothing to send back
    await ship(api, shop, order["id"])

    asked = await ask(api, shop, token, order["id"], "return", [(order["items"][0]["id"], 1)])
    assert asked.status == 201 and asked.body["amount_fen"] == 1990, asked.body
    aftersale_id = asked.body["id"]
    approved = await approve(api, shop, aftersale_id)
    assert approved.status == 200 and approved.body["status"] == "approved"
    assert approved.body["return_address"]["detail"] == RETURN_TO["detail"]  # the shop's configured address
    early = await api.post(f"/api/merchant/aftersales/{aftersale_id}/receive", {}, token=shop.owner_token)
    assert early.status == 409  # nothing was sent back yet
    sent = await api.post(f"/api/mobile/{shop.id}/aftersales/{aftersale_id}/ship",
                          {"express_company": "YTO", "express_no": "YT123"}, token=token)
    assert sent.status == 200 and sent.body["status"] == "returned"
    board = (await api.get("/api/merchant/aftersales?status=returned", token=shop.owner_token)).body
    assert [row["id"] for row in board["items"]] == [aftersale_id]
    received = await api.post(f"/api/merchant/aftersales/{aftersale_id}/receive", {}, token=shop.owner_token)
    assert received.status == 200 and received.body["status"] == "refunded", received.body
    assert received.body["refund_state"] == "sent"

    refund = fake_wechatpay.refunds[received.body["aftersale_no"]]
    assert refund["out_trade_no"] == order["order_no"]
    assert (refund["amount"]["refund"], refund["amount"]["total"]) == (1990, 5970)  # partial: refund < total
    await payment.refund_owed()  # the job finds nothing left to send
    assert len([r for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]]) == 1
    answers = [await notify(api, shop, *fake_wechatpay.refund_notification(received.body["aftersale_no"]))
               for _ in range(2)]  # a replay changes nothing
    assert [a.status for a in answers] == [200, 200]
    settled = (await api.get(f"/api/mobile/{shop.id}/aftersales/{aftersale_id}", token=token)).body
    assert settled["refund_state"] == "success"
    assert [(log["action"], log["actor"].split(":")[0]) for log in settled["logs"]] == [
        ("request", "member"), ("approve", "staff"), ("ship", "member"), ("receive", "staff"), ("refund", "staff")]
    assert settled["logs"][0]["actor"] == f"member:{member_id}" and all(log["created_at"] for log in settled["logs"])

    detail = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body
    assert (detail["status"], detail["refund_status"], detail["refunded_fen"]) == (2, "partial", 1990)
    assert detail["items"][0]["refunded_quantity"] == 1
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 3
    assert await violations(shop.id, {goods["id"]: 5}) == []


async def test_a_wechat_refund_with_no_notification_is_settled_by_the_query_job(api, make_shop, fake_wechat,
                                                                                fake_wechatpay):
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 2}],
                                                              "address_id": address_id}, token=token)).body
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "wechat"}, token=token)
    await notify(api, shop, *fake_wechatpay.notification(order["order_no"]))
    asked = await ask(api, shop, token, order["id"], "refund", [(order["items"][0]["id"], 1)])
    done = await approve(api, shop, asked.body["id"])
    assert done.body["refund_state"] == "sent" and done.body["amount_fen"] == 1990
    fake_wechatpay.refund_status[done.body["aftersale_no"]] = "SUCCESS"  # done at WeChat; the notification is lost
    from models.payment import PaymentRefund

    await PaymentRefund.update(sent_at=utcnow() - datetime.timedelta(minutes=5)).where(
        PaymentRefund.refund_no == done.body["aftersale_no"]).aio_execute()
    assert await payment.settle_sent_refunds() >= 1
    assert (await api.get(f"/api/mobile/{shop.id}/aftersales/{asked.body['id']}",
                          token=token)).body["refund_state"] == "success"


async def test_exchange_takes_the_unit_back_and_sends_another(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=2000, stock=5)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 2}])
    await ship(api, shop, order["id"])
    item_id = order["items"][0]["id"]
    asked = await ask(api, shop, member.token, order["id"], "exchange", [(item_id, 1)])
    assert asked.status == 201 and asked.body["amount_fen"] == 0
    no_address = await approve(api, shop, asked.body["id"])
    assert_invalid(no_address, "return_address")  # neither given nor configured
    approved = await approve(api, shop, asked.body["id"], return_address=RETURN_TO)
    assert approved.status == 200 and approved.body["return_address"]["name"] == RETURN_TO["name"]
    await api.post(f"/api/mobile/{shop.id}/aftersales/{asked.body['id']}/ship",
                   {"express_company": "YTO", "express_no": "YT9"}, token=member.token)
    received = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/receive", {}, token=shop.owner_token)
    assert received.status == 200 and received.body["status"] == "received"
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 4
    reshipped = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/reship",
                               {"express_company": "SF", "express_no": "SF77"}, token=shop.owner_token)
    assert reshipped.status == 200 and reshipped.body["status"] == "exchanged"
    assert (reshipped.body["reship_company"], reshipped.body["reship_no"]) == ("SF", "SF77")
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 3
    detail = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (detail["refund_status"], detail["refunded_fen"]) == ("none", 0)
    assert (await me(api, shop, member))["balance_fen"] == 6000
    # the replacement may have its own after-sale: both units can be asked for again
    again = await ask(api, shop, member.token, order["id"], "return", [(item_id, 2)])
    assert again.status == 201 and again.body["amount_fen"] == 4000
    assert await violations(shop.id, {goods["id"]: 5}) == []


async def test_five_concurrent_approvals_refund_once(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1500, stock=5)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 3}])
    asked = await ask(api, shop, member.token, order["id"], "refund", [(order["items"][0]["id"], 2)])
    answers = await asyncio.gather(*(approve(api, shop, asked.body["id"]) for _ in range(5)))
    assert sorted(a.status for a in answers) == [200] + [409] * 4
    refunds = await CreditLedger.select().where((CreditLedger.member_id == member.id)
                                                & (CreditLedger.type == "refund")).aio_execute()
    assert [r.amount for r in refunds] == [3000]
    rejected = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/reject", {"reason": "晚了"},
                              token=shop.owner_token)
    assert rejected.status == 409  # already refunded
    assert (await me(api, shop, member))["balance_fen"] == 10000 - 4500 + 3000
    assert await violations(shop.id, {goods["id"]: 5}) == []


async def test_more_than_paid_or_bought_is_refused(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=500, stock=10)
    member, other = await fast_members(shop.id, 2)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 2}])
    item_id = order["items"][0]["id"]
    too_many = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 3)])
    assert too_many.status == 409 and too_many.body["error"]["code"] == "quantity_exceeded"
    assert_invalid(await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)], amount_fen=501),
                   "amount_fen")  # one unit was paid 500
    assert_invalid(await ask(api, shop, member.token, order["id"], "refund", [(item_id + 999, 1)]), "items")
    assert_invalid(await ask(api, shop, member.token, order["id"], "swap", [(item_id, 1)]), "type")
    assert (await ask(api, shop, other.token, order["id"], "refund", [(item_id, 1)])).status == 404  # not theirs
    first = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)], amount_fen=300)
    assert first.status == 201 and first.body["amount_fen"] == 300
    both = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 2)])
    assert both.status == 409  # one unit is already asked for
    lowered = await approve(api, shop, first.body["id"], amount_fen=301)
    assert_invalid(lowered, "amount_fen")  # never more than asked for
    assert (await approve(api, shop, first.body["id"], amount_fen=200)).body["amount_fen"] == 200
    rest = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])
    assert rest.status == 201 and rest.body["amount_fen"] == 500
    await approve(api, shop, rest.body["id"])
    detail = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (detail["status"], detail["refund_status"], detail["refunded_fen"]) == (-1, "full", 700)
    more = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])
    assert more.status == 409  # fully refunded: nothing left
    assert await violations(shop.id, {goods["id"]: 10}) == []


async def test_commission_and_points_are_taken_back_in_proportion(api, make_shop):
    shop = await make_shop()
    settings = {"distribution": {"enabled": True, "levels": 1, "rates_bp": [1000], "auto_approve": True,
                                 "settle_days": 7}, "points": {"points_per_yuan": 1}}
    assert (await api.patch("/api/merchant/settings", settings, token=shop.owner_token)).status == 200
    referrer, member = await fast_members(shop.id, 2)
    applied = await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": "张三", "mobile": "13800000000"},
                             token=referrer.token)
    assert applied.status == 201
    assert (await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": referrer.id},
                           token=member.token)).status == 200
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 3}])
    await ship(api, shop, order["id"])
    confirmed = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/confirm", {}, token=member.token)
    assert confirmed.status == 200 and confirmed.body["status"] == 3
    commission = await Commission.aio_get(Commission.order_id == order["id"])
    assert (commission.amount_fen, commission.status) == (300, "frozen")
    merchant_view = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
    assert (merchant_view["points"], merchant_view["total_spent_fen"]) == (30, 3000)

    item_id = order["items"][0]["id"]
    one = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])
    assert (await approve(api, shop, one.body["id"])).status == 200
    commission = await Commission.aio_get(Commission.order_id == order["id"])
    assert (commission.amount_fen, commission.reversed_fen, commission.status) == (200, 100, "frozen")
    after_one = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
    assert (after_one["points"], after_one["total_spent_fen"]) == (20, 2000)
    assert (await api.get(f"/api/merchant/members/{referrer.id}", token=shop.owner_token)).body.get(
        "commission_frozen_fen", 200) == 200

    rest = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 2)])
    assert (await approve(api, shop, rest.body["id"])).status == 200
    commission = await Commission.aio_get(Commission.order_id == order["id"])
    assert (commission.reversed_fen, commission.status) == (300, "reversed")
    after_all = (await api.get(f"/api/merchant/members/{member.id}", token=shop.owner_token)).body
    assert (after_all["points"], after_all["total_spent_fen"], after_all["balance_fen"]) == (0, 0, 10000)
    assert await violations(shop.id, {goods["id"]: 10}) == []


async def test_a_settled_commission_gets_a_negative_entry(api, make_shop):
    shop = await make_shop()
    settings = {"distribution": {"enabled": True, "levels": 1, "rates_bp": [1000], "auto_approve": True,
                                 "settle_days": 0}, "order": {"refund_window_days": 0}}
    assert (await api.patch("/api/merchant/settings", settings, token=shop.owner_token)).status == 200
    referrer, member = await fast_members(shop.id, 2)
    await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": "张三", "mobile": "13800000000"},
                   token=referrer.token)
    await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": referrer.id}, token=member.token)
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 2}])
    await ship(api, shop, order["id"])
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/confirm", {}, token=member.token)
    from services import distribution

    await distribution.settle_commissions()
    assert (await Commission.aio_get(Commission.order_id == order["id"])).status == "settled"
    # the window is 0 days: widen it so the member may still ask (the commission stays settled)
    await api.patch("/api/merchant/settings", {"order": {"refund_window_days": 7}, "distribution": {"settle_days": 7}},
                    token=shop.owner_token)
    asked = await ask(api, shop, member.token, order["id"], "refund", [(order["items"][0]["id"], 1)])
    assert (await approve(api, shop, asked.body["id"])).status == 200
    entries = await CreditLedger.select().where((CreditLedger.member_id == referrer.id)
                                                & (CreditLedger.currency == "commission")).order_by(CreditLedger.id).aio_execute()
    assert [(e.type, e.amount) for e in entries] == [("commission_settle", 200), ("commission_reverse", -100)]
    assert await violations(shop.id, {goods["id"]: 10}) == []


async def test_deadlines_hold_at_their_instant(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 3}])
    await ship(api, shop, order["id"])
    item_id = order["items"][0]["id"]

    # a request the merchant ignores is approved when its time is up, job or not: a late reject is refused
    ignored = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])
    await AfterSale.update(approve_due_at=utcnow() - datetime.timedelta(seconds=1)).where(
        AfterSale.id == ignored.body["id"]).aio_execute()
    late = await api.post(f"/api/merchant/aftersales/{ignored.body['id']}/reject", {"reason": "不行"},
                          token=shop.owner_token)
    assert late.status == 409 and late.body["error"]["details"]["status"] == "refunded"
    logs = (await api.get(f"/api/merchant/aftersales/{ignored.body['id']}", token=shop.owner_token)).body["logs"]
    assert [(log["action"], log["actor"]) for log in logs][1:] == [("approve", "system"), ("refund", "system")]

    # a return the buyer never ships closes at its deadline
    await api.patch("/api/merchant/settings", {"aftersale": {"return_address": RETURN_TO}}, token=shop.owner_token)
    unsent = await ask(api, shop, member.token, order["id"], "return", [(item_id, 1)])
    await approve(api, shop, unsent.body["id"])
    await AfterSale.update(return_due_at=utcnow() - datetime.timedelta(seconds=1)).where(
        AfterSale.id == unsent.body["id"]).aio_execute()
    too_late = await api.post(f"/api/mobile/{shop.id}/aftersales/{unsent.body['id']}/ship",
                              {"express_company": "YTO", "express_no": "Y1"}, token=member.token)
    assert too_late.status == 409
    closed = (await api.get(f"/api/mobile/{shop.id}/aftersales/{unsent.body['id']}", token=member.token)).body
    assert (closed["status"], closed["close_reason"]) == ("cancelled", "return_not_shipped")

    # the job does the same for rows nobody touched
    waiting = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])
    await AfterSale.update(approve_due_at=utcnow() - datetime.timedelta(seconds=1)).where(
        AfterSale.id == waiting.body["id"]).aio_execute()
    await asyncio.gather(aftersale_service.apply_deadlines(), aftersale_service.apply_deadlines())
    assert (await AfterSale.aio_get(AfterSale.id == waiting.body["id"])).status == "refunded"
    assert (await me(api, shop, member))["balance_fen"] == 10000 - 3000 + 1000 + 1000

    # after-sales end refund_window_days after completion
    second = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    await ship(api, shop, second["id"])
    await api.post(f"/api/mobile/{shop.id}/orders/{second['id']}/confirm", {}, token=member.token)
    await Order.update(completed_at=utcnow() - datetime.timedelta(days=8)).where(Order.id == second["id"]).aio_execute()
    window = await ask(api, shop, member.token, second["id"], "refund", [(second["items"][0]["id"], 1)])
    assert window.status == 409 and window.body["error"]["code"] == "aftersale_window_closed"
    assert await violations(shop.id, {goods["id"]: 10}) == []


async def test_cancel_and_reject_give_the_units_back(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    item_id = order["items"][0]["id"]
    asked = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)], images=["https://i.example/1.jpg"])
    assert asked.body["images"] == ["https://i.example/1.jpg"]
    cancelled = await api.post(f"/api/mobile/{shop.id}/aftersales/{asked.body['id']}/cancel", {}, token=member.token)
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert (await api.post(f"/api/mobile/{shop.id}/aftersales/{asked.body['id']}/cancel", {},
                           token=member.token)).status == 409
    again = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])
    assert again.status == 201
    rejected = await api.post(f"/api/merchant/aftersales/{again.body['id']}/reject", {"reason": "已发货"},
                              token=shop.owner_token)
    assert rejected.status == 200 and rejected.body["reject_reason"] == "已发货"
    mine = (await api.get(f"/api/mobile/{shop.id}/aftersales", token=member.token)).body
    assert [(row["id"], row["status"]) for row in mine["items"]] == [(again.body["id"], "rejected"),
                                                                      (asked.body["id"], "cancelled")]
    listing = await api.get("/api/merchant/aftersales?type=bogus", token=shop.owner_token)
    assert_invalid(listing, "type")
    assert (await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)])).status == 201
    assert (await api.get(f"/api/mobile/{shop.id}/aftersales/{again.body['id']}", token=shop.owner_token)).status in (401, 403)
    assert ADDRESS  # the buyer's address is what the order shipped to; returns go to the shop's


async def test_live_events_for_member_and_board(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    asked = await ask(api, shop, member.token, order["id"], "refund", [(order["items"][0]["id"], 1)])
    from models.events import OutboxEvent

    async def recorded():
        rows = await OutboxEvent.select().where(OutboxEvent.channel.in_(
            [f"member:{member.id}", f"shop:{shop.id}:orders"])).order_by(OutboxEvent.id).aio_execute()
        return [(r.channel.split(":")[0], r.type) for r in rows if r.type.startswith("aftersale.")]
    assert await eventually(recorded) == [("member", "aftersale.status"), ("shop", "aftersale.requested")]
    assert asked.status == 201


# ---------------------------------------------------------------- review: defects found by attacking the flows
async def _two_lines_with_shipping(api, shop, member):
    await api.patch("/api/merchant/settings", {"order": {"shipping_fee_fen": 800}}, token=shop.owner_token)
    a = await new_goods(api, shop, title="A", price_fen=5000, stock=10)
    b = await new_goods(api, shop, title="B", price_fen=1000, stock=10)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": a["id"], "quantity": 1},
                                                           {"goods_id": b["id"], "quantity": 1}])
    assert (order["total_fen"], order["shipping_fee_fen"]) == (6800, 800)
    line = {item["goods_id"]: item["id"] for item in order["items"]}
    return order, line[a["id"]], line[b["id"]]


async def test_shipping_is_not_refunded_while_units_are_kept(api, make_shop):
    """Ask about A, then about B (B now 'takes the last units' and carries shipping), have B
    refunded, withdraw A: the shopper keeps A and got the shipping back — shipping is only
    refunded when the whole order is."""
    shop = await make_shop()
    member, = await fast_members(shop.id, 1)
    order, line_a, line_b = await _two_lines_with_shipping(api, shop, member)
    first = await ask(api, shop, member.token, order["id"], "refund", [(line_a, 1)])
    second = await ask(api, shop, member.token, order["id"], "refund", [(line_b, 1)])
    assert first.status == second.status == 201
    assert (await approve(api, shop, second.body["id"])).status == 200
    withdrawn = await api.post(f"/api/mobile/{shop.id}/aftersales/{first.body['id']}/cancel", {}, token=member.token)
    assert withdrawn.status == 200
    detail = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (detail["refund_status"], detail["refunded_fen"]) == ("partial", 1000)  # B's goods only, no shipping
    assert (await me(api, shop, member))["balance_fen"] == 10000 - 6800 + 1000


async def test_the_last_units_can_be_refunded_after_an_earlier_request_was_withdrawn(api, make_shop):
    """Same start, but the shopper later asks for A again: A now also carries shipping (B's
    refunded units count, B already carried it), so the request asks 800 fen more than is left and
    approving it is refused (409 refund_exceeds_paid) — the order can never be fully refunded and
    the auto-approval fails silently forever."""
    shop = await make_shop()
    member, = await fast_members(shop.id, 1)
    order, line_a, line_b = await _two_lines_with_shipping(api, shop, member)
    first = await ask(api, shop, member.token, order["id"], "refund", [(line_a, 1)])
    second = await ask(api, shop, member.token, order["id"], "refund", [(line_b, 1)])
    assert (await approve(api, shop, second.body["id"])).status == 200
    await api.post(f"/api/mobile/{shop.id}/aftersales/{first.body['id']}/cancel", {}, token=member.token)
    again = await ask(api, shop, member.token, order["id"], "refund", [(line_a, 1)])
    assert again.status == 201, again.body
    done = await approve(api, shop, again.body["id"])
    assert done.status == 200 and done.body["status"] == "refunded", done.body
    detail = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (detail["status"], detail["refund_status"], detail["refunded_fen"]) == (-1, "full", 6800)
    assert (await me(api, shop, member))["balance_fen"] == 10000


async def test_commission_of_a_refunded_line_goes_back_at_that_line_rate(api, make_shop):
    """A pays 50% commission (goods override), B none; both ¥10. Refunding A must take back A's
    whole commission. Reversal in proportion to money over the order (500 * 1000/2000) leaves the
    distributor 250 fen for goods that came back (and refunding B instead would take 250 of A's)."""
    shop = await make_shop()
    settings = {"distribution": {"enabled": True, "levels": 1, "rates_bp": [1000], "auto_approve": True,
                                 "settle_days": 7}}
    assert (await api.patch("/api/merchant/settings", settings, token=shop.owner_token)).status == 200
    referrer, member = await fast_members(shop.id, 2)
    assert (await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": "张三", "mobile": "13800000000"},
                           token=referrer.token)).status == 201
    assert (await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": referrer.id},
                           token=member.token)).status == 200
    rich = await new_goods(api, shop, title="A", price_fen=1000, stock=10, commission_rates_bp=[5000])
    plain = await new_goods(api, shop, title="B", price_fen=1000, stock=10, commission_rates_bp=[0])
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": rich["id"], "quantity": 1},
                                                           {"goods_id": plain["id"], "quantity": 1}])
    assert (await Commission.aio_get(Commission.order_id == order["id"])).amount_fen == 500
    line = {item["goods_id"]: item["id"] for item in order["items"]}
    asked = await ask(api, shop, member.token, order["id"], "refund", [(line[rich["id"]], 1)])
    assert (await approve(api, shop, asked.body["id"])).status == 200
    commission = await Commission.aio_get(Commission.order_id == order["id"])
    assert (commission.amount_fen, commission.reversed_fen) == (0, 500)


async def test_aftersale_images_are_web_addresses(api, make_shop):
    """The images are shown on the merchant's desk: like goods images, only http(s) addresses."""
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    item_id = order["items"][0]["id"]
    for bad in ("javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "x"):
        assert_invalid(await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)], images=[bad]),
                       "images.0")
    fine = await ask(api, shop, member.token, order["id"], "refund", [(item_id, 1)], images=["https://i.example/1.jpg"])
    assert fine.status == 201


async def test_requests_the_rule_cannot_approve_do_not_starve_the_deadline_job(api, make_shop, monkeypatch):
    """Returns due for auto-approval in a shop with no return address cannot be approved by the
    rule (left to the merchant) and stay due; the job takes the oldest JOB_BATCH due rows each
    run, so once that many are stuck no other shop's requests are ever approved by the job."""
    monkeypatch.setattr(aftersale_service, "JOB_BATCH", 2)
    stuck_shop, other_shop = await make_shop(), await make_shop()
    for shop, type_, count in ((stuck_shop, "return", 2), (other_shop, "refund", 1)):
        goods = await new_goods(api, shop, price_fen=1000, stock=10)
        member, = await fast_members(shop.id, 1)
        address_id = await buyer(api, shop, member, balance_fen=10000)
        order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": count}])
        await ship(api, shop, order["id"])
        for _ in range(count):
            asked = await ask(api, shop, member.token, order["id"], type_, [(order["items"][0]["id"], 1)])
            assert asked.status == 201, asked.body
    await AfterSale.update(approve_due_at=utcnow() - datetime.timedelta(seconds=1)).where(
        AfterSale.shop_id.in_([stuck_shop.id, other_shop.id])).aio_execute()
    for _ in range(3):
        await aftersale_service.apply_deadlines()
    waiting = await AfterSale.aio_get(AfterSale.shop_id == other_shop.id)
    assert waiting.status == "refunded"


async def _overdue(aftersale_id: int) -> None:
    await AfterSale.update(approve_due_at=utcnow() - datetime.timedelta(seconds=1)).where(
        AfterSale.id == aftersale_id).aio_execute()


async def _overdue_return(api, make_shop):
    """A return past its approval deadline, in a shop with no return address (the rule cannot
    approve it): (shop, member, the request as asked)."""
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    await ship(api, shop, order["id"])
    asked = await ask(api, shop, member.token, order["id"], "return", [(order["items"][0]["id"], 1)])
    await _overdue(asked.body["id"])
    return shop, member, asked


async def test_a_request_the_rule_cannot_approve_is_left_to_the_merchant(api, make_shop):
    """A return due for auto-approval in a shop with no return address: the rule cannot decide it,
    so it loses its deadline (logged `auto_approve_failed`, with why) and the merchant may still
    reject it — not a 409 'cannot reject an after-sale that is requested'."""
    shop, member, asked = await _overdue_return(api, make_shop)
    seen = (await api.get(f"/api/mobile/{shop.id}/aftersales/{asked.body['id']}", token=member.token)).body
    assert (seen["status"], seen["approve_due_at"]) == ("requested", None)
    failed = [log for log in seen["logs"] if log["action"] == "auto_approve_failed"]
    assert len(failed) == 1 and "return address" in failed[0]["note"], seen["logs"]
    rejected = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/reject", {"reason": "无质量问题"},
                              token=shop.owner_token)
    assert rejected.status == 200 and rejected.body["status"] == "rejected", rejected.body


async def test_a_reject_after_the_deadline_of_a_request_the_rule_cannot_approve(api, make_shop):
    """The merchant's reject is what first notices the passed deadline: still the merchant's call."""
    shop, member, asked = await _overdue_return(api, make_shop)
    rejected = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/reject", {"reason": "无质量问题"},
                              token=shop.owner_token)
    assert rejected.status == 200 and rejected.body["status"] == "rejected", rejected.body
    assert [log["action"] for log in rejected.body["logs"]] == ["request", "auto_approve_failed", "reject"]


async def test_a_reject_that_the_deadline_job_overtakes_is_still_the_merchants(api, make_shop, monkeypatch):
    """The reject finds the deadline passed; before it looks again, the deadline job (another
    process, or this one's timer) tries the rule, fails and leaves the request to the merchant.
    The reject must then go through: it answered 409 "cannot reject an after-sale that is
    requested" (seen in CI)."""
    shop, member, asked = await _overdue_return(api, make_shop)
    read_the_request = aftersale_service._get
    reads = 0

    async def the_job_runs_before_the_second_read(*args, **kwargs):
        nonlocal reads
        reads += 1
        if reads == 2:  # the reject's conditional update has just found the deadline passed
            await aftersale_service.apply_deadlines()
        return await read_the_request(*args, **kwargs)
    monkeypatch.setattr(aftersale_service, "_get", the_job_runs_before_the_second_read)
    rejected = await api.post(f"/api/merchant/aftersales/{asked.body['id']}/reject", {"reason": "无质量问题"},
                              token=shop.owner_token)
    assert rejected.status == 200 and rejected.body["status"] == "rejected", rejected.body
    assert [log["action"] for log in rejected.body["logs"]] == ["request", "auto_approve_failed", "reject"]
    assert reads >= 2


async def test_a_refund_the_rule_is_refused_half_way_changes_nothing(api, make_shop):
    """Under `refund_spent_rewards: refuse`, the refund of a completed order whose reward points
    were spent is refused by a `refunded` reaction after the money step: a deadline approval must
    undo all of it (not leave the after-sale refunded and the balance credited with the points
    untouched), and leave the request to the merchant."""
    shop = await make_shop()
    await api.patch("/api/merchant/settings", {"points": {"points_per_yuan": 10, "refund_spent_rewards": "refuse"}},
                    token=shop.owner_token)
    goods = await new_goods(api, shop, price_fen=3000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    await ship(api, shop, order["id"])
    assert (await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/confirm", token=member.token)).status == 200
    assert (await api.post(f"/api/merchant/members/{member.id}/points", {"delta": -250},
                           token=shop.owner_token)).status == 200
    asked = await ask(api, shop, member.token, order["id"], "refund", [(order["items"][0]["id"], 1)])
    assert asked.status == 201, asked.body
    await _overdue(asked.body["id"])
    assert await aftersale_service.apply_deadlines() == 1
    seen = (await api.get(f"/api/merchant/aftersales/{asked.body['id']}", token=shop.owner_token)).body
    assert (seen["status"], seen["approve_due_at"]) == ("requested", None), seen
    assert [log["action"] for log in seen["logs"]] == ["request", "auto_approve_failed"]
    assert seen["logs"][-1]["note"].startswith("reward_points_spent"), seen["logs"]
    kept = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=member.token)).body
    assert (kept["status"], kept["refund_status"], kept["refunded_fen"]) == (3, "none", 0)
    mine = await me(api, shop, member)
    assert (mine["balance_fen"], mine["points"]) == (7000, 50)
    assert await aftersale_service.apply_deadlines() == 0  # out of the job's way


async def test_the_order_refund_shorthand_acts_only_on_a_refund_only_request(api, make_shop):
    """`/orders/{id}/refund/approve|reject` decide the whole-order refund request; a pending
    return (which needs an address and a parcel) is left to its own after-sale page."""
    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=1000, stock=10)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10000)
    order = await order_of(api, shop, member, address_id, [{"goods_id": goods["id"], "quantity": 1}])
    await ship(api, shop, order["id"])
    asked = await ask(api, shop, member.token, order["id"], "return", [(order["items"][0]["id"], 1)])
    for action, body in (("approve", {}), ("reject", {"reason": "不行"})):
        refused = await api.post(f"/api/merchant/orders/{order['id']}/refund/{action}", body, token=shop.owner_token)
        assert refused.status == 409 and refused.body["error"]["code"] == "invalid_state", refused.body
    still = (await api.get(f"/api/merchant/aftersales/{asked.body['id']}", token=shop.owner_token)).body
    assert (still["status"], still["return_address"]) == ("requested", {})
