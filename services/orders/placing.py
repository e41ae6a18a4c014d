"""Placing an order: the preview and the order price through one function (pricing), stock for
every line is taken in one transaction (all lines or none, conditional updates in the lock order
every writer uses), coupons and points are spent, and the order is written with its lines, its
log row and its events. A campaign (group-buy) places its orders through `place_order`, inside
its own transaction."""
from __future__ import annotations

import datetime
import json

import events
from lib.errors import conflict, forbidden, not_found
from models.base import utcnow
from models.finance import POINTS
from models.locks import lock_member
from models.member import Address, Member
from models.order import CANCELLED, UNPAID, Order, OrderItem, OrderLog
from services import finance, goods, payment, sale, sysset
from services.orders import lifecycle, pricing
from services.orders.state import emit, render_order


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
                      remark: str = "", team_id: int | None = None, activity_id: int | None = None,
                      flash_item_id: int | None = None, pay_within_minutes: int | None = None) -> Order:
    """Take stock for every line and write the order, inside the caller's transaction. The order
    carries `placed_items` (its lines with their ids), so callers answer without reading it back.
    A flash-sale order (`flash_item_id`) takes no goods stock: the caller took its units from the
    sale's own pool, and they go back there (`restock` reactions), not to the goods.
    `pay_within_minutes`: a shorter payment window than the shop's usual (flash sales)."""
    order_no = payment.trade_no()
    for line in priced.lines if flash_item_id is None else ():  # sorted by (goods, sku): the lock order
        await goods.change_stock(shop_id, line.goods.id, line.sku.id if line.sku else None,
                                 -line.quantity, "order", reference=order_no, goods=line.goods)
    order = await Order.aio_create(
        shop_id=shop_id, member_id=member.id, order_no=order_no, goods_total_fen=priced.goods_total_fen,
        level_discount_fen=priced.level_discount_fen, coupon_discount_fen=priced.coupon_discount_fen,
        full_reduction_fen=priced.full_reduction_fen, points_deduction_fen=priced.points_deduction_fen,
        points_used=priced.points_used, discounts=json.dumps(priced.discounts, ensure_ascii=False),
        shipping_fee_fen=priced.shipping_fee_fen, total_fen=priced.total_fen, coupon_id=priced.coupon_id,
        address=json.dumps(snapshot, ensure_ascii=False), remark=remark, team_id=team_id,
        activity_id=activity_id, flash_item_id=flash_item_id,
        expires_at=utcnow() + datetime.timedelta(minutes=pay_within_minutes or settings.order.unpaid_cancel_minutes))
    paid, points = priced.line_shares()
    rows = [{"shop_id": shop_id, "order_id": order.id, **line.render(), "paid_fen": line_paid, "points_used": line_points}
            for line, line_paid, line_points in zip(priced.lines, paid, points)]
    await OrderItem.insert_many(rows).aio_execute()
    ids = [row.id for row in await OrderItem.select(OrderItem.id).where(OrderItem.order_id == order.id)
           .order_by(OrderItem.id).aio_execute()]  # inserted in row order: ids ascend with the rows
    order.placed_items = [OrderItem(id=item_id, **row) for item_id, row in zip(ids, rows)]
    if priced.coupons:
        await sale.use_for_order(order, priced.coupons)
    if priced.points_used:
        await finance.change_credit(shop_id, member.id, POINTS, -priced.points_used, "order_deduct", reference=order_no)
    await lifecycle.announce(lifecycle.PLACED, order, order.placed_items)
    await OrderLog.aio_create(shop_id=shop_id, order_id=order.id, action="create", to_status=UNPAID,
                              actor=f"member:{member.id}")
    await emit(order, None, "order.created")
    return order


async def create_order(shop_id: int, member: Member, items: list[dict], address_id: int,
                       coupon_ids: list[int], remark: str, use_points: bool = False) -> dict:
    snapshot = await address_snapshot(shop_id, member, address_id)
    settings = await sysset.get_settings(shop_id)

    lines = await pricing.load_lines(shop_id, items)  # priced before the transaction: it stays short
    priced = await pricing.price(shop_id, member, lines, coupon_ids, settings, use_points)

    async def place() -> Order:
        if any(line.goods.purchase_limit for line in lines):
            await lock_member(member.id)  # one such order at a time per member: limits hold
            await _check_purchase_limits(shop_id, member.id, lines)
        return await place_order(shop_id, member, priced, snapshot, settings, remark)

    order = await events.transaction(place)
    # rendered from what was just written (times are whole seconds, as stored): no read-back
    return {**render_order(order, order.placed_items), "aftersales": []}  # as order_detail shows it
