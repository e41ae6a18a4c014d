"""Paying an order: from the balance (a ledger debit in the payment's own transaction) or with
WeChat Pay (the prepay call here; the money arrives through services/payment, which verifies it
and hands it to `apply_wechat_payment`, the orders' side of one settle path).

Time is state: an order is payable until `expires_at`; money reaching us at or after that
instant is not counted (balance: refused; WeChat: closed and refunded by services/payment)."""
from __future__ import annotations

import datetime
import logging

import events
from lib.errors import ServiceUnavailable, conflict
from models.base import utcnow
from models.finance import BALANCE
from models.member import Member
from models.order import PAID, UNPAID, Order, OrderLog
from services import finance, payment
from services.orders import lifecycle
from services.orders.fulfilment import cancel_order
from services.orders.state import emit, get_order, invalid_state, items_of, render_order, transition

log = logging.getLogger("mall.order")

QUERY_AFTER_S = 60  # a prepaid order with no notification this long is asked about


async def _paid(order: Order) -> list:
    """Inside the payment's transaction, once the order moved to paid: every domain reacts (a
    group-buy may refuse with PaymentRefused), then the member and the shop hear of it."""
    items = await items_of(order)
    await lifecycle.announce(lifecycle.PAID, order, items)
    await emit(order, UNPAID, "order.paid")
    return items


async def pay_with_balance(shop_id: int, member: Member, order_id: int) -> dict:
    async def pay():
        now = utcnow()
        order = await transition(shop_id, order_id, [UNPAID], "pay", f"member:{member.id}",
                                 {"status": PAID, "pay_method": "balance", "paid_at": now},
                                 extra=(Order.member_id == member.id) & (Order.expires_at > now))
        if order is None:
            current = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)
                                                  & (Order.member_id == member.id))
            if current is not None and current.status == UNPAID:
                raise conflict("order_expired", "the order was not paid in time")
            raise invalid_state(current, "pay")
        await finance.change_credit(shop_id, member.id, BALANCE, -order.total_fen, "order_pay", reference=order.order_no)
        try:
            return order, await _paid(order)
        except lifecycle.PaymentRefused as refused:
            raise conflict(refused.code, f"{refused.message}; nothing was charged") from None
    order, items = await events.transaction(pay)
    return render_order(order, items)


async def wechat_prepay(shop_id: int, member: Member, order_id: int, client_ip: str) -> dict:
    """WeChat Pay parameters for an unpaid order. The order's price is frozen (`prepaid_at`)
    before WeChat is asked, and the amount sent is the one read after freezing: a price change
    racing the call either lands first (and WeChat gets the new amount) or is refused."""
    order = await get_order(shop_id, order_id, member.id)
    if order.status != UNPAID:
        raise invalid_state(order, "pay")
    if order.expires_at <= utcnow():
        raise conflict("order_expired", "the order was not paid in time")
    if not member.openid:
        raise conflict("wechat_not_bound", "log in with WeChat to pay with WeChat Pay")
    provider = await payment.provider_for(shop_id)
    now = utcnow()

    async def freeze():
        frozen = await Order.update(prepaid_at=now).where(
            (Order.shop_id == shop_id) & (Order.id == order_id) & (Order.status == UNPAID)
            & (Order.expires_at > now)).aio_execute()
        return frozen, await get_order(shop_id, order_id, member.id)
    frozen, order = await events.transaction(freeze)
    if not frozen:
        raise invalid_state(order, "pay")
    title = (await items_of(order))[0].title
    try:
        params = await provider.prepay(order.order_no, order.total_fen, title, member.openid, client_ip)
    except payment.ProviderError as exc:
        log.warning("prepay failed for %s: %s", order.order_no, exc)
        raise ServiceUnavailable("payment_unavailable", "WeChat Pay is unavailable; retry shortly") from None
    return {"order_id": order.id, "pay_params": params}


# ---------------------------------------------------------------- the orders' side of services/payment
async def order_for_trade_no(shop_id: int, trade_no: str) -> int | None:
    row = await Order.select(Order.id).where((Order.shop_id == shop_id) & (Order.order_no == trade_no)).aio_first()
    return row.id if row else None


async def apply_wechat_payment(shop_id: int, order_id: int, notice: payment.PaidNotice,
                               paid_at: datetime.datetime) -> bool:
    """Inside the settle transaction: pay the order with this money, or say it cannot be applied
    (False: services/payment refunds it) — another amount than the order's, an order closed
    meanwhile or past its deadline at `paid_at`, a group-buy seat that is gone. An unpaid order
    the money came too late for is closed now; the order log says why the money went back."""
    try:
        async with events.atomic():  # a savepoint: a refused seat rolls the payment back
            order = await transition(shop_id, order_id, [UNPAID], "pay", "wechat",
                                     {"status": PAID, "pay_method": "wechat", "paid_at": paid_at},
                                     extra=(Order.expires_at > paid_at) & (Order.total_fen == notice.amount_fen),
                                     note=notice.transaction_id)
            if order is not None:
                await _paid(order)
                return True
    except lifecycle.PaymentRefused as refused:
        await cancel_order(shop_id, order_id, "wechat", refused.code)
    current = await get_order(shop_id, order_id)
    if current.total_fen != notice.amount_fen:
        action = "amount_mismatch"  # the order stays as it is; only this money goes back
        log.error("WeChat payment %s of %s fen for order %s (%s fen) is refunded", notice.transaction_id,
                  notice.amount_fen, current.order_no, current.total_fen)
    else:
        action = "late_payment"  # paid after the order closed or its deadline passed, or paid twice
        await cancel_order(shop_id, order_id, "wechat", "payment_timeout")  # unpaid and overdue: closed now
    await OrderLog.aio_create(shop_id=shop_id, order_id=order_id, action=action, actor="wechat",
                              note=notice.transaction_id)
    return False


async def prepaid_without_notice(limit: int) -> list[tuple[int, str]]:
    """(shop id, trade number) of unpaid orders prepaid a while ago: WeChat is asked about them."""
    due = await (Order.select(Order.shop_id, Order.order_no)
                 .where((Order.status == UNPAID) & (Order.prepaid_at <= utcnow() - datetime.timedelta(seconds=QUERY_AFTER_S)))
                 .order_by(Order.id).limit(limit).aio_execute())
    return [(row.shop_id, row.order_no) for row in due]
