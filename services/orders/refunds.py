"""Refunds of paid orders: the member asks, the merchant approves or rejects; a failed group-buy
team refunds its paid orders by itself. A refund gives back everything the order moved — money
(balance at once; WeChat through services/payment, once), stock (per the shop's setting), coupons
and points spent — and the `refunded` reactions undo what other domains did when it was paid or
completed (seat, reward points, spending and level, commission, sales counters)."""
from __future__ import annotations

import datetime

import events
from lib.errors import conflict
from models.base import utcnow
from models.finance import BALANCE
from models.member import Member
from models.order import (
    CANCELLED,
    COMPLETED,
    PAID,
    REFUND_APPROVED,
    REFUND_NONE,
    REFUND_REFUNDED,
    REFUND_REJECTED,
    REFUND_REQUESTED,
    SHIPPED,
    Order,
)
from services import audit, finance, payment, sysset
from services.orders import lifecycle
from services.orders.fulfilment import give_back
from services.orders.state import emit, get_order, invalid_state, items_of, order_detail, transition


async def request_refund(shop_id: int, member: Member, order_id: int, reason: str) -> dict:
    settings = await sysset.get_settings(shop_id)
    window_start = utcnow() - datetime.timedelta(days=settings.order.refund_window_days)

    async def request():
        in_window = (Order.status.in_([PAID, SHIPPED])) | (Order.completed_at >= window_start)
        order = await transition(
            shop_id, order_id, [PAID, SHIPPED, COMPLETED], "refund_request", f"member:{member.id}",
            {"refund_status": REFUND_REQUESTED, "refund_reason": reason},
            extra=(Order.member_id == member.id) & Order.refund_status.in_([REFUND_NONE, REFUND_REJECTED]) & in_window,
            note=reason)
        if order is None:
            current = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)
                                                  & (Order.member_id == member.id))
            if current is not None and current.status == COMPLETED and current.refund_status in (REFUND_NONE, REFUND_REJECTED):
                raise conflict("refund_window_closed", "the refund window for this order has closed")
            raise invalid_state(current, "request a refund for")
        await emit(order, order.previous_status, "refund.requested", reason=reason)
    await events.transaction(request)
    return await order_detail(shop_id, order_id, member.id)


async def refund_paid_order(shop_id: int, order_id: int, from_status: list[int], action: str, actor: str, *,
                            extra=None, restock: bool = True, operator_id: int | None = None,
                            changes: dict | None = None) -> Order | None:
    """Inside a transaction: close a paid order and give back all it moved — balance at once,
    WeChat by owing the payment's refund (services/payment sends it after commit, or its job does).
    Returns the order as it now is, or None when its state did not allow it."""
    wechat = (await get_order(shop_id, order_id)).pay_method == "wechat"
    order = await transition(
        shop_id, order_id, from_status, action, actor,
        {"refund_status": REFUND_APPROVED if wechat else REFUND_REFUNDED, "status": CANCELLED, **(changes or {}),
         **({} if wechat else {"refunded_at": utcnow()})}, extra=extra)
    if order is None:
        return None
    if wechat:
        await payment.owe_refund(order_id)
    else:
        await finance.change_credit(shop_id, order.member_id, BALANCE, order.total_fen, "refund",
                                    reference=order.order_no, operator_id=operator_id)
    items = await items_of(order)
    await give_back(order, items, "refund" if restock else None, refunded=True)
    await lifecycle.announce(lifecycle.REFUNDED, order, items)
    await emit(order, order.previous_status)
    return order


async def approve_refund(shop_id: int, order_id: int, staff_id: int) -> dict:
    """The merchant approves a requested refund: exactly once, however often it is clicked.
    Stock goes back per the shop's settings."""
    settings = await sysset.get_settings(shop_id)

    async def approve():
        order = await refund_paid_order(shop_id, order_id, [PAID, SHIPPED, COMPLETED], "refund_approve",
                                        f"staff:{staff_id}", extra=Order.refund_status == REFUND_REQUESTED,
                                        restock=settings.order.restock_on_refund, operator_id=staff_id)
        if order is None:
            raise invalid_state(await get_order(shop_id, order_id), "approve a refund for")
        await audit.record(shop_id, "order.refund.approve", "order", order_id, {"status": "refund requested"},
                           {"refund_status": order.refund_status, "refunded_fen": order.total_fen})
    await events.transaction(approve)
    await payment.refund_owed(order_id=order_id)
    return await order_detail(shop_id, order_id, merchant=True)


async def reject_refund(shop_id: int, order_id: int, staff_id: int, reason: str) -> dict:
    async def reject():
        order = await transition(shop_id, order_id, [PAID, SHIPPED, COMPLETED], "refund_reject", f"staff:{staff_id}",
                                 {"refund_status": REFUND_REJECTED, "refund_reject_reason": reason},
                                 extra=Order.refund_status == REFUND_REQUESTED, note=reason)
        if order is None:
            raise invalid_state(await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)),
                                "reject a refund for")
        await audit.record(shop_id, "order.refund.reject", "order", order_id, {"refund_status": REFUND_REQUESTED},
                           {"refund_status": REFUND_REJECTED}, note=reason)
        await emit(order, order.previous_status)
    await events.transaction(reject)
    return await order_detail(shop_id, order_id, merchant=True)


async def refund_for_failed_team(shop_id: int, order_id: int) -> bool:
    """A paid order of a team that failed: closed, refunded, restocked — exactly once; False if
    it was not a paid order any more."""
    async def refund() -> bool:
        return await refund_paid_order(shop_id, order_id, [PAID], "team_failed_refund", "system",
                                       changes={"cancel_reason": "team_failed"}) is not None
    done = await events.transaction(refund)
    if done and not events.in_transaction():
        await payment.refund_owed(order_id=order_id)
    return done

