"""WeChat Pay APIv3 through wechatpayv3 against the fake WeChat Pay server, on both backends:
prepay, signed and encrypted notifications (forged, mismatching, replayed), the query fallback,
automatic refund of a late payment, and WeChat refunds."""
from __future__ import annotations

import asyncio
import datetime
import secrets

from cryptography.hazmat.primitives.asymmetric import rsa

from models.base import utcnow
from models.order import Order, OrderLog
from models.payment import Payment
from services import payment
from tests.builders import ADDRESS, assert_invalid, configure_wechat, eventually, new_goods, notify, place_and_prepay, wechat_shop
from tests.ws_client import WsClient


async def test_wechat_pay_flow_and_replays(server, api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, member_id, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    watcher = await WsClient.connect(server.port, shop.owner_token)
    await watcher.recv_op("authenticated")
    await watcher.subscribe(f"shop:{shop.id}:orders")
    order = await place_and_prepay(api, shop, token, address_id, goods)
    params = order["pay_params"]
    assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
    assert fake_wechatpay.verify_pay_sign(params)  # signed with the merchant key, as WeChat checks it
    assert fake_wechatpay.prepays[order["order_no"]]["amount"]["total"] == 1990

    headers, body = fake_wechatpay.notification(order["order_no"])
    first = await notify(api, shop, headers, body)
    assert first.status == 200 and first.body["code"] == "SUCCESS"
    paid = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body
    assert (paid["status"], paid["pay_method"]) == (1, "wechat")
    assert [(await watcher.recv())["type"] for _ in range(2)] == ["order.created", "order.paid"]

    replays = await asyncio.gather(*(notify(api, shop, headers, body) for _ in range(10)))
    assert all(r.status == 200 and r.body["code"] == "SUCCESS" for r in replays)
    await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "SF", "express_no": "SF1"},
                   token=shop.owner_token)
    late_replay = await notify(api, shop, headers, body)
    assert late_replay.status == 200
    final = (await api.get(f"/api/merchant/orders/{order['id']}", token=shop.owner_token)).body
    assert final["status"] == 2  # a replay never moves a shipped order back
    assert [log["action"] for log in final["logs"]].count("pay") == 1
    assert await Payment.select().where(Payment.order_id == order["id"]).aio_count() == 1
    assert await watcher.nothing_within(0.3)
    watcher.close()


async def test_forged_and_mismatching_notifications_change_nothing(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged_headers, forged_body = fake_wechatpay.notification(order["order_no"], signing_key=impostor)
    forged = await notify(api, shop, forged_headers, forged_body)
    assert forged.status == 401 and forged.body["code"] == "FAIL"
    headers, body = fake_wechatpay.notification(order["order_no"])
    tampered = await notify(api, shop, headers, body.replace(b"TRANSACTION", b"TRANSACTIOM"))
    assert tampered.status == 401
    other_merchant = await notify(api, shop, *fake_wechatpay.notification(order["order_no"], mchid="1234567890"))
    assert other_merchant.status == 400
    garbage = await notify(api, shop, {"Content-Type": "application/json"}, b"{not json")
    assert garbage.status == 401
    still = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body
    assert still["status"] == 0 and still["pay_method"] == ""
    assert await Payment.select().where(Payment.order_id == order["id"]).aio_count() == 0


async def test_money_that_does_not_match_the_order_is_refunded_once(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    headers, body = fake_wechatpay.notification(order["order_no"], amount=1)
    answers = await asyncio.gather(*(notify(api, shop, headers, body) for _ in range(3)))
    assert all(a.status == 200 and a.body["code"] == "SUCCESS" for a in answers)  # WeChat stops retrying
    refunds = [r for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]]
    assert [(r["amount"]["refund"], r["amount"]["total"]) for r in refunds] == [(1, 1)]
    assert (await Payment.aio_get(Payment.order_id == order["id"])).status == "refunded"
    await payment.refund_owed()  # nothing more is owed
    assert len([r for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]]) == 1
    still = (await api.get(f"/api/merchant/orders/{order['id']}", token=shop.owner_token)).body
    assert (still["status"], still["total_fen"]) == (0, 1990) and "amount_mismatch" in [log["action"] for log in still["logs"]]


async def test_the_price_is_frozen_before_wechat_is_asked(api, make_shop, fake_wechat, fake_wechatpay):
    """A merchant's price change racing the prepay call must not leave WeChat holding an amount
    the order no longer has (the money would be stuck): the change is refused once paying starts."""
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=token)).body
    hang_seconds = fake_wechatpay.hang_seconds
    fake_wechatpay.fault, fake_wechatpay.hang_seconds = "hang", 1.0
    try:
        prepay = asyncio.ensure_future(api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "wechat"},
                                                token=token))
        await eventually(lambda: fake_wechatpay.hanging, what="the call to WeChat Pay is in flight")
        changed = await api.post(f"/api/merchant/orders/{order['id']}/price", {"total_fen": 990}, token=shop.owner_token)
        assert changed.status == 409 and changed.body["error"]["code"] == "price_frozen", changed.body
    finally:
        fake_wechatpay.fault, fake_wechatpay.hang_seconds = None, hang_seconds
    assert (await prepay).status == 200
    assert fake_wechatpay.prepays[order["order_no"]]["amount"]["total"] == 1990
    assert (await notify(api, shop, *fake_wechatpay.notification(order["order_no"]))).status == 200
    paid = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body
    assert (paid["status"], paid["total_fen"]) == (1, 1990)


async def test_query_fallback_settles_a_payment_whose_notification_never_came(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    unpaid = await place_and_prepay(api, shop, token, address_id, goods)
    fake_wechatpay.mark_paid(order["order_no"])  # paid at WeChat; the notification is lost
    await Order.update(prepaid_at=utcnow() - datetime.timedelta(minutes=5)).where(
        Order.id.in_([order["id"], unpaid["id"]])).aio_execute()
    await asyncio.gather(payment.settle_unnotified(), payment.settle_unnotified())
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body["status"] == 1
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{unpaid['id']}", token=token)).body["status"] == 0
    assert await Payment.select().where(Payment.order_id == order["id"]).aio_count() == 1


async def test_payment_for_a_closed_order_is_refunded_automatically(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    await api.post(f"/api/merchant/orders/{order['id']}/close", token=shop.owner_token)
    answer = await notify(api, shop, *fake_wechatpay.notification(order["order_no"]))
    assert answer.status == 200  # WeChat must stop retrying; the money goes back
    recorded = await Payment.aio_get(Payment.order_id == order["id"])
    assert recorded.status == "refunded"
    refunds = [r for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]]
    assert len(refunds) == 1 and refunds[0]["amount"]["refund"] == 1990
    detail = (await api.get(f"/api/merchant/orders/{order['id']}", token=shop.owner_token)).body
    assert detail["status"] == -1 and "late_payment" in [log["action"] for log in detail["logs"]]


async def test_wechat_refund_is_sent_once(api, make_shop, fake_wechat, fake_wechatpay):
    shop, token, _, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    await notify(api, shop, *fake_wechatpay.notification(order["order_no"]))
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "尺码不对"}, token=token)
    approvals = await asyncio.gather(*(api.post(f"/api/merchant/orders/{order['id']}/refund/approve",
                                                token=shop.owner_token) for _ in range(4)))
    assert sorted(r.status for r in approvals) == [200, 409, 409, 409]
    await payment.refund_owed()  # the job finds nothing left to send
    refunds = [r for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]]
    assert len(refunds) == 1
    final = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body
    assert (final["status"], final["refund_status"], final["refunded_fen"]) == (-1, "full", final["total_fen"])
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=shop.owner_token)).body["stock"] == 5
    assert await OrderLog.select().where((OrderLog.order_id == order["id"]) & (OrderLog.action == "refund")).aio_count() == 1


async def test_pay_config_validation_and_members_without_wechat(api, make_shop, make_member, fake_wechatpay):
    shop = await make_shop()
    bad = await api.call("PUT", "/api/merchant/payment/wechat",
                         {**fake_wechatpay.merchant_config("wxapp"), "private_key": "not a key"}, token=shop.owner_token)
    assert_invalid(bad, "private_key")
    assert (await api.get("/api/merchant/payment/wechat", token=shop.owner_token)).body == {"configured": False}
    member = await make_member(shop.id)
    address_id = (await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=member.token)).body["id"]
    goods = await new_goods(api, shop)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=member.token)).body
    no_wechat = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "wechat"}, token=member.token)
    assert no_wechat.status == 409 and no_wechat.body["error"]["code"] == "wechat_not_bound"
    unknown_shop = await api.call("POST", "/api/pay/wechat/v3/notify/999999999", raw=b"{}")
    assert unknown_shop.status == 404 and unknown_shop.body["code"] == "FAIL"


async def test_wechat_pay_apiv2_flow(api, make_shop, fake_wechat, fake_wechatpay):
    from wechatpy.pay.utils import calculate_signature

    shop = await make_shop()
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    saved = await api.call("PUT", "/api/merchant/payment/wechat", fake_wechatpay.v2_merchant_config(mini),
                           token=shop.owner_token)
    assert saved.status == 200 and saved.body["api_version"] == "v2" and "v2_api_key" not in saved.body
    code = fake_wechat.login_code(mini, "o_" + secrets.token_hex(6))
    login = await api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": code})
    token = login.body["token"]
    address_id = (await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=token)).body["id"]
    goods = await new_goods(api, shop, price_fen=990, stock=3)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    params = dict(order["pay_params"])
    assert params["signType"] == "MD5" and params.pop("paySign") == calculate_signature(params, fake_wechatpay.v2_api_key)
    path = f"/api/pay/wechat/v2/notify/{shop.id}"

    forged = await api.call("POST", path, raw=fake_wechatpay.v2_notification(order["order_no"], api_key="x" * 32))
    assert forged.status == 401 and b"FAIL" in forged.body["_raw"].encode()
    wrong_amount = await api.call("POST", path, raw=fake_wechatpay.v2_notification(
        order["order_no"], amount=1, transaction_id="4200" + secrets.token_hex(12)))
    assert wrong_amount.status == 200  # taken, and the 1 fen goes back
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body["status"] == 0
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]] == [1]

    notification = fake_wechatpay.v2_notification(order["order_no"])
    answers = await asyncio.gather(*(api.call("POST", path, raw=notification) for _ in range(10)))
    assert all(a.status == 200 and "<return_code><![CDATA[SUCCESS]]>" in a.body["_raw"] for a in answers)
    paid = (await api.get(f"/api/merchant/orders/{order['id']}", token=shop.owner_token)).body
    assert (paid["status"], paid["pay_method"]) == (1, "wechat")
    assert [log["action"] for log in paid["logs"]].count("pay") == 1

    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "不要了"}, token=token)
    approved = await api.post(f"/api/merchant/orders/{order['id']}/refund/approve", token=shop.owner_token)
    assert approved.status == 200
    final = (await api.get(f"/api/mobile/{shop.id}/orders/{order['id']}", token=token)).body
    assert (final["refund_status"], final["refunded_fen"]) == ("full", 990)
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values() if r["out_trade_no"] == order["order_no"]] == [1, 990]

    queried = await place_and_prepay(api, shop, token, address_id, goods)
    fake_wechatpay.mark_paid(queried["order_no"])
    await Order.update(prepaid_at=utcnow() - datetime.timedelta(minutes=5)).where(Order.id == queried["id"]).aio_execute()
    await payment.settle_unnotified()
    assert (await api.get(f"/api/mobile/{shop.id}/orders/{queried['id']}", token=token)).body["status"] == 1
