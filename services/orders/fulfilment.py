"""After payment, and the ways an unpaid order ends: cancel (stock, coupons and points back, once),
ship, complete (confirmed by the member, by the auto-confirm job, or redeemed in store),
merchant edits of unpaid orders, and the timed jobs that apply the deadlines."""
from __future__ import annotations

import datetime
import json

import events
from lib.errors import conflict, not_found
from models.aftersale import OPEN, REFUND, REQUESTED, AfterSale
from models.base import utcnow
from models.finance import POINTS
from models.member import Member
from models.order import CANCELLED, COMPLETED, PAID, SHIPPED, UNPAID, Order, OrderItem
from services import audit, finance, goods, sale, sysset
from services.orders import lifecycle
from services.orders.state import emit, get_order, invalid_state, items_of, order_detail, transition

JOB_BATCH = 200  # orders a job handles per run; the next run takes the rest


def _open_aftersale(order_ids_of=Order.id, statuses=OPEN, types=None):
    """Orders with an after-sale in one of `statuses` (of `types`), for a transition's condition."""
    query = AfterSale.select(AfterSale.order_id).where(AfterSale.status.in_(list(statuses)))
    if types:
        query = query.where(AfterSale.type.in_(list(types)))
    return order_ids_of.in_(query)


async def put_back(order: Order, units: list, reason: str, reference: str) -> None:
    """Units of an order going back on sale (cancelled, or returned and restocked). A flash-sale
    order's units came from its sale's pool: the `restock` reactions put them back there while the
    sale runs (else on the goods), so a unit is never counted twice; any other order's go on the goods."""
    if order.flash_item_id is not None:
        await lifecycle.announce(lifecycle.RESTOCK, order, units)
        return
    for unit in units:
        await goods.change_stock(order.shop_id, unit.goods_id, unit.sku_id, unit.quantity, reason, reference=reference)


async def give_back(order: Order, items: list, reason: str) -> None:
    """Inside the cancelling transaction: undo what placing took from the order's own inputs —
    stock, the points it spent, its coupons. (Paid orders give back through after-sales.)"""
    await put_back(order, items, reason, order.order_no)
    await OrderItem.update(restocked_quantity=OrderItem.quantity).where(OrderItem.order_id == order.id).aio_execute()
    if order.points_used:
        await finance.change_credit(order.shop_id, order.member_id, POINTS, order.points_used, "order_deduct_return",
                                    reference=order.order_no)
    await sale.return_for_order(order)


async def cancel_order(shop_id: int, order_id: int, actor: str, reason: str, member_id: int | None = None) -> bool:
    """Close an unpaid order and give back what it took, once. False if it was not unpaid."""
    async def cancel() -> bool:
        extra = (Order.member_id == member_id) if member_id is not None else None
        order = await transition(shop_id, order_id, [UNPAID], "cancel", actor,
                                 {"status": CANCELLED, "cancelled_at": utcnow(), "cancel_reason": reason},
                                 extra=extra, note=reason)
        if order is None:
            return False
        items = await items_of(order)
        await give_back(order, items, "release")
        await lifecycle.announce(lifecycle.CANCELLED, order, items)
        await emit(order, UNPAID)
        return True
    return await events.transaction(cancel)


async def ship_order(shop_id: int, order_id: int, staff_id: int, express_company: str, express_no: str) -> dict:
    settings = await sysset.get_settings(shop_id)
    order = await get_order(shop_id, order_id)
    if order.imported:
        raise invalid_state(order, "ship")
    await lifecycle.announce(lifecycle.SHIPPING, order, [])  # a group-buy order ships once its team is complete

    async def ship():
        now = utcnow()
        moved = await transition(
            shop_id, order_id, [PAID], "ship", f"staff:{staff_id}",
            {"status": SHIPPED, "shipped_at": now, "express_company": express_company, "express_no": express_no,
             "auto_confirm_at": now + datetime.timedelta(days=settings.order.auto_confirm_days)},
            extra=~_open_aftersale(statuses=[REQUESTED], types=[REFUND]), note=f"{express_company} {express_no}")
        if moved is None:
            raise invalid_state(await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)), "ship")
        await emit(moved, PAID)
    await events.transaction(ship)
    return await order_detail(shop_id, order_id, merchant=True)


async def _complete(shop_id: int, order_id: int, from_status: list[int], action: str, actor: str,
                    extra=None, note: str = "") -> bool:
    """-> completed, once; what completing earns (spending, levels, points) is credited by the
    `completed` reactions in the same transaction, on what was paid less what was refunded.
    False when the order was not in `from_status` (or has an after-sale still open: it completes
    once that ends)."""
    async def complete() -> bool:
        condition = ~_open_aftersale()
        if extra is not None:
            condition &= extra
        order = await transition(shop_id, order_id, from_status, action, actor,
                                 {"status": COMPLETED, "completed_at": utcnow(),
                                  "completed_fen": Order.total_fen - Order.refunded_fen}, extra=condition, note=note)
        if order is None:
            return False
        order.completed_fen = order.total_fen - order.refunded_fen  # the number the UPDATE stored, not its expression
        await lifecycle.announce(lifecycle.COMPLETED, order, [])
        await emit(order, order.previous_status)
        return True
    return await events.transaction(complete)


async def confirm_order(shop_id: int, order_id: int, actor: str, member_id: int | None = None) -> bool:
    """Shipped -> completed (by the member, or the auto-confirm job)."""
    return await _complete(shop_id, order_id, [SHIPPED], "confirm", actor,
                           extra=(Order.member_id == member_id) if member_id is not None else None)


async def redeem_pickup(shop_id: int, code: str, staff_id: int) -> dict:
    """In-store pick-up (核销): the clerk enters or scans the member's code; paid -> completed once."""
    order = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.pickup_code == code))
    if order is None:
        raise not_found("pickup code")
    if not await _complete(shop_id, order.id, [PAID], "redeem", f"staff:{staff_id}", note=code):
        raise invalid_state(await get_order(shop_id, order.id), "redeem")
    return await order_detail(shop_id, order.id, merchant=True)


async def cancel_by_member(shop_id: int, member: Member, order_id: int) -> dict:
    if not await cancel_order(shop_id, order_id, f"member:{member.id}", "member_cancel", member_id=member.id):
        raise invalid_state(await get_order(shop_id, order_id, member.id), "cancel")
    return await order_detail(shop_id, order_id, member.id)


async def close_by_merchant(shop_id: int, order_id: int, staff_id: int) -> dict:
    if not await cancel_order(shop_id, order_id, f"staff:{staff_id}", "merchant_close"):
        raise invalid_state(await get_order(shop_id, order_id), "close")
    return await order_detail(shop_id, order_id, merchant=True)


async def confirm_by_member(shop_id: int, member: Member, order_id: int) -> dict:
    if not await confirm_order(shop_id, order_id, f"member:{member.id}", member_id=member.id):
        raise invalid_state(await get_order(shop_id, order_id, member.id), "confirm")
    return await order_detail(shop_id, order_id, member.id)


# ---------------------------------------------------------------- merchant edits
async def change_price(shop_id: int, order_id: int, staff_id: int, total_fen: int) -> dict:
    """Set what an unpaid order costs (a negotiated price); audited with before and after. Refused
    once the shopper started paying with WeChat Pay (the amount WeChat holds is frozen)."""
    async def change():
        order = await get_order(shop_id, order_id)
        adjustment = total_fen - (order.total_fen - order.price_adjustment_fen)
        moved = await transition(shop_id, order_id, [UNPAID], "change_price", f"staff:{staff_id}",
                                 {"total_fen": total_fen, "price_adjustment_fen": adjustment},
                                 extra=(Order.total_fen == order.total_fen) & Order.prepaid_at.is_null(),
                                 note=json.dumps({"before_fen": order.total_fen, "after_fen": total_fen}))
        if moved is None:
            current = await get_order(shop_id, order_id)
            if current.status == UNPAID and current.prepaid_at is not None:
                raise conflict("price_frozen", "the shopper has started paying with WeChat Pay: its price is frozen "
                               "(close the order instead)")
            raise invalid_state(current, "change the price of")
        await audit.record(shop_id, "order.change_price", "order", order_id, {"total_fen": order.total_fen},
                           {"total_fen": total_fen})
        await emit(moved, UNPAID)
    await events.transaction(change)
    return await order_detail(shop_id, order_id, merchant=True)


async def set_merchant_remark(shop_id: int, order_id: int, remark: str) -> dict:
    await get_order(shop_id, order_id)
    await Order.update(merchant_remark=remark).where((Order.shop_id == shop_id) & (Order.id == order_id)).aio_execute()
    return await order_detail(shop_id, order_id, merchant=True)


async def confirm_after_delivery(shop_id: int, express_company: str, express_no: str,
                                 confirm_at: datetime.datetime) -> int:
    """The tracking provider saw the parcel delivered: the shipped orders it carries confirm at
    `confirm_at` if that is sooner than their deadline (the auto-confirm job applies it at that
    instant). Moving a deadline only earlier makes this safe to repeat and to race."""
    return await Order.update(auto_confirm_at=confirm_at).where(
        (Order.shop_id == shop_id) & (Order.express_no == express_no) & (Order.express_company == express_company)
        & (Order.status == SHIPPED) & (Order.auto_confirm_at.is_null() | (Order.auto_confirm_at > confirm_at))
    ).aio_execute()


# ---------------------------------------------------------------- timed jobs
async def cancel_expired_orders() -> int:
    """Unpaid orders past their deadline, in every shop; safe in N processes at once."""
    due = await (Order.select(Order.shop_id, Order.id).where((Order.status == UNPAID) & (Order.expires_at <= utcnow()))
                 .order_by(Order.id).limit(JOB_BATCH).aio_execute())
    cancelled = 0
    for order in due:
        cancelled += await cancel_order(order.shop_id, order.id, "system", "payment_timeout")
    return cancelled


async def auto_confirm_orders() -> int:
    due = await (Order.select(Order.shop_id, Order.id)
                 .where((Order.status == SHIPPED) & (Order.auto_confirm_at <= utcnow()))
                 .order_by(Order.id).limit(JOB_BATCH).aio_execute())
    confirmed = 0
    for order in due:
        confirmed += await confirm_order(order.shop_id, order.id, "system")
    return confirmed
