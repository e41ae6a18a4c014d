"""Placing an order: the preview and the order price through one function (pricing), stock for
every line is taken in one transaction (all lines or none, conditional updates in the lock order
every writer uses), coupons and points are spent, and the order is written with its lines, its
log row and its events. A campaign (group-buy) places its orders through `place_order`, inside
its own transaction."""
from __future__ import annotations

import dataclasses
import datetime
import json

import events
from lib.errors import DomainError, conflict, forbidden, not_found
from lib.group_commit import GroupCommit
from models.base import utcnow
from models.finance import POINTS
from models.locks import lock_member
from models.member import Address, Member
from models.order import CANCELLED, UNPAID, Order, OrderItem, OrderLog
from models.prepared import PreparedGet, insert_rows
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


_address = PreparedGet(Address, Address.shop_id, Address.member_id, Address.id)  # every order: prepared once


def may_order(member: Member) -> None:
    if member.is_blacklisted:
        raise forbidden("member_blacklisted", "this account may not place orders; contact the shop")


def _snapshot(address: Address) -> dict:
    return {f: getattr(address, f) for f in ("name", "mobile", "province", "city", "district", "detail")}


async def address_snapshot(shop_id: int, member: Member, address_id: int) -> dict:
    """The checks every order starts with: the member may order, the address is theirs."""
    may_order(member)
    address = await _address.get(shop_id, member.id, address_id)
    if address is None:
        raise not_found("address")
    return _snapshot(address)


def new_order(shop_id: int, member: Member, priced: pricing.Priced, snapshot: dict, settings, remark: str = "",
              team_id: int | None = None, activity_id: int | None = None, flash_item_id: int | None = None,
              pay_within_minutes: int | None = None) -> Order:
    """The order row as placing writes it (not saved yet; its number drawn)."""
    return Order(
        shop_id=shop_id, member_id=member.id, order_no=payment.trade_no(), goods_total_fen=priced.goods_total_fen,
        level_discount_fen=priced.level_discount_fen, coupon_discount_fen=priced.coupon_discount_fen,
        full_reduction_fen=priced.full_reduction_fen, points_deduction_fen=priced.points_deduction_fen,
        points_used=priced.points_used, discounts=json.dumps(priced.discounts, ensure_ascii=False),
        shipping_fee_fen=priced.shipping_fee_fen, total_fen=priced.total_fen, coupon_id=priced.coupon_id,
        address=json.dumps(snapshot, ensure_ascii=False), remark=remark, team_id=team_id,
        activity_id=activity_id, flash_item_id=flash_item_id,
        expires_at=utcnow() + datetime.timedelta(minutes=pay_within_minutes or settings.order.unpaid_cancel_minutes))


def item_rows(order: Order, priced: pricing.Priced) -> list[dict]:
    paid, points = priced.line_shares()
    return [{"shop_id": order.shop_id, "order_id": order.id, **line.render(), "paid_fen": line_paid,
             "points_used": line_points} for line, line_paid, line_points in zip(priced.lines, paid, points)]


async def write_items(orders: list[Order], rows: list[dict]) -> None:
    """The lines of these orders in one INSERT; each order gets `placed_items` (with their ids),
    so callers answer without reading them back."""
    await insert_rows(OrderItem, rows)
    ids = [row.id for row in await OrderItem.select(OrderItem.id).where(OrderItem.order_id.in_([o.id for o in orders]))
           .order_by(OrderItem.id).aio_execute()]  # inserted in row order: ids ascend with the rows
    by_order: dict[int, list[OrderItem]] = {o.id: [] for o in orders}
    for item_id, row in zip(ids, rows):
        by_order[row["order_id"]].append(OrderItem(id=item_id, **row))
    for order in orders:
        order.placed_items = by_order[order.id]


async def announce_placed(orders: list[Order], actor_of) -> None:
    """What every placed order does last, inside its transaction: the `placed` reactions, its
    log row, its events."""
    for order in orders:
        await lifecycle.announce(lifecycle.PLACED, order, order.placed_items)
    await insert_rows(OrderLog, [{"shop_id": o.shop_id, "order_id": o.id, "action": "create", "to_status": UNPAID,
                                  "actor": actor_of(o)} for o in orders])
    for order in orders:
        await emit(order, None, "order.created")


async def place_order(shop_id: int, member: Member, priced: pricing.Priced, snapshot: dict, settings,
                      remark: str = "", team_id: int | None = None, activity_id: int | None = None,
                      flash_item_id: int | None = None, pay_within_minutes: int | None = None) -> Order:
    """Take stock for every line and write the order, inside the caller's transaction. The order
    carries `placed_items` (its lines with their ids), so callers answer without reading it back.
    A flash-sale order (`flash_item_id`) takes no goods stock: the caller took its units from the
    sale's own pool, and they go back there (`restock` reactions), not to the goods.
    `pay_within_minutes`: a shorter payment window than the shop's usual (flash sales)."""
    order = new_order(shop_id, member, priced, snapshot, settings, remark, team_id, activity_id, flash_item_id,
                      pay_within_minutes)
    for line in priced.lines if flash_item_id is None else ():  # sorted by (goods, sku): the lock order
        await goods.change_stock(shop_id, line.goods.id, line.sku.id if line.sku else None,
                                 -line.quantity, "order", reference=order.order_no, goods=line.goods)
    await order.aio_save(force_insert=True)
    await write_items([order], item_rows(order, priced))
    if priced.coupons:
        await sale.use_for_order(order, priced.coupons)
    if priced.points_used:
        await finance.change_credit(shop_id, member.id, POINTS, -priced.points_used, "order_deduct",
                                    reference=order.order_no)
    await announce_placed([order], lambda o: f"member:{member.id}")
    return order


# ---------------------------------------------------------------- group commit
# Plain orders placed at the same time in this process share one transaction (lib/group_commit):
# stock for the whole batch in one locked read and one UPDATE per table (goods.take_stock_together,
# which admits orders in arrival order, each all-or-nothing), the orders, lines, logs and events
# as multi-row INSERTs. An order that spends coupons or points, has a purchase limit, or runs
# inside a caller's transaction (Idempotency-Key) is placed on its own: those lock the member.

@dataclasses.dataclass
class _Placing:
    shop_id: int
    member: Member
    priced: pricing.Priced
    address_id: int  # read with the batch's other addresses (one statement), or alone
    settings: object
    remark: str


def _shares_a_batch(priced: pricing.Priced) -> bool:
    return not (events.in_transaction() or priced.coupons or priced.points_used
                or any(line.goods.purchase_limit for line in priced.lines))


async def _place_alone(p: _Placing) -> Order:
    snapshot = await address_snapshot(p.shop_id, p.member, p.address_id)
    return await events.transaction(lambda: place_order(p.shop_id, p.member, p.priced, snapshot, p.settings, p.remark))


async def _place_together(batch: list[_Placing]) -> list[Order | DomainError]:
    return await events.transaction(lambda: _write_batch(batch))


async def _write_batch(batch: list[_Placing]) -> list[Order | DomainError]:
    addresses = {a.id: a for a in await Address.select().where(Address.id.in_({p.address_id for p in batch})).aio_execute()}
    answers: list[Order | DomainError] = []
    for p in batch:
        address = addresses.get(p.address_id)
        if address is None or (address.shop_id, address.member_id) != (p.shop_id, p.member.id):
            answers.append(not_found("address"))
        else:
            answers.append(new_order(p.shop_id, p.member, p.priced, _snapshot(address), p.settings, p.remark))
    going = [(p, order) for p, order in zip(batch, answers) if isinstance(order, Order)]
    refusals = await goods.take_stock_together([
        [goods.Take(p.shop_id, line.goods.id, line.sku.id if line.sku else None, line.quantity, order.order_no)
         for line in p.priced.lines] for p, order in going])
    placed = [(p, order) for (p, order), refusal in zip(going, refusals) if refusal is None]
    if placed:
        await insert_rows(Order, [order.__data__ for _, order in placed])
        numbers = [order.order_no for _, order in placed]
        ids = {row.order_no: row.id for row in await Order.select(Order.id, Order.order_no)
               .where(Order.order_no.in_(numbers)).aio_execute()}
        for _, order in placed:
            order.id = ids[order.order_no]
        await write_items([order for _, order in placed], [row for p, order in placed for row in item_rows(order, p.priced)])
        await announce_placed([order for _, order in placed], lambda order: f"member:{order.member_id}")
    refused = {id(order): refusal for (_, order), refusal in zip(going, refusals) if refusal is not None}
    return [refused.get(id(answer), answer) for answer in answers]


_together: GroupCommit[_Placing, Order] = GroupCommit("orders", _place_together, _place_alone)


def group_commit_counts() -> dict:
    """For operators (/api/admin/metrics): orders placed through the group commit and in how many
    transactions (orders / batches is how much sharing the load gave)."""
    return {"batches": _together.batches, "orders": _together.items}


async def create_order(shop_id: int, member: Member, items: list[dict], address_id: int,
                       coupon_ids: list[int], remark: str, use_points: bool = False) -> dict:
    may_order(member)
    settings = await sysset.get_settings(shop_id)

    lines = await pricing.load_lines(shop_id, items)  # priced before the transaction: it stays short
    priced = await pricing.price(shop_id, member, lines, coupon_ids, settings, use_points)

    async def place(snapshot: dict) -> Order:
        if any(line.goods.purchase_limit for line in lines):
            await lock_member(member.id)  # one such order at a time per member: limits hold
            await _check_purchase_limits(shop_id, member.id, lines)
        return await place_order(shop_id, member, priced, snapshot, settings, remark)

    if _shares_a_batch(priced):
        order = await _together.submit(_Placing(shop_id, member, priced, address_id, settings, remark))
    else:
        snapshot = await address_snapshot(shop_id, member, address_id)
        order = await events.transaction(lambda: place(snapshot))
    # rendered from what was just written (times are whole seconds, as stored): no read-back
    return {**render_order(order, order.placed_items), "aftersales": []}  # as order_detail shows it
