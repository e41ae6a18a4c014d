"""Finance and distribution through the real API on both backends: recharges by WeChat Pay with
bonus, withdrawals under concurrency and to WeChat, three-level commission, settlement, reports,
and a randomized reconciliation of every ledger against the amounts it explains."""
from __future__ import annotations

import asyncio
import csv
import datetime
import io
import secrets

from models.base import utcnow
from models.distribution import Commission
from models.finance import Recharge
from models.member import Member
from models.order import Order
from services import distribution, finance, payment
from tests.builders import assert_invalid, buyer, fast_members, new_goods, notify, seeded, wechat_shop
from tests.invariants import violations


async def ledger_of(api, shop, member, currency="balance"):
    rows = (await api.get(f"/api/merchant/members/{member}/ledger?currency={currency}&page_size=100",
                          token=shop.owner_token)).body["items"]
    return [(r["type"], r["amount"]) for r in rows]


async def test_recharge_with_bonus_is_credited_once(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, member_id, _, _ = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    await api.patch("/api/merchant/settings", {"sale": {"recharge_bonus": [{"min_fen": 10000, "bonus_fen": 1000},
                                                                           {"min_fen": 50000, "bonus_fen": 8000}]}},
                    token=shop.owner_token)
    started = await api.post(f"/api/mobile/{shop.id}/recharges", {"amount_fen": 20000}, token=token)
    assert started.status == 201 and started.body["bonus_fen"] == 1000 and started.body["pay_params"]["package"]
    trade_no = started.body["out_trade_no"]
    forged = fake_wechatpay.notification(trade_no, signing_key=fake_wechatpay.merchant_key)
    assert (await notify(api, shop, *forged)).status == 401
    wrong_amount = fake_wechatpay.notification(trade_no, amount=1, transaction_id="4200" + secrets.token_hex(12))
    assert (await notify(api, shop, *wrong_amount)).status == 200  # taken, and the 1 fen goes back once
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == trade_no] == [1]
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=token)).body["balance_fen"] == 0
    headers, body = fake_wechatpay.notification(trade_no)
    answers = await asyncio.gather(*(notify(api, shop, headers, body) for _ in range(5)))
    assert {a.status for a in answers} == {200}
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=token)).body["balance_fen"] == 21000
    assert await ledger_of(api, shop, member_id) == [("recharge_bonus", 1000), ("recharge", 20000)]
    small = await api.post(f"/api/mobile/{shop.id}/recharges", {"amount_fen": 1}, token=token)
    assert_invalid(small, "amount_fen")  # below the shop's minimum

    # a recharge whose notification never arrives is settled by asking WeChat
    lost = (await api.post(f"/api/mobile/{shop.id}/recharges", {"amount_fen": 5000}, token=token)).body
    fake_wechatpay.mark_paid(lost["out_trade_no"])
    await Recharge.update(created_at=utcnow() - datetime.timedelta(minutes=2)).where(
        Recharge.id == lost["id"]).aio_execute()
    await asyncio.gather(payment.settle_unnotified(), payment.settle_unnotified())
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=token)).body["balance_fen"] == 26000


async def test_concurrent_withdrawals_never_exceed_the_balance(api, make_shop):
    shop = await make_shop()
    await api.patch("/api/merchant/settings", {"balance": {"withdraw_daily_count": 50}}, token=shop.owner_token)
    member, = await fast_members(shop.id, 1)
    await buyer(api, shop, member, balance_fen=1000)
    await Member.update(openid=f"o_{member.id}").where(Member.id == member.id).aio_execute()
    results = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/withdrawals", {
        "source": "balance", "target": "wechat", "amount_fen": 300}, token=member.token) for _ in range(10)))
    assert sorted(r.status for r in results) == [201] * 3 + [409] * 7
    assert {r.body["error"]["code"] for r in results if r.status == 409} == {"insufficient_balance"}
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["balance_fen"] == 100
    pending = (await api.get("/api/merchant/withdrawals?status=pending", token=shop.owner_token)).body["items"]
    assert len(pending) == 3
    rejected = await api.post(f"/api/merchant/withdrawals/{pending[0]['id']}/reject", {"reason": "信息不符"},
                              token=shop.owner_token)
    assert rejected.status == 200 and rejected.body["status"] == "rejected"
    twice = await api.post(f"/api/merchant/withdrawals/{pending[0]['id']}/reject", {"reason": "again"},
                           token=shop.owner_token)
    assert twice.status == 409
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).body["balance_fen"] == 400
    other = await make_shop()
    assert (await api.post(f"/api/merchant/withdrawals/{pending[1]['id']}/approve", {},
                           token=other.owner_token)).status == 404
    await api.patch("/api/merchant/settings", {"balance": {"withdraw_daily_count": 3}}, token=shop.owner_token)
    limited = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "balance", "target": "wechat",
                                                                  "amount_fen": 100}, token=member.token)
    assert limited.status == 409 and limited.body["error"]["code"] == "withdraw_limit"


async def chain(api, shop, count=4):
    """Members m0 <- m1 <- m2 <- m3 (m3's parent is m2 ...); m0..m2 approved distributors."""
    members = await fast_members(shop.id, count)
    for m in members[:-1]:
        applied = await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": "张三", "mobile": "13800000000"},
                                 token=m.token)
        assert applied.status == 201 and applied.body["status"] == "approved", applied.body
    for child, parent in zip(members[1:], members):
        bound = await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": parent.id}, token=child.token)
        assert bound.status == 200 and bound.body["parent_id"] == parent.id
    return members


async def distribution_shop(api, make_shop, **rules):
    shop = await make_shop()
    settings = {"enabled": True, "levels": 3, "rates_bp": [1000, 500, 200], "auto_approve": True, "settle_days": 7,
                **rules}
    assert (await api.patch("/api/merchant/settings", {"distribution": settings, "order": {"shipping_fee_fen": 800}},
                            token=shop.owner_token)).status == 200
    return shop


async def buy(api, shop, member, items, balance=100000) -> dict:
    address_id = await buyer(api, shop, member, balance_fen=balance)
    order = await api.post(f"/api/mobile/{shop.id}/orders", {"items": items, "address_id": address_id}, token=member.token)
    assert order.status == 201, order.body
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{order.body['id']}/pay", {"method": "balance"}, token=member.token)
    assert paid.status == 200, paid.body
    return paid.body


async def test_three_level_commission_split_to_the_fen_and_reversed_by_refund(api, make_shop):
    shop = await distribution_shop(api, make_shop)
    a, b, c, d = await chain(api, shop)
    plain = await new_goods(api, shop, price_fen=10000, stock=10)
    special = await new_goods(api, shop, price_fen=5000, stock=10, commission_rates_bp=[2000, 1000])
    order = await buy(api, shop, d, [{"goods_id": plain["id"], "quantity": 1}, {"goods_id": special["id"], "quantity": 1}])
    assert order["total_fen"] == 15800  # 15000 goods + 800 shipping; commission is on the 15000
    # c: 10% of 10000 + 20% of 5000; b: 5% of 10000 + 10% of 5000; a: 2% of 10000 + nothing (the override has 2 levels)
    expected = {c.id: 2000, b.id: 1000, a.id: 200}
    for m in (a, b, c):
        centre = (await api.get(f"/api/mobile/{shop.id}/distribution", token=m.token)).body
        assert centre["commission"] == {"frozen_fen": expected[m.id], "withdrawable_fen": 0, "withdrawn_fen": 0}
    rows = (await api.get(f"/api/mobile/{shop.id}/distribution/commissions", token=c.token)).body["items"]
    assert [(r["level"], r["amount_fen"], r["status"]) for r in rows] == [(1, 2000, "frozen")]
    assert (await api.get(f"/api/mobile/{shop.id}/distribution", token=a.token)).body["team"] == {"level1": 1, "level2": 1}

    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "不要了"}, token=d.token)
    assert (await api.post(f"/api/merchant/orders/{order['id']}/refund/approve", {}, token=shop.owner_token)).status == 200
    for m in (a, b, c):
        assert (await api.get(f"/api/mobile/{shop.id}/distribution", token=m.token)).body["commission"]["frozen_fen"] == 0
    assert {r.status for r in await Commission.select().where(Commission.order_id == order["id"]).aio_execute()} == {"reversed"}
    await distribution.reverse_commission(await Order.aio_get(Order.id == order["id"]), [])  # once only
    for m in (a, b, c):
        assert (await api.get(f"/api/mobile/{shop.id}/distribution", token=m.token)).body["commission"]["frozen_fen"] == 0
    # binding is once: d cannot be moved to another referrer, and a cannot be bound below its own descendant
    assert (await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": a.id}, token=d.token)).body == {
        "parent_id": c.id}
    below = await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": c.id}, token=a.token)
    assert below.status == 409 and below.body["error"]["code"] == "referral_cycle"
    other = await make_shop()
    listed = (await api.get("/api/merchant/distributors", token=shop.owner_token)).body["items"]
    assert {row["member_id"] for row in listed} == {a.id, b.id, c.id}
    assert (await api.get("/api/merchant/distributors", token=other.owner_token)).body["total"] == 0
    foreign = await api.post(f"/api/merchant/distributors/{listed[0]['id']}/reject", {"reason": "x"}, token=other.owner_token)
    assert foreign.status == 404
    assert (await api.post(f"/api/mobile/{other.id}/distribution/bind", {"referrer_id": a.id}, token=d.token)).status == 403


async def approved_distributors(api, shop, count):
    members = await fast_members(shop.id, count)
    for m in members:
        applied = await api.post(f"/api/mobile/{shop.id}/distribution/apply", {"real_name": "李四", "mobile": "13800000001"},
                                 token=m.token)
        assert applied.status == 201 and applied.body["status"] == "approved", applied.body
    return members


async def bind(api, shop, member, referrer):
    return await api.post(f"/api/mobile/{shop.id}/distribution/bind", {"referrer_id": referrer.id}, token=member.token)


async def test_two_distributors_binding_to_each_other_at_once_never_make_a_loop(api, make_shop):
    shop = await distribution_shop(api, make_shop)
    for _ in range(10):
        a, b = await approved_distributors(api, shop, 2)
        answers = await asyncio.gather(bind(api, shop, a, b), bind(api, shop, b, a))
        assert sorted(r.status for r in answers) == [200, 409], [r.body for r in answers]
        refused = next(r for r in answers if r.status == 409)
        assert refused.body["error"]["code"] == "referral_cycle"
        parents = {m.id: (await api.get(f"/api/mobile/{shop.id}/distribution", token=m.token)).body["parent_id"]
                   for m in (a, b)}
        assert parents in ({a.id: b.id, b.id: None}, {a.id: None, b.id: a.id})
        for m in (a, b):
            for level in (1, 2):
                team = (await api.get(f"/api/mobile/{shop.id}/distribution/team?level={level}", token=m.token)).body
                assert m.id not in {row["id"] for row in team["items"]}


async def test_a_longer_referral_loop_is_refused(api, make_shop):
    shop = await distribution_shop(api, make_shop)
    a, b, c = await approved_distributors(api, shop, 3)
    assert (await bind(api, shop, b, a)).body["parent_id"] == a.id
    assert (await bind(api, shop, c, b)).body["parent_id"] == b.id
    loop = await bind(api, shop, a, c)  # a -> c -> b -> a
    assert loop.status == 409 and loop.body["error"]["code"] == "referral_cycle", loop.body
    assert (await api.get(f"/api/mobile/{shop.id}/distribution", token=a.token)).body["parent_id"] is None
    level2 = (await api.get(f"/api/mobile/{shop.id}/distribution/team?level=2", token=a.token)).body
    assert [row["id"] for row in level2["items"]] == [c.id]
    # concurrently: three binds closing a -> b -> c -> a at once; at most two succeed
    x, y, z = await approved_distributors(api, shop, 3)
    answers = await asyncio.gather(bind(api, shop, x, y), bind(api, shop, y, z), bind(api, shop, z, x))
    assert sorted(r.status for r in answers) == [200, 200, 409], [r.body for r in answers]


async def test_settlement_runs_once_even_with_two_runners(api, make_shop):
    shop = await distribution_shop(api, make_shop, levels=1)
    referrer, member = await chain(api, shop, 2)
    goods = await new_goods(api, shop, price_fen=10000, stock=10)
    order = await buy(api, shop, member, [{"goods_id": goods["id"], "quantity": 1}])
    await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "SF", "express_no": "1"},
                   token=shop.owner_token)
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/confirm", {}, token=member.token)
    await distribution.settle_commissions()
    assert (await api.get(f"/api/mobile/{shop.id}/distribution", token=referrer.token)).body["commission"]["frozen_fen"] == 1000
    await Order.update(completed_at=utcnow() - datetime.timedelta(days=8)).where(Order.id == order["id"]).aio_execute()
    await asyncio.gather(distribution.settle_commissions(), distribution.settle_commissions())
    await distribution.settle_commissions()
    centre = (await api.get(f"/api/mobile/{shop.id}/distribution", token=referrer.token)).body["commission"]
    assert centre == {"frozen_fen": 0, "withdrawable_fen": 1000, "withdrawn_fen": 0}
    assert await ledger_of(api, shop, referrer.id, "commission") == [("commission_settle", 1000)]
    refused = await api.patch("/api/merchant/settings", {"distribution": {"settle_days": 1}}, token=shop.owner_token)
    # would settle inside the refund window (a rule across two fields: the server names no field, only the message)
    assert_invalid(refused, "")
    assert "distribution.settle_days" in refused.body["error"]["details"]["fields"][0]["message"], refused.body


async def test_commission_withdrawn_to_wechat_and_to_balance(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, member_id, _, _ = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    await finance.change_credit(shop.id, member_id, "commission", 5000, "commission_settle", reference="seed")
    to_wechat = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "commission", "target": "wechat",
                                                                     "amount_fen": 2000}, token=token)
    to_balance = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "commission", "target": "balance",
                                                                      "amount_fen": 1000}, token=token)
    assert to_wechat.status == to_balance.status == 201
    approved = await api.post(f"/api/merchant/withdrawals/{to_wechat.body['id']}/approve", {}, token=shop.owner_token)
    assert approved.status == 200 and approved.body["status"] == "paid"
    sent = [t for t in fake_wechatpay.transfers.values() if t["amount"] == 2000]
    assert len(sent) == 1 and sent[0]["openid"].startswith("o_") and sent[0]["api"] == "v3"
    moved = await api.post(f"/api/merchant/withdrawals/{to_balance.body['id']}/approve", {}, token=shop.owner_token)
    assert moved.body["status"] == "paid"
    me = (await api.get(f"/api/mobile/{shop.id}/me", token=token)).body
    centre = (await api.get(f"/api/mobile/{shop.id}/distribution", token=token)).body["commission"]
    assert (me["balance_fen"], centre["withdrawable_fen"], centre["withdrawn_fen"]) == (1000, 2000, 3000)

    fake_wechatpay.fail_transfers = True
    later = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "balance", "target": "wechat",
                                                                 "amount_fen": 500}, token=token)
    stuck = await api.post(f"/api/merchant/withdrawals/{later.body['id']}/approve", {}, token=shop.owner_token)
    assert stuck.status == 200 and stuck.body["status"] == "approved"  # WeChat failed: retried by the job
    fake_wechatpay.fail_transfers = False
    await asyncio.gather(finance.send_transfers(), finance.send_transfers())
    mine = (await api.get(f"/api/mobile/{shop.id}/withdrawals", token=token)).body["items"]
    assert [w["status"] for w in mine] == ["paid", "paid", "paid"]
    assert len([t for t in fake_wechatpay.transfers.values() if t["amount"] == 500]) == 1


async def test_reports_daily_totals_and_streamed_csv(api, make_shop):
    shop = await make_shop()
    member, = await fast_members(shop.id, 1)
    goods = await new_goods(api, shop, price_fen=3000, stock=10)
    kept = await buy(api, shop, member, [{"goods_id": goods["id"], "quantity": 1}], balance=10000)
    refunded = await buy(api, shop, member, [{"goods_id": goods["id"], "quantity": 2}], balance=0)
    await api.post(f"/api/mobile/{shop.id}/orders/{refunded['id']}/refund", {"reason": "x"}, token=member.token)
    await api.post(f"/api/merchant/orders/{refunded['id']}/refund/approve", {}, token=shop.owner_token)
    await api.post(f"/api/merchant/members/{member.id}/balance", {"delta_fen": -1, "remark": "=HYPERLINK(1)"},
                   token=shop.owner_token)
    today = utcnow().strftime("%Y-%m-%d")
    daily = (await api.get(f"/api/merchant/finance/daily?from={today}&to={today}", token=shop.owner_token)).body["items"]
    assert daily == [{"date": today, "paid_fen": kept["total_fen"] + refunded["total_fen"],
                      "refunded_fen": refunded["total_fen"], "recharged_fen": 0, "withdrawn_fen": 0, "commission_fen": 0}]
    ledger = (await api.get("/api/merchant/finance/ledger?currency=balance&page_size=100", token=shop.owner_token)).body
    assert [r["type"] for r in ledger["items"]] == ["adjust", "refund", "order_pay", "order_pay", "adjust"]
    exported = await api.get("/api/merchant/finance/ledger.csv?currency=balance", token=shop.owner_token)
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["id", "created_at", "member_id", "currency", "type"]
    assert [r[4] for r in rows[1:]] == ["adjust", "order_pay", "order_pay", "refund", "adjust"]
    assert rows[-1][-1] == "'=HYPERLINK(1)"  # a formula is exported as text
    only_refunds = (await api.get("/api/merchant/finance/ledger?type=refund", token=shop.owner_token)).body
    assert only_refunds["total"] == 1
    assert_invalid(await api.get("/api/merchant/finance/daily?from=2026-13-01", token=shop.owner_token), "from")
    other = await make_shop()
    assert (await api.get("/api/merchant/finance/ledger", token=other.owner_token)).body["total"] == 0


async def test_randomized_operations_reconcile_every_ledger(api, make_shop):
    """200 random money operations across members; afterwards every ledger sums to the amount it
    explains, frozen commission equals its open rows, and stock + sold is what was stocked.
    The seed is printed; MALL_RECONCILE_SEED=N replays the same operations."""
    seed, rng = seeded("reconcile")
    shop = await distribution_shop(api, make_shop, levels=2)
    await api.patch("/api/merchant/settings", {"balance": {"withdraw_daily_count": 100},
                                               "points": {"deduct_enabled": True}}, token=shop.owner_token)
    members = await chain(api, shop, 3) + await fast_members(shop.id, 3)
    addresses = {m.id: await buyer(api, shop, m, balance_fen=rng.randrange(0, 20000)) for m in members}
    goods = [await new_goods(api, shop, price_fen=rng.randrange(100, 5000), stock=100) for _ in range(3)]
    orders: list[tuple] = []
    withdrawals: list[int] = []
    done = {}

    async def op():
        m = rng.choice(members)
        kind = rng.choice(["adjust", "points", "order", "order", "pay", "cancel", "refund", "complete",
                           "withdraw", "review", "settle"])
        done[kind] = done.get(kind, 0) + 1
        if kind == "adjust":
            await api.post(f"/api/merchant/members/{m.id}/balance", {"delta_fen": rng.randrange(-3000, 5000)},
                           token=shop.owner_token)
        elif kind == "points":
            await api.post(f"/api/merchant/members/{m.id}/points", {"delta": rng.randrange(-50, 500)}, token=shop.owner_token)
        elif kind == "order":
            body = {"items": [{"goods_id": rng.choice(goods)["id"], "quantity": rng.randrange(1, 3)}],
                    "address_id": addresses[m.id], "use_points": rng.random() < 0.5}
            created = await api.post(f"/api/mobile/{shop.id}/orders", body, token=m.token)
            if created.status == 201:
                orders.append((m, created.body["id"]))
        elif kind == "pay" and orders:
            who, order_id = rng.choice(orders)
            await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/pay", {"method": "balance"}, token=who.token)
        elif kind == "cancel" and orders:
            who, order_id = rng.choice(orders)
            await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/cancel", {}, token=who.token)
        elif kind == "refund" and orders:
            who, order_id = rng.choice(orders)
            await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/refund", {"reason": "r"}, token=who.token)
            await api.post(f"/api/merchant/orders/{order_id}/refund/approve", {}, token=shop.owner_token)
        elif kind == "complete" and orders:
            who, order_id = rng.choice(orders)
            await api.post(f"/api/merchant/orders/{order_id}/ship", {"express_company": "SF", "express_no": "1"},
                           token=shop.owner_token)
            await api.post(f"/api/mobile/{shop.id}/orders/{order_id}/confirm", {}, token=who.token)
        elif kind == "withdraw":
            source = rng.choice(["balance", "commission"])
            made = await api.post(f"/api/mobile/{shop.id}/withdrawals", {
                "source": source, "target": "balance" if source == "commission" else "wechat",
                "amount_fen": rng.randrange(100, 3000)}, token=m.token)
            if made.status == 201:
                withdrawals.append(made.body["id"])
        elif kind == "review" and withdrawals:
            target = withdrawals.pop(rng.randrange(len(withdrawals)))
            if rng.random() < 0.5:
                await api.post(f"/api/merchant/withdrawals/{target}/reject", {"reason": "no"}, token=shop.owner_token)
            else:
                await Member.update(openid=Member.id.cast("CHAR")).where(Member.shop_id == shop.id).aio_execute()
                await api.post(f"/api/merchant/withdrawals/{target}/approve", {}, token=shop.owner_token)
        elif kind == "settle":
            await Order.update(completed_at=utcnow() - datetime.timedelta(days=30)).where(
                (Order.shop_id == shop.id) & Order.completed_at.is_null(False)).aio_execute()
            await distribution.settle_commissions()

    for _ in range(200):
        await op()

    assert await violations(shop.id, {g["id"]: 100 for g in goods}) == [], f"seed {seed}"
    assert sum(done.values()) == 200 and len(done) >= 8, (f"seed {seed}", done)

