"""Orders: creation, the status machine of API.md, refunds, and the timed jobs' rules.

Every transition is one conditional UPDATE on the current state inside a transaction that also
writes the order log and the outbox events, so running it twice — two clicks, two processes, a
job and a member at once — changes nothing the second time (409 `invalid_state` for a person,
silently skipped for a job). Stock is taken per line with conditional updates in one transaction
(all lines or none) and given back exactly once, by whichever transition closes the order.
"""
from __future__ import annotations

import datetime
import json
import logging
import secrets

import peewee

import events
from lib.errors import ApiError, conflict, forbidden, not_found
from models.base import iso, paginate, utcnow
from models.db import retry_on_deadlock
from models.finance import BALANCE, POINTS
from models.goods import Goods
from models.member import Address, Member
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
    STATUS_NAMES,
    UNPAID,
    Order,
    OrderItem,
    OrderLog,
)
from models.payment import PAID as PAYMENT_PAID
from models.payment import REFUND_PENDING, Payment
from models.payment import REFUNDED as PAYMENT_REFUNDED
from services import audit, distribution, finance, payment, pricing, sale, sysset
from services import goods as goods_service
from services import member as member_service

log = logging.getLogger("mall.order")

JOB_BATCH = 200  # orders a job handles per run; the next run takes the rest
QUERY_AFTER_S = 60  # a prepaid order with no notification this long is asked about


def render_order(order: Order, items: list[OrderItem], logs: list[OrderLog] | None = None,
                 merchant: bool = False) -> dict:
    data = {
        "id": order.id, "order_no": order.order_no, "member_id": order.member_id, "status": order.status,
        "status_name": STATUS_NAMES[order.status], "refund_status": order.refund_status,
        "goods_total_fen": order.goods_total_fen, "level_discount_fen": order.level_discount_fen,
        "coupon_discount_fen": order.coupon_discount_fen, "full_reduction_fen": order.full_reduction_fen,
        "points_deduction_fen": order.points_deduction_fen, "points_used": order.points_used,
        "discounts": json.loads(order.discounts), "shipping_fee_fen": order.shipping_fee_fen,
        "price_adjustment_fen": order.price_adjustment_fen, "total_fen": order.total_fen,
        "pay_method": order.pay_method, "address": json.loads(order.address), "remark": order.remark,
        "express_company": order.express_company, "express_no": order.express_no,
        "refund_reason": order.refund_reason, "refund_reject_reason": order.refund_reject_reason,
        "cancel_reason": order.cancel_reason, "expires_at": iso(order.expires_at),
        "auto_confirm_at": iso(order.auto_confirm_at), "paid_at": iso(order.paid_at),
        "shipped_at": iso(order.shipped_at), "completed_at": iso(order.completed_at),
        "created_at": iso(order.created_at), "team_id": order.team_id, "activity_id": order.activity_id,
        "pickup_code": order.pickup_code if order.status == PAID else None,
        "items": [{"goods_id": i.goods_id, "sku_id": i.sku_id, "title": i.title, "sku_title": i.sku_title,
                   "image": i.image, "price_fen": i.price_fen, "quantity": i.quantity, "total_fen": i.total_fen}
                  for i in items],
    }
    if merchant:
        data["merchant_remark"] = order.merchant_remark
    if logs is not None:
        data["logs"] = [{"action": log.action, "from_status": log.from_status, "to_status": log.to_status,
                         "actor": log.actor, "note": log.note, "created_at": iso(log.created_at)} for log in logs]
    return data


async def _items(order: Order) -> list[OrderItem]:
    return list(await OrderItem.select().where(OrderItem.order_id == order.id).order_by(OrderItem.id).aio_execute())


async def get_order(shop_id: int, order_id: int, member_id: int | None = None) -> Order:
    where = (Order.shop_id == shop_id) & (Order.id == order_id)
    if member_id is not None:
        where &= Order.member_id == member_id
    order = await Order.aio_get_or_none(where)
    if order is None:
        raise not_found("order")
    return order


async def order_detail(shop_id: int, order_id: int, member_id: int | None = None, merchant: bool = False) -> dict:
    order = await get_order(shop_id, order_id, member_id)
    logs = None
    if merchant:
        logs = list(await OrderLog.select().where(OrderLog.order_id == order.id).order_by(OrderLog.id).aio_execute())
    return render_order(order, await _items(order), logs, merchant)


async def list_orders(shop_id: int, page: int, page_size: int, *, member_id: int | None = None,
                      status: int | None = None, q: str | None = None, merchant: bool = False) -> dict:
    query = Order.select().where(Order.shop_id == shop_id).order_by(Order.id.desc())
    if member_id is not None:
        query = query.where(Order.member_id == member_id)
    if status is not None:
        query = query.where(Order.status == status)
    if q:
        query = query.where(Order.order_no.startswith(q))
    result = await paginate(query, page, page_size, lambda o: o)
    ids = [o.id for o in result["items"]]
    items: dict[int, list] = {}
    for item in await OrderItem.select().where(OrderItem.order_id.in_(ids or [0])).order_by(OrderItem.id).aio_execute():
        items.setdefault(item.order_id, []).append(item)
    result["items"] = [render_order(o, items.get(o.id, []), merchant=merchant) for o in result["items"]]
    return result


# ---------------------------------------------------------------- events and transitions
async def _emit(order: Order, previous_status: int | None, shop_event: str | None = None, **shop_data) -> None:
    await events.record(f"member:{order.member_id}", "order.status", {
        "order_id": order.id, "order_no": order.order_no, "status": order.status,
        "previous_status": previous_status, "refund_status": order.refund_status})
    if shop_event:
        await events.record(f"shop:{order.shop_id}:orders", shop_event, {
            "order_id": order.id, "order_no": order.order_no, "member_id": order.member_id,
            "total_fen": order.total_fen, "status": order.status, **shop_data})


async def _transition(shop_id: int, order_id: int, from_status, action: str, actor: str, changes: dict,
                      extra=None, note: str = "") -> Order | None:
    """Conditional UPDATE from one of `from_status` (and `extra`), logged. Call inside a
    transaction. Returns the order as it was before, or None when its state did not match."""
    mine = (Order.shop_id == shop_id) & (Order.id == order_id)
    # lock the row first, so the state read next is the one the conditional UPDATE acts on
    # (a concurrent price change cannot slip between reading the total and charging it)
    await Order.update(updated_at=Order.updated_at).where(mine).aio_execute()
    before = await Order.aio_get_or_none(mine)
    if before is None:
        return None
    where = mine & Order.status.in_(list(from_status))
    if extra is not None:
        where &= extra
    if not await Order.update(**changes, updated_at=utcnow()).where(where).aio_execute():
        return None
    await OrderLog.aio_create(shop_id=shop_id, order_id=order_id, action=action, from_status=before.status,
                              to_status=changes.get("status", before.status), actor=actor, note=note)
    return before


def invalid_state(order: Order | None, doing: str) -> ApiError:
    if order is None:
        return not_found("order")
    return conflict("invalid_state", f"cannot {doing} an order that is {STATUS_NAMES[order.status]}"
                    f"{'' if order.refund_status == REFUND_NONE else f' (refund {order.refund_status})'}",
                    {"status": order.status, "refund_status": order.refund_status})


async def _release_stock(order: Order, reason: str) -> None:
    for item in await _items(order):
        await goods_service.change_stock(order.shop_id, item.goods_id, item.sku_id, item.quantity, reason,
                                         reference=order.order_no)


async def _return_promotions(order: Order, refunded: bool) -> None:
    """Inside the cancelling or refunding transaction: the points it spent come back; its
    coupons too, unless it was refunded and the shop keeps coupons of refunded orders."""
    if order.points_used:
        await finance.change_credit(order.shop_id, order.member_id, POINTS, order.points_used, "order_deduct_return",
                                    reference=order.order_no)
    if not refunded or (await sysset.get_settings(order.shop_id)).sale.return_coupon_on_refund:
        await sale.return_for_order(order)


# ---------------------------------------------------------------- creation
async def preview(shop_id: int, member: Member, items: list[dict], coupon_ids: list[int], use_points: bool) -> dict:
    lines = await pricing.load_lines(shop_id, items)
    return (await pricing.price(shop_id, member, lines, coupon_ids, use_points=use_points)).render()


async def _check_purchase_limits(shop_id: int, member_id: int, lines) -> None:
    for line in lines:
        limit = line.goods.purchase_limit
        if not limit:
            continue
        bought = await (OrderItem.select(OrderItem.quantity).join(Order, on=(OrderItem.order_id == Order.id))
                        .where((Order.shop_id == shop_id) & (Order.member_id == member_id)
                               & (Order.status != CANCELLED) & (OrderItem.goods_id == line.goods.id)).aio_execute())
        if sum(row.quantity for row in bought) + line.quantity > limit:
            raise conflict("purchase_limit_exceeded", f"at most {limit} of {line.goods.title} per member",
                           {"goods_id": line.goods.id, "limit": limit})


async def address_snapshot(shop_id: int, member: Member, address_id: int) -> dict:
    """The checks every order starts with: the member may order, the address is theirs."""
    if member.is_blacklisted:
        raise forbidden("member_blacklisted", "this account may not place orders; contact the shop")
    address = await Address.aio_get_or_none((Address.shop_id == shop_id) & (Address.member_id == member.id)
                                            & (Address.id == address_id))
    if address is None:
        raise not_found("address")
    return {f: getattr(address, f) for f in ("name", "mobile", "province", "city", "district", "detail")}


async def place_order(shop_id: int, member: Member, priced: pricing.Priced, snapshot: dict, settings,
                      remark: str = "", team_id: int | None = None, activity_id: int | None = None) -> Order:
    """Take stock for every line and write the order, inside the caller's transaction."""
    order_no = payment.trade_no()
    for line in priced.lines:  # sorted by (goods, sku): the lock order every writer uses
        await goods_service.change_stock(shop_id, line.goods.id, line.sku.id if line.sku else None,
                                         -line.quantity, "order", reference=order_no, goods=line.goods)
    order = await Order.aio_create(
        shop_id=shop_id, member_id=member.id, order_no=order_no, goods_total_fen=priced.goods_total_fen,
        level_discount_fen=priced.level_discount_fen, coupon_discount_fen=priced.coupon_discount_fen,
        full_reduction_fen=priced.full_reduction_fen, points_deduction_fen=priced.points_deduction_fen,
        points_used=priced.points_used, discounts=json.dumps(priced.discounts, ensure_ascii=False),
        shipping_fee_fen=priced.shipping_fee_fen, total_fen=priced.total_fen, coupon_id=priced.coupon_id,
        address=json.dumps(snapshot, ensure_ascii=False), remark=remark, team_id=team_id,
        activity_id=activity_id,
        expires_at=utcnow() + datetime.timedelta(minutes=settings.order.unpaid_cancel_minutes))
    rows = [{"shop_id": shop_id, "order_id": order.id, **line.render()} for line in priced.lines]
    await OrderItem.insert_many(rows).aio_execute()
    order.placed_items = [OrderItem(**row) for row in rows]  # to answer without reading them back
    if priced.coupons:
        await sale.use_for_order(order, priced.coupons)
    if priced.points_used:
        await finance.change_credit(shop_id, member.id, POINTS, -priced.points_used, "order_deduct", reference=order_no)
    await distribution.on_order_created(order, member)
    await OrderLog.aio_create(shop_id=shop_id, order_id=order.id, action="create", to_status=UNPAID,
                              actor=f"member:{member.id}")
    await _emit(order, None, "order.created")
    return order


async def create_order(shop_id: int, member: Member, items: list[dict], address_id: int,
                       coupon_ids: list[int], remark: str, use_points: bool = False) -> dict:
    snapshot = await address_snapshot(shop_id, member, address_id)
    settings = await sysset.get_settings(shop_id)

    async def attempt() -> Order:
        lines = await pricing.load_lines(shop_id, items)
        priced = await pricing.price(shop_id, member, lines, coupon_ids, settings, use_points)
        async with events.atomic():
            if any(line.goods.purchase_limit for line in lines):
                # one such order at a time per member, so purchase limits hold under concurrency
                await member_service.lock_member(member.id)
                await _check_purchase_limits(shop_id, member.id, lines)
            return await place_order(shop_id, member, priced, snapshot, settings, remark)

    order = await retry_on_deadlock(attempt)
    # rendered from what was just written (times are whole seconds, as stored): no read-back
    return render_order(order, order.placed_items)


# ---------------------------------------------------------------- payment
async def pay_with_balance(shop_id: int, member: Member, order_id: int) -> dict:
    async def attempt():
        async with events.atomic():
            now = utcnow()
            before = await _transition(shop_id, order_id, [UNPAID], "pay", f"member:{member.id}",
                                       {"status": PAID, "pay_method": "balance", "paid_at": now},
                                       extra=(Order.member_id == member.id) & (Order.expires_at > now))
            if before is None:
                order = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)
                                                    & (Order.member_id == member.id))
                if order is not None and order.status == UNPAID:
                    raise conflict("order_expired", "the order was not paid in time")
                raise invalid_state(order, "pay")
            await finance.change_credit(shop_id, member.id, BALANCE, -before.total_fen, "order_pay",
                                        reference=before.order_no)
            try:
                await mark_paid_side_effects(before, now)
            except TeamUnavailable:
                raise conflict("team_unavailable", "this team is full or closed; nothing was charged") from None
    await retry_on_deadlock(attempt)
    return await order_detail(shop_id, order_id, member.id)


class TeamUnavailable(Exception):
    """The order's group-buy team can take no more paid members (full, or closed meanwhile)."""


async def mark_paid_side_effects(before: Order, paid_at: datetime.datetime) -> None:
    """What every payment provider does once an order became paid at `paid_at` (inside its
    transaction). Raises TeamUnavailable for a group order whose team cannot take it (full, or its
    time was up at `paid_at`); the caller rolls back."""
    if before.activity_id is not None:
        from services import groups

        if not await groups.on_order_paid(before, paid_at):
            raise TeamUnavailable()
    for item in await _items(before):
        await Goods.update(sales=Goods.sales + item.quantity).where(Goods.id == item.goods_id).aio_execute()
    order = await get_order(before.shop_id, before.id)
    await Member.update(last_paid_at=order.paid_at).where(Member.id == order.member_id).aio_execute()
    await distribution.on_order_paid(order)
    await _emit(order, UNPAID, "order.paid")


# ---------------------------------------------------------------- fulfilment
async def cancel_order(shop_id: int, order_id: int, actor: str, reason: str, member_id: int | None = None) -> bool:
    """Close an unpaid order and give its stock back, once. False if it was not unpaid."""
    async def attempt():
        async with events.atomic():
            extra = (Order.member_id == member_id) if member_id is not None else None
            before = await _transition(shop_id, order_id, [UNPAID], "cancel", actor,
                                       {"status": CANCELLED, "cancelled_at": utcnow(), "cancel_reason": reason},
                                       extra=extra, note=reason)
            if before is None:
                return False
            await _release_stock(before, "release")
            await _return_promotions(before, refunded=False)
            if before.team_id is not None:
                from services import groups

                await groups.release_seat(before)
            await _emit(await get_order(shop_id, order_id), UNPAID)
            return True
    return await retry_on_deadlock(attempt)


async def ship_order(shop_id: int, order_id: int, staff_id: int, express_company: str, express_no: str) -> dict:
    settings = await sysset.get_settings(shop_id)
    order = await get_order(shop_id, order_id)
    if order.team_id is not None:
        from services import groups

        if not await groups.team_succeeded(order.team_id):
            raise conflict("team_not_complete", "a group-buy order ships once its team is complete")
    async with events.atomic():
        now = utcnow()
        before = await _transition(
            shop_id, order_id, [PAID], "ship", f"staff:{staff_id}",
            {"status": SHIPPED, "shipped_at": now, "express_company": express_company, "express_no": express_no,
             "auto_confirm_at": now + datetime.timedelta(days=settings.order.auto_confirm_days)},
            extra=Order.refund_status.in_([REFUND_NONE, REFUND_REJECTED]), note=f"{express_company} {express_no}")
        if before is None:
            raise invalid_state(await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)), "ship")
        await _emit(await get_order(shop_id, order_id), PAID)
    return await order_detail(shop_id, order_id, merchant=True)


async def _complete(shop_id: int, order_id: int, from_status: list[int], action: str, actor: str,
                    extra=None, note: str = "") -> bool:
    """-> completed, once: the member's spending (levels) and points are credited in the same
    transaction. False when the order was not in `from_status` (or had an open refund)."""
    async with events.atomic():
        condition = Order.refund_status.in_([REFUND_NONE, REFUND_REJECTED])
        if extra is not None:
            condition &= extra
        before = await _transition(shop_id, order_id, from_status, action, actor,
                                   {"status": COMPLETED, "completed_at": utcnow()}, extra=condition, note=note)
        if before is None:
            return False
        await member_service.record_spending(shop_id, before.member_id, before.total_fen)
        settings = await sysset.get_settings(shop_id)
        earned = before.total_fen // 100 * settings.points.points_per_yuan if settings.points.enabled else 0
        if earned:
            await finance.change_credit(shop_id, before.member_id, POINTS, earned, "order_reward",
                                        reference=before.order_no)
        await _emit(await get_order(shop_id, order_id), before.status)
    return True


async def confirm_order(shop_id: int, order_id: int, actor: str, member_id: int | None = None) -> bool:
    """Shipped -> completed (by the member, or the auto-confirm job)."""
    return await _complete(shop_id, order_id, [SHIPPED], "confirm", actor,
                           extra=(Order.member_id == member_id) if member_id is not None else None)


def new_pickup_code(order_id: int) -> str:
    """Unique by construction (the order id) and not guessable (8 random digits after it)."""
    return f"{order_id}{secrets.randbelow(10**8):08d}"


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


# ---------------------------------------------------------------- refunds
async def request_refund(shop_id: int, member: Member, order_id: int, reason: str) -> dict:
    settings = await sysset.get_settings(shop_id)
    window_start = utcnow() - datetime.timedelta(days=settings.order.refund_window_days)
    async with events.atomic():
        in_window = (Order.status.in_([PAID, SHIPPED])) | (Order.completed_at >= window_start)
        before = await _transition(
            shop_id, order_id, [PAID, SHIPPED, COMPLETED], "refund_request", f"member:{member.id}",
            {"refund_status": REFUND_REQUESTED, "refund_reason": reason},
            extra=(Order.member_id == member.id) & Order.refund_status.in_([REFUND_NONE, REFUND_REJECTED]) & in_window,
            note=reason)
        if before is None:
            order = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)
                                                & (Order.member_id == member.id))
            if order is not None and order.status == COMPLETED and order.refund_status in (REFUND_NONE, REFUND_REJECTED):
                raise conflict("refund_window_closed", "the refund window for this order has closed")
            raise invalid_state(order, "request a refund for")
        await _emit(await get_order(shop_id, order_id), before.status, "refund.requested", reason=reason)
    return await order_detail(shop_id, order_id, member.id)


async def _refund_paid_order(shop_id: int, order_id: int, from_status: list[int], action: str, actor: str, *,
                             extra=None, restock: bool = True, operator_id: int | None = None,
                             changes: dict | None = None) -> Order | None:
    """Inside a transaction: close a paid order and give the money back — balance at once,
    WeChat by marking its payment for the refund API (sent after commit and by the refund job).
    Returns the order as it was, or None when its state did not allow it."""
    order = await get_order(shop_id, order_id)
    wechat = order.pay_method == "wechat"
    before = await _transition(
        shop_id, order_id, from_status, action, actor,
        {"refund_status": REFUND_APPROVED if wechat else REFUND_REFUNDED, "status": CANCELLED, **(changes or {}),
         **({} if wechat else {"refunded_at": utcnow()})}, extra=extra)
    if before is None:
        return None
    if wechat:
        await Payment.update(status=REFUND_PENDING).where(
            (Payment.order_id == order_id) & (Payment.status == PAYMENT_PAID)).aio_execute()
    else:
        await finance.change_credit(shop_id, before.member_id, BALANCE, before.total_fen, "refund",
                                    reference=before.order_no, operator_id=operator_id)
    if restock:
        await _release_stock(before, "refund")
    await _return_promotions(before, refunded=True)
    await member_service.take_back_completion(before)  # points, spending, level of a completed order
    await distribution.reverse_for_order(before)
    if before.team_id is not None:
        from services import groups

        await groups.on_order_refunded(before)
    await _emit(await get_order(shop_id, order_id), before.status)
    return before


async def approve_refund(shop_id: int, order_id: int, staff_id: int) -> dict:
    """The merchant approves a requested refund: exactly once, however often it is clicked.
    Stock goes back per the shop's settings."""
    settings = await sysset.get_settings(shop_id)

    async def attempt():
        async with events.atomic():
            if await _refund_paid_order(shop_id, order_id, [PAID, SHIPPED, COMPLETED], "refund_approve",
                                        f"staff:{staff_id}", extra=Order.refund_status == REFUND_REQUESTED,
                                        restock=settings.order.restock_on_refund, operator_id=staff_id) is None:
                raise invalid_state(await get_order(shop_id, order_id), "approve a refund for")
            order = await get_order(shop_id, order_id)
            await audit.record(shop_id, "order.refund.approve", "order", order_id, {"status": "refund requested"},
                               {"refund_status": order.refund_status, "refunded_fen": order.total_fen})
    await retry_on_deadlock(attempt)
    await refund_pending_payments(order_id=order_id)
    return await order_detail(shop_id, order_id, merchant=True)


async def reject_refund(shop_id: int, order_id: int, staff_id: int, reason: str) -> dict:
    async with events.atomic():
        before = await _transition(shop_id, order_id, [PAID, SHIPPED, COMPLETED], "refund_reject", f"staff:{staff_id}",
                                   {"refund_status": REFUND_REJECTED, "refund_reject_reason": reason},
                                   extra=Order.refund_status == REFUND_REQUESTED, note=reason)
        if before is None:
            raise invalid_state(await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id)),
                                 "reject a refund for")
        await audit.record(shop_id, "order.refund.reject", "order", order_id, {"refund_status": REFUND_REQUESTED},
                           {"refund_status": REFUND_REJECTED}, note=reason)
        await _emit(await get_order(shop_id, order_id), before.status)
    return await order_detail(shop_id, order_id, merchant=True)


# ---------------------------------------------------------------- merchant edits
async def change_price(shop_id: int, order_id: int, staff_id: int, total_fen: int) -> dict:
    """Set what an unpaid order costs (a negotiated price); audited with before and after."""
    async with events.atomic():
        order = await get_order(shop_id, order_id)
        adjustment = total_fen - (order.total_fen - order.price_adjustment_fen)
        before = await _transition(shop_id, order_id, [UNPAID], "change_price", f"staff:{staff_id}",
                                   {"total_fen": total_fen, "price_adjustment_fen": adjustment},
                                   extra=(Order.total_fen == order.total_fen) & Order.prepaid_at.is_null(),
                                   note=json.dumps({"before_fen": order.total_fen, "after_fen": total_fen}))
        if before is None:
            current = await get_order(shop_id, order_id)
            if current.status == UNPAID and current.prepaid_at is not None:
                raise conflict("price_frozen", "the shopper has started paying with WeChat Pay: its price is frozen "
                               "(close the order instead)")
            raise invalid_state(current, "change the price of")
        await audit.record(shop_id, "order.change_price", "order", order_id, {"total_fen": order.total_fen},
                           {"total_fen": total_fen})
        await _emit(await get_order(shop_id, order_id), UNPAID)
    return await order_detail(shop_id, order_id, merchant=True)


async def set_merchant_remark(shop_id: int, order_id: int, remark: str) -> dict:
    await get_order(shop_id, order_id)
    await Order.update(merchant_remark=remark).where((Order.shop_id == shop_id) & (Order.id == order_id)).aio_execute()
    return await order_detail(shop_id, order_id, merchant=True)


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


# ---------------------------------------------------------------- WeChat Pay
class PaymentMismatch(Exception):
    """A verified notification that does not match our order (merchant, app, order or amount)."""


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
    async with events.atomic():
        frozen = await Order.update(prepaid_at=now).where(
            (Order.shop_id == shop_id) & (Order.id == order_id) & (Order.status == UNPAID)
            & (Order.expires_at > now)).aio_execute()
        order = await get_order(shop_id, order_id, member.id)
    if not frozen:
        raise invalid_state(order, "pay")
    title = (await _items(order))[0].title
    try:
        params = await provider.prepay(order.order_no, order.total_fen, title, member.openid, client_ip)
    except payment.ProviderError as exc:
        log.warning("prepay failed for %s: %s", order.order_no, exc)
        raise ApiError(503, "payment_unavailable", "WeChat Pay is unavailable; retry shortly") from None
    return {"order_id": order.id, "pay_params": params}


async def check_merchant(shop_id: int, notice: payment.PaidNotice) -> None:
    """A verified report must also be for this shop's merchant and app (not another shop's keys)."""
    config = await payment.get_config(shop_id)
    if config is None or notice.mch_id != config.mch_id or notice.app_id != config.app_id:
        raise PaymentMismatch("merchant or app id does not match")


async def record_unapplied_payment(shop_id: int, order_id: int, notice: payment.PaidNotice) -> bool:
    """Inside a transaction: keep the trace of money that cannot be applied and owe it back
    (refund_pending_payments sends it). False when this WeChat transaction was recorded before."""
    try:
        async with events.atomic():
            await Payment.aio_create(shop_id=shop_id, order_id=order_id, out_trade_no=notice.out_trade_no,
                                     transaction_id=notice.transaction_id, amount_fen=notice.amount_fen,
                                     status=REFUND_PENDING)
    except peewee.IntegrityError:
        return False
    return True


async def settle_wechat_payment(shop_id: int, notice: payment.PaidNotice) -> None:
    """Apply a verified payment report, exactly once per WeChat transaction. A replay changes
    nothing (however far the order has moved on). Money that cannot be applied is recorded and
    refunded, once: an amount that is not the order's, an order closed meanwhile, an order or a
    team seat whose time was up when the money reached us, a team seat that is gone."""
    await check_merchant(shop_id, notice)
    order = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.order_no == notice.out_trade_no))
    if order is None:
        raise PaymentMismatch("unknown order")

    async def attempt():
        async with events.atomic():
            try:
                async with events.atomic():
                    await Payment.aio_create(shop_id=shop_id, order_id=order.id, out_trade_no=order.order_no,
                                             transaction_id=notice.transaction_id, amount_fen=notice.amount_fen)
            except peewee.IntegrityError:
                return False  # this transaction was applied before: a replay
            now = utcnow()
            try:
                async with events.atomic():
                    before = await _transition(shop_id, order.id, [UNPAID], "pay", "wechat",
                                               {"status": PAID, "pay_method": "wechat", "paid_at": now},
                                               extra=(Order.expires_at > now) & (Order.total_fen == notice.amount_fen),
                                               note=notice.transaction_id)
                    if before is not None:
                        await mark_paid_side_effects(before, now)
                        return False
            except TeamUnavailable:  # paid for a seat that is gone: close the order, refund below
                await cancel_order(shop_id, order.id, "wechat", "team_unavailable")
            current = await get_order(shop_id, order.id)
            if current.total_fen != notice.amount_fen:
                action = "amount_mismatch"  # the order stays as it is; only this money goes back
                log.error("WeChat payment %s of %s fen for order %s (%s fen) refunded", notice.transaction_id,
                          notice.amount_fen, order.order_no, current.total_fen)
            else:
                action = "late_payment"  # paid after the order closed or its deadline passed, or paid twice
                await cancel_order(shop_id, order.id, "wechat", "payment_timeout")  # unpaid and overdue: closed now
            await Payment.update(status=REFUND_PENDING).where(Payment.transaction_id == notice.transaction_id).aio_execute()
            await OrderLog.aio_create(shop_id=shop_id, order_id=order.id, action=action, actor="wechat",
                                      note=notice.transaction_id)
            return True
    if await retry_on_deadlock(attempt):
        await refund_pending_payments(order_id=order.id)


async def settle_unnotified_payments() -> int:
    """Ask WeChat about prepaid orders whose notification never came."""
    due = await (Order.select(Order.shop_id, Order.order_no)
                 .where((Order.status == UNPAID) & (Order.prepaid_at <= utcnow() - datetime.timedelta(seconds=QUERY_AFTER_S)))
                 .order_by(Order.id).limit(JOB_BATCH).aio_execute())
    return await settle_by_query([(order.shop_id, order.order_no) for order in due], settle_wechat_payment)


async def settle_by_query(pending: list[tuple[int, str]], settle) -> int:
    """For each (shop id, trade number) whose notification never came, ask WeChat and settle what
    it reports paid through `settle`, the same path a notification takes. Failures wait for the
    next run."""
    settled = 0
    for shop_id, trade_no in pending:
        try:
            notice = await (await payment.provider_for(shop_id)).query(trade_no)
            if notice is not None:
                await settle(shop_id, notice)
                settled += 1
        except (payment.ProviderError, PaymentMismatch, ApiError) as exc:
            log.warning("payment query for %s failed: %s", trade_no, exc)
    return settled


async def refund_pending_payments(order_id: int | None = None) -> int:
    """Send WeChat refunds that are owed; the refund number is fixed per payment, so a retry (or
    a second process) never refunds twice."""
    query = Payment.select().where(Payment.status == REFUND_PENDING).order_by(Payment.id).limit(JOB_BATCH)
    if order_id is not None:
        query = query.where(Payment.order_id == order_id)
    done = 0
    for pay in await query.aio_execute():
        try:
            provider = await payment.provider_for(pay.shop_id)
            await provider.refund(pay.out_trade_no, f"R{pay.id:012d}", pay.amount_fen, pay.amount_fen, "refund")
        except (payment.ProviderError, ApiError) as exc:
            log.warning("refund of payment %s not sent yet: %s", pay.id, exc)
            continue
        async with events.atomic():
            if await Payment.update(status=PAYMENT_REFUNDED).where(
                    (Payment.id == pay.id) & (Payment.status == REFUND_PENDING)).aio_execute():
                before = await _transition(pay.shop_id, pay.order_id, [CANCELLED, PAID, SHIPPED, COMPLETED],
                                           "refunded", "wechat", {"refund_status": REFUND_REFUNDED, "refunded_at": utcnow()},
                                           extra=Order.refund_status == REFUND_APPROVED)
                if before is not None:
                    await _emit(await get_order(pay.shop_id, pay.order_id), before.status)
                done += 1
    return done


async def refund_for_failed_team(shop_id: int, order_id: int) -> bool:
    """A paid order of a team that failed: closed, refunded, restocked — exactly once; False if
    it was not a paid order any more."""
    async def attempt():
        async with events.atomic():
            return await _refund_paid_order(shop_id, order_id, [PAID], "team_failed_refund", "system",
                                            changes={"cancel_reason": "team_failed"}) is not None
    done = await retry_on_deadlock(attempt)
    if done:
        await refund_pending_payments(order_id=order_id)
    return done
