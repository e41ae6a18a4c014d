"""After-sales (售后): a member asks about some units of an order's lines — refund only, return
and refund, or exchange — and the merchant approves or rejects; returns come back by parcel.

    requested → approved → (returned → received →) refunded | exchanged;  or rejected / cancelled

Every step is a conditional UPDATE on the after-sale's current status under the order's row
lock (two clicks, two processes, a job and a person at once: one wins, the others get 409),
logged with who did it. Units are held when asked for (`OrderItem.aftersale_quantity`, a
conditional update: never more than bought) and given back when a request ends without money.

Money: a request's amount is its units' share of what their lines were paid (shares.py), goods
only; shipping is added when it is paid, by the refund that leaves no unit of the order unrefunded
(units merely asked for may still be withdrawn and kept). It goes back the way
it came — balance through the ledger, WeChat as a partial refund of the original payment under
the after-sale's number (services/payment sends it once, settles it by notification or query) —
and the order's `refunded_fen` never passes its total (a conditional update again). A fully
refunded order closes (-1). The points its units spent at checkout come back with it; the
`refunded` reactions take back in proportion what other domains gave (services/wiring.py).

Stock: returned units are restocked when the merchant receives them; refund-only units of an
order not yet shipped at approval (both per the shop's `restock_on_refund`).

Time is state: a request the merchant leaves unanswered `auto_approve_days` is approved at that
instant (every path that touches it applies the rule first; the job only tidies up) — or, when
the rule cannot approve it (no return address, a refusal by a `refunded` reaction), is left to
the merchant with no deadline (logged `auto_approve_failed`); an approved
return not shipped within `return_ship_days` is cancelled the same way; after-sales may be asked
for until `refund_window_days` after completion.
"""
from __future__ import annotations

import datetime
import json

from peewee import fn

import events
from lib.errors import DomainError, conflict, field_error, not_found
from models.aftersale import (
    APPROVED,
    CANCELLED,
    EXCHANGE,
    EXCHANGED,
    HOLDING,
    OPEN,
    RECEIVED,
    REFUND,
    REFUNDED,
    REJECTED,
    REQUESTED,
    RETURN,
    RETURNED,
    AfterSale,
    AfterSaleItem,
    AfterSaleLog,
)
from models.base import iso, paginate, utcnow
from models.finance import BALANCE, POINTS
from models.locks import lock_order
from models.order import CANCELLED as ORDER_CLOSED
from models.order import COMPLETED, PAID, REFUND_FULL, REFUND_PARTIAL, SHIPPED, Order, OrderItem
from services import audit, finance, goods, payment, sale, sysset
from services.orders import lifecycle, shares
from services.orders.fulfilment import put_back
from services.orders.state import emit, get_order, invalid_state, items_of, transition

JOB_BATCH = 200  # after-sales a deadline job handles per run; the next run takes the rest
MONEY_TYPES = (REFUND, RETURN)


# ---------------------------------------------------------------- reading
def render(row: AfterSale, items: list[AfterSaleItem], logs: list[AfterSaleLog], refund_state: str | None = None) -> dict:
    return {
        "id": row.id, "aftersale_no": row.aftersale_no, "order_id": row.order_id, "member_id": row.member_id,
        "type": row.type, "status": row.status, "reason": row.reason, "images": json.loads(row.images),
        "items": [{"order_item_id": i.order_item_id, "quantity": i.quantity, "amount_fen": i.amount_fen}
                  for i in items],
        "goods_fen": row.goods_fen, "shipping_fen": row.shipping_fen, "amount_fen": row.amount_fen,
        "points": row.points, "refund_method": row.refund_method, "refund_state": refund_state,
        "return_address": json.loads(row.return_address), "express_company": row.express_company,
        "express_no": row.express_no, "reship_company": row.reship_company, "reship_no": row.reship_no,
        "reject_reason": row.reject_reason, "close_reason": row.close_reason,
        "approve_due_at": iso(row.approve_due_at), "return_due_at": iso(row.return_due_at),
        "approved_at": iso(row.approved_at), "returned_at": iso(row.returned_at), "received_at": iso(row.received_at),
        "refunded_at": iso(row.refunded_at), "closed_at": iso(row.closed_at), "created_at": iso(row.created_at),
        "logs": [{"action": log.action, "from_status": log.from_status, "to_status": log.to_status,
                  "actor": log.actor, "note": log.note, "created_at": iso(log.created_at)} for log in logs],
    }


async def _get(shop_id: int, aftersale_id: int, member_id: int | None = None) -> AfterSale:
    where = (AfterSale.shop_id == shop_id) & (AfterSale.id == aftersale_id)
    if member_id is not None:
        where &= AfterSale.member_id == member_id
    row = await AfterSale.aio_get_or_none(where)
    if row is None:
        raise not_found("aftersale")
    return row


async def detail(shop_id: int, aftersale_id: int, member_id: int | None = None) -> dict:
    row = await _get(shop_id, aftersale_id, member_id)
    if await _apply_deadline(row):
        row = await _get(shop_id, aftersale_id, member_id)
    items = list(await AfterSaleItem.select().where(AfterSaleItem.aftersale_id == row.id)
                 .order_by(AfterSaleItem.id).aio_execute())
    logs = list(await AfterSaleLog.select().where(AfterSaleLog.aftersale_id == row.id)
                .order_by(AfterSaleLog.id).aio_execute())
    state = await payment.refund_state(row.aftersale_no) if row.refund_method == "wechat" else None
    return render(row, items, logs, state)


async def list_aftersales(shop_id: int, page: int, page_size: int, *, member_id: int | None = None,
                          status: str | None = None, type_: str | None = None) -> dict:
    query = AfterSale.select().where(AfterSale.shop_id == shop_id).order_by(AfterSale.id.desc())
    if member_id is not None:
        query = query.where(AfterSale.member_id == member_id)
    if status:
        query = query.where(AfterSale.status == status)
    if type_:
        query = query.where(AfterSale.type == type_)
    result = await paginate(query, page, page_size, lambda row: row)
    ids = [row.id for row in result["items"]]
    items: dict[int, list] = {}
    for item in await AfterSaleItem.select().where(AfterSaleItem.aftersale_id.in_(ids or [0])).aio_execute():
        items.setdefault(item.aftersale_id, []).append(item)
    result["items"] = [render(row, items.get(row.id, []), []) for row in result["items"]]
    return result


# ---------------------------------------------------------------- moving
async def _move(row: AfterSale, from_status, action: str, actor: str, changes: dict, extra=None,
                note: str = "") -> AfterSale | None:
    """Inside a transaction, under the order's lock: the conditional step, logged and announced;
    the after-sale as it now is, or None when its status (or `extra`) did not match."""
    await lock_order(row.shop_id, row.order_id)
    current = await AfterSale.aio_get(AfterSale.id == row.id)
    where = (AfterSale.id == row.id) & AfterSale.status.in_(list(from_status))
    if extra is not None:
        where &= extra
    changes = {**changes, "updated_at": utcnow()}
    if not await AfterSale.update(**changes).where(where).aio_execute():
        return None
    await AfterSaleLog.aio_create(shop_id=row.shop_id, aftersale_id=row.id, action=action, from_status=current.status,
                                  to_status=changes.get("status", current.status), actor=actor, note=note)
    for field, value in changes.items():
        setattr(current, field, value)
    await events.record(f"member:{current.member_id}", "aftersale.status",
                        {"aftersale_id": current.id, "order_id": current.order_id, "status": current.status,
                         "type": current.type})
    return current


def _refused(row: AfterSale | None, doing: str):
    if row is None:
        return not_found("aftersale")
    return conflict("invalid_state", f"cannot {doing} an after-sale that is {row.status}",
                    {"status": row.status, "type": row.type})


async def _lines(order: Order) -> dict[int, tuple[OrderItem, int]]:
    """Each line of the order with its share of what the order was paid for goods."""
    items = await items_of(order)
    return {item.id: (item, share) for item, share in
            zip(items, shares.line_shares(order.total_fen, order.shipping_fee_fen, items))}


async def _held_money(order_id: int) -> dict[int, tuple[int, int, int]]:
    """Per line: (units, fen, points) already held by refunding after-sales (open or refunded)."""
    held: dict[int, tuple[int, int, int]] = {}
    rows = await (AfterSaleItem.select(AfterSaleItem.order_item_id, AfterSaleItem.quantity, AfterSaleItem.amount_fen,
                                       AfterSaleItem.points)
                  .join(AfterSale, on=(AfterSale.id == AfterSaleItem.aftersale_id))
                  .where((AfterSaleItem.order_id == order_id) & AfterSale.status.in_(HOLDING)
                         & AfterSale.type.in_(MONEY_TYPES)).aio_execute())
    for r in rows:
        units, fen, points = held.get(r.order_item_id, (0, 0, 0))
        held[r.order_item_id] = (units + r.quantity, fen + r.amount_fen, points + r.points)
    return held


async def open_request(shop_id: int, order_id: int, actor: str, type_: str, wanted: list[dict] | None,
                       reason: str, amount_fen: int | None = None, images: list[str] = (),
                       member_id: int | None = None) -> AfterSale:
    """Inside a transaction: a new request for `wanted` units ([{order_item_id, quantity}]; None:
    every unit not yet asked for). Holds the units; 409 when the order's state, the window or the
    units left do not allow it, 422 for lines not of this order or an amount above what was paid."""
    settings = await sysset.get_settings(shop_id)
    await lock_order(shop_id, order_id)
    order = await get_order(shop_id, order_id, member_id)
    if order.imported:
        raise invalid_state(order, f"ask for a {type_} on")
    allowed = [PAID, SHIPPED, COMPLETED] if type_ == REFUND else [SHIPPED, COMPLETED]
    if order.status not in allowed or order.refund_status == REFUND_FULL:
        raise conflict("invalid_state", f"cannot ask for a {type_} on an order that is "
                       f"{'fully refunded' if order.refund_status == REFUND_FULL else order.status}",
                       {"status": order.status, "refund_status": order.refund_status})
    now = utcnow()
    if order.status == COMPLETED and order.completed_at < now - datetime.timedelta(days=settings.order.refund_window_days):
        raise conflict("aftersale_window_closed", "the after-sales window for this order has closed")
    lines = await _lines(order)
    if wanted is None:
        wanted = [{"order_item_id": item.id, "quantity": item.quantity - item.aftersale_quantity}
                  for item, _ in lines.values() if item.quantity > item.aftersale_quantity]
        if not wanted:
            raise conflict("nothing_to_refund", "every unit of this order is already in an after-sale")
    merged: dict[int, int] = {}
    for want in wanted:
        if want["order_item_id"] not in lines:
            raise field_error("items", f"order item {want['order_item_id']} is not a line of this order")
        merged[want["order_item_id"]] = merged.get(want["order_item_id"], 0) + want["quantity"]
    held = await _held_money(order.id) if type_ in MONEY_TYPES else {}
    picked = []
    for item_id, quantity in sorted(merged.items()):
        item, line_fen = lines[item_id]
        took = await OrderItem.update(aftersale_quantity=OrderItem.aftersale_quantity + quantity).where(
            (OrderItem.id == item_id) & (OrderItem.aftersale_quantity + quantity <= OrderItem.quantity)).aio_execute()
        if not took:
            raise conflict("quantity_exceeded", f"at most {item.quantity - item.aftersale_quantity} more of "
                           f"{item.title} can be asked for", {"order_item_id": item_id,
                                                              "available": item.quantity - item.aftersale_quantity})
        fen = points = 0
        if type_ in MONEY_TYPES:
            units, held_fen, held_points = held.get(item_id, (0, 0, 0))
            fen = shares.units_share(line_fen, item.quantity, quantity, units, held_fen)
            points = shares.units_share(item.points_used, item.quantity, quantity, units, held_points)
        picked.append((item_id, quantity, fen, points))
    goods_fen = sum(p[2] for p in picked)  # shipping is decided when it is paid (_pay)
    if amount_fen is not None and type_ in MONEY_TYPES and amount_fen > goods_fen:
        raise field_error("amount_fen", f"at most {goods_fen} fen was paid for these units")
    row = await AfterSale.aio_create(
        shop_id=shop_id, order_id=order.id, member_id=order.member_id, aftersale_no=payment.trade_no("AS"),
        type=type_, reason=reason, images=json.dumps(list(images)), goods_fen=goods_fen,
        amount_fen=goods_fen if amount_fen is None or type_ == EXCHANGE else amount_fen,
        points=sum(p[3] for p in picked), refund_method=order.pay_method if type_ in MONEY_TYPES else "",
        approve_due_at=now + datetime.timedelta(days=settings.aftersale.auto_approve_days))
    await AfterSaleItem.insert_many([
        {"shop_id": shop_id, "aftersale_id": row.id, "order_id": order.id, "order_item_id": item_id,
         "quantity": quantity, "amount_fen": fen, "points": points} for item_id, quantity, fen, points in picked
    ]).aio_execute()
    await AfterSaleLog.aio_create(shop_id=shop_id, aftersale_id=row.id, action="request", to_status=REQUESTED,
                                  actor=actor, note=reason)
    await events.record(f"member:{order.member_id}", "aftersale.status",
                        {"aftersale_id": row.id, "order_id": order.id, "status": REQUESTED, "type": type_})
    await events.record(f"shop:{shop_id}:orders", "aftersale.requested",
                        {"aftersale_id": row.id, "order_id": order.id, "order_no": order.order_no, "type": type_,
                         "amount_fen": row.amount_fen, "member_id": order.member_id})
    return row


async def request(shop_id: int, member, order_id: int, type_: str, items: list[dict], reason: str,
                  amount_fen: int | None = None, images: list[str] = ()) -> dict:
    row = await events.transaction(lambda: open_request(shop_id, order_id, f"member:{member.id}", type_, items,
                                                        reason, amount_fen, images, member_id=member.id))
    return await detail(shop_id, row.id, member.id)


async def _release(row: AfterSale) -> None:
    """The request ended without taking its units (rejected, cancelled, exchanged): they may be
    asked for again."""
    for item in await AfterSaleItem.select().where(AfterSaleItem.aftersale_id == row.id).aio_execute():
        await OrderItem.update(aftersale_quantity=OrderItem.aftersale_quantity - item.quantity).where(
            OrderItem.id == item.order_item_id).aio_execute()


async def _restock(order: Order, row: AfterSale, reason: str) -> None:
    if not (await sysset.get_settings(order.shop_id)).order.restock_on_refund:
        return
    for item in await AfterSaleItem.select().where(AfterSaleItem.aftersale_id == row.id).aio_execute():
        line = await OrderItem.aio_get(OrderItem.id == item.order_item_id)
        if row.type == EXCHANGE:  # the replacement is reshipped from the goods: the returned unit goes there too
            await goods.change_stock(order.shop_id, line.goods_id, line.sku_id, item.quantity, reason,
                                     reference=row.aftersale_no)
        else:  # a flash order's units go back to its pool
            unit = OrderItem(id=line.id, goods_id=line.goods_id, sku_id=line.sku_id, quantity=item.quantity)
            await put_back(order, [unit], reason, row.aftersale_no)
        await OrderItem.update(restocked_quantity=OrderItem.restocked_quantity + item.quantity).where(
            OrderItem.id == line.id).aio_execute()


async def _pay(row: AfterSale, actor: str, from_status: str, operator_id: int | None = None) -> AfterSale:
    """Inside a transaction: the after-sale's money goes back and it becomes `refunded`, once;
    the order's refunded amount and lines move with it and the `refunded` reactions run. The
    refund that leaves no unit of the order unrefunded also carries shipping (less any shipping
    an earlier refund carried): units only asked for may still be withdrawn and kept."""
    paid = await _move(row, [from_status], "refund", actor, {"status": REFUNDED, "refunded_at": utcnow()})
    if paid is None:
        raise _refused(await AfterSale.aio_get_or_none(AfterSale.id == row.id), "refund")
    order = await get_order(paid.shop_id, paid.order_id)
    items = list(await AfterSaleItem.select().where(AfterSaleItem.aftersale_id == paid.id)
                 .order_by(AfterSaleItem.id).aio_execute())
    # what each line gets back: the goods amount (lowered by the merchant, perhaps) over the units' shares
    money = shares.allocate(paid.amount_fen, [item.amount_fen for item in items])
    refunded_items = []
    for item, fen in zip(items, money):
        await OrderItem.update(refunded_quantity=OrderItem.refunded_quantity + item.quantity).where(
            OrderItem.id == item.order_item_id).aio_execute()
        line = await OrderItem.aio_get(OrderItem.id == item.order_item_id)
        line.quantity, line.total_fen = item.quantity, fen  # the refunded part of the line
        refunded_items.append(line)
    everything = not await OrderItem.select().where((OrderItem.order_id == order.id)
                                                    & (OrderItem.refunded_quantity < OrderItem.quantity)).aio_exists()
    if everything:
        shipping = shares.goods_and_shipping(order.total_fen, order.shipping_fee_fen)[1]
        already = await (AfterSale.select(fn.SUM(AfterSale.shipping_fen))
                         .where((AfterSale.order_id == order.id) & (AfterSale.status == REFUNDED)
                                & (AfterSale.id != paid.id)).aio_scalar())
        shipping = max(0, shipping - int(already or 0))  # MySQL sums to a Decimal
        if shipping:
            await AfterSale.update(shipping_fen=shipping, amount_fen=AfterSale.amount_fen + shipping).where(
                AfterSale.id == paid.id).aio_execute()
            paid.shipping_fen, paid.amount_fen = shipping, paid.amount_fen + shipping
    changes = {"refunded_fen": order.refunded_fen + paid.amount_fen,
               "refund_status": REFUND_FULL if everything else REFUND_PARTIAL, "refunded_at": utcnow()}
    if everything:
        changes["status"] = ORDER_CLOSED
    moved = await transition(order.shop_id, order.id, [PAID, SHIPPED, COMPLETED], "refund", actor, changes,
                             extra=(Order.refunded_fen == order.refunded_fen)
                             & (Order.total_fen >= order.refunded_fen + paid.amount_fen),
                             note=f"{paid.aftersale_no} {paid.amount_fen}")
    if moved is None:
        raise conflict("refund_exceeds_paid", "refunds of this order would pass what was paid",
                       {"refunded_fen": order.refunded_fen, "amount_fen": paid.amount_fen})
    if paid.amount_fen:
        if paid.refund_method == "wechat":
            await payment.owe_part(order.shop_id, order.order_no, paid.aftersale_no, paid.amount_fen,
                                   paid.reason or "after-sale refund")
        else:
            await finance.change_credit(order.shop_id, order.member_id, BALANCE, paid.amount_fen, "refund",
                                        reference=paid.aftersale_no, operator_id=operator_id)
    if paid.points:
        await finance.change_credit(order.shop_id, order.member_id, POINTS, paid.points, "order_deduct_return",
                                    reference=paid.aftersale_no)
    if paid.type == REFUND and order.status == PAID:  # never shipped: the units are still here
        await _restock(order, paid, "refund")
    if everything and (await sysset.get_settings(order.shop_id)).sale.return_coupon_on_refund:
        await sale.return_for_order(order)
    moved.refund_fen = paid.amount_fen
    await lifecycle.announce(lifecycle.REFUNDED, moved, refunded_items)
    await emit(moved, moved.previous_status)
    return paid


async def _approve(row: AfterSale, actor: str, amount_fen: int | None, return_address: dict | None,
                   operator_id: int | None = None) -> AfterSale:
    """Inside a transaction: requested → approved (refund-only: paid at once)."""
    if amount_fen is not None and row.type in MONEY_TYPES and amount_fen > row.amount_fen:
        raise field_error("amount_fen", f"at most {row.amount_fen} fen was asked for")
    settings = await sysset.get_settings(row.shop_id)
    changes: dict = {"status": APPROVED, "approved_at": utcnow()}
    if amount_fen is not None and row.type in MONEY_TYPES:
        changes["amount_fen"] = amount_fen
    if row.type in (RETURN, EXCHANGE):
        address = return_address or settings.aftersale.return_address.model_dump()
        if not address.get("detail"):
            raise field_error("return_address", "name where the goods go back (or set the shop's return address)")
        changes["return_address"] = json.dumps(address, ensure_ascii=False)
        changes["return_due_at"] = utcnow() + datetime.timedelta(days=settings.aftersale.return_ship_days)
    approved = await _move(row, [REQUESTED], "approve", actor, changes)
    if approved is None:
        raise _refused(await AfterSale.aio_get_or_none(AfterSale.id == row.id), "approve")
    if approved.type == REFUND:
        return await _pay(approved, actor, APPROVED, operator_id)
    return approved


async def approve_pending(row: AfterSale, actor: str) -> AfterSale:
    """Inside a transaction: approve a pending request as it stands (a failed team's refunds)."""
    return await _approve(row, actor, None, None)


async def send_owed(row: AfterSale) -> None:
    await _after(row)


async def _after(row: AfterSale) -> None:
    """After commit: send the WeChat refund the step owed, if any."""
    if row.status == REFUNDED and row.refund_method == "wechat" and row.amount_fen:
        await payment.refund_owed(refund_no=row.aftersale_no)


async def approve(shop_id: int, aftersale_id: int, staff_id: int, amount_fen: int | None = None,
                  return_address: dict | None = None) -> dict:
    row = await _get(shop_id, aftersale_id)

    async def run() -> AfterSale:
        done = await _approve(row, f"staff:{staff_id}", amount_fen, return_address, staff_id)
        # filed under the order: its operation log shows every refund a clerk let through
        await audit.record(shop_id, "aftersale.approve", "order", row.order_id, {"status": REQUESTED},
                           {"aftersale_id": row.id, "status": done.status, "amount_fen": done.amount_fen})
        return done
    await _after(await events.transaction(run))
    return await detail(shop_id, aftersale_id)


async def reject(shop_id: int, aftersale_id: int, staff_id: int, reason: str) -> dict:
    row = await _get(shop_id, aftersale_id)

    async def run() -> AfterSale | None:
        done = await _move(row, [REQUESTED], "reject", f"staff:{staff_id}",
                           {"status": REJECTED, "reject_reason": reason, "closed_at": utcnow()},
                           extra=AfterSale.approve_due_at.is_null() | (AfterSale.approve_due_at > utcnow()), note=reason)
        if done is not None:
            await _release(done)
            await audit.record(shop_id, "aftersale.reject", "order", row.order_id, {"status": REQUESTED},
                               {"aftersale_id": row.id, "status": REJECTED}, note=reason)
        return done
    for _ in range(2):
        if await events.transaction(run) is not None:
            return await detail(shop_id, aftersale_id)
        # silent too long: approved by rule — or, when the rule could not approve it, still the
        # merchant's to reject, whether this call or the deadline job (at the same time) found
        # that out: decided on the row as it is after both
        await _apply_deadline(await _get(shop_id, aftersale_id))
        if not _left_to_the_merchant(await _get(shop_id, aftersale_id)):
            break
    raise _refused(await _get(shop_id, aftersale_id), "reject")


def _left_to_the_merchant(row: AfterSale) -> bool:
    return row.status == REQUESTED and (row.approve_due_at is None or row.approve_due_at > utcnow())


async def cancel(shop_id: int, member, aftersale_id: int) -> dict:
    """The member withdraws a request that is not yet on its way back."""
    row = await _get(shop_id, aftersale_id, member.id)

    async def run() -> AfterSale | None:
        done = await _move(row, [REQUESTED, APPROVED], "cancel", f"member:{member.id}",
                           {"status": CANCELLED, "close_reason": "member_cancel", "closed_at": utcnow()})
        if done is not None:
            await _release(done)
        return done
    if await events.transaction(run) is None:
        raise _refused(await _get(shop_id, aftersale_id), "cancel")
    return await detail(shop_id, aftersale_id, member.id)


async def ship_back(shop_id: int, member, aftersale_id: int, express_company: str, express_no: str) -> dict:
    """The member sent the parcel back (return or exchange), before the return deadline."""
    row = await _get(shop_id, aftersale_id, member.id)

    async def run() -> AfterSale | None:
        done = await _move(row, [APPROVED], "ship", f"member:{member.id}",
                           {"status": RETURNED, "returned_at": utcnow(), "express_company": express_company,
                            "express_no": express_no},
                           extra=AfterSale.type.in_([RETURN, EXCHANGE]) & (AfterSale.return_due_at > utcnow()),
                           note=f"{express_company} {express_no}")
        if done is not None:
            order = await get_order(shop_id, done.order_id)
            await events.record(f"shop:{shop_id}:orders", "aftersale.returned",
                                {"aftersale_id": done.id, "order_id": done.order_id, "order_no": order.order_no,
                                 "type": done.type, "express_company": express_company, "express_no": express_no})
        return done
    if await events.transaction(run) is None:
        await _apply_deadline(await _get(shop_id, aftersale_id))
        raise _refused(await _get(shop_id, aftersale_id), "ship back")
    return await detail(shop_id, aftersale_id, member.id)


async def receive(shop_id: int, aftersale_id: int, staff_id: int) -> dict:
    """The returned parcel arrived: units back into stock; a return is refunded now."""
    row = await _get(shop_id, aftersale_id)

    async def run() -> AfterSale:
        actor = f"staff:{staff_id}"
        done = await _move(row, [RETURNED], "receive", actor, {"status": RECEIVED, "received_at": utcnow()})
        if done is None:
            raise _refused(await _get(shop_id, aftersale_id), "receive")
        await _restock(await get_order(shop_id, done.order_id), done, "return")
        if done.type == RETURN:
            return await _pay(done, actor, RECEIVED, staff_id)
        return done
    await _after(await events.transaction(run))
    return await detail(shop_id, aftersale_id)


async def reship(shop_id: int, aftersale_id: int, staff_id: int, express_company: str, express_no: str) -> dict:
    """An exchange's replacement goes out (taken from stock; 409 when there is none)."""
    row = await _get(shop_id, aftersale_id)

    async def run() -> None:
        done = await _move(row, [RECEIVED], "reship", f"staff:{staff_id}",
                           {"status": EXCHANGED, "reship_company": express_company, "reship_no": express_no,
                            "closed_at": utcnow()}, extra=AfterSale.type == EXCHANGE,
                           note=f"{express_company} {express_no}")
        if done is None:
            raise _refused(await _get(shop_id, aftersale_id), "reship")
        for item in await AfterSaleItem.select().where(AfterSaleItem.aftersale_id == done.id).aio_execute():
            line = await OrderItem.aio_get(OrderItem.id == item.order_item_id)
            await goods.change_stock(shop_id, line.goods_id, line.sku_id, -item.quantity, "exchange",
                                     reference=done.aftersale_no)
            await OrderItem.update(restocked_quantity=OrderItem.restocked_quantity - item.quantity).where(
                (OrderItem.id == line.id) & (OrderItem.restocked_quantity >= item.quantity)).aio_execute()
        await _release(done)  # the replacement may have its own after-sale
    await events.transaction(run)
    return await detail(shop_id, aftersale_id)


# ---------------------------------------------------------------- time
def _why(error: DomainError) -> str:
    """A refusal in a line for the log: its code and what it says (a field error names its fields)."""
    fields = error.details.get("fields") or []
    return f"{error.code}: " + ("; ".join(f"{f['field']}: {f['message']}" for f in fields) or error.message)


async def _apply_deadline(row: AfterSale) -> bool:
    """What the deadlines have already decided for this after-sale, made so (once); True if it
    changed (moved, or left to the merchant because the rule could not approve it)."""
    now = utcnow()
    if row.status == REQUESTED and row.approve_due_at is not None and row.approve_due_at <= now:
        async def approve_by_rule() -> AfterSale | bool:
            try:  # a savepoint: a refusal half-way undoes everything the approval did
                return await events.transaction(lambda: _approve(row, "system", None, None))
            except DomainError as refused:
                # e.g. no return address, or points the refund would take back already spent: the rule
                # cannot decide it, so it is left to the merchant with no deadline (and out of the job's way)
                return await _move(row, [REQUESTED], "auto_approve_failed", "system", {"approve_due_at": None},
                                   extra=AfterSale.approve_due_at <= now, note=_why(refused)) is not None
        done = await events.transaction(approve_by_rule)
        if isinstance(done, AfterSale):
            await _after(done)
            return True
        return done
    if row.status == APPROVED and row.return_due_at is not None and row.return_due_at <= now:
        async def close() -> AfterSale | None:
            done = await _move(row, [APPROVED], "close", "system",
                               {"status": CANCELLED, "close_reason": "return_not_shipped", "closed_at": now},
                               extra=AfterSale.return_due_at <= now)
            if done is not None:
                await _release(done)
            return done
        return await events.transaction(close) is not None
    return False


async def apply_deadlines() -> int:
    """Timed job, every shop: unanswered requests approved, unshipped returns closed. Safe in N
    processes: each step is conditional."""
    now = utcnow()
    due = await (AfterSale.select().where(((AfterSale.status == REQUESTED) & (AfterSale.approve_due_at <= now))
                                          | ((AfterSale.status == APPROVED) & (AfterSale.return_due_at <= now)))
                 .order_by(AfterSale.id).limit(JOB_BATCH).aio_execute())
    moved = 0
    for row in due:
        moved += await _apply_deadline(row)
    return moved


# ---------------------------------------------------------------- the order-level shorthand
async def _requested_of(shop_id: int, order_id: int) -> AfterSale:
    """The order's newest pending refund-only request: the whole-order shorthand never decides a
    return or an exchange (those need their own page: an address, a parcel)."""
    row = await (AfterSale.select().where((AfterSale.shop_id == shop_id) & (AfterSale.order_id == order_id)
                                          & (AfterSale.status == REQUESTED) & (AfterSale.type == REFUND))
                 .order_by(AfterSale.id.desc()).aio_first())
    if row is None:
        order = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id))
        raise invalid_state(order, "act on a refund request of")
    return row


async def approve_for_order(shop_id: int, order_id: int, staff_id: int) -> None:
    """`/orders/{id}/refund/approve`: approve the order's pending refund-only request."""
    await approve(shop_id, (await _requested_of(shop_id, order_id)).id, staff_id)


async def reject_for_order(shop_id: int, order_id: int, staff_id: int, reason: str) -> None:
    await reject(shop_id, (await _requested_of(shop_id, order_id)).id, staff_id, reason)


async def refund_everything(shop_id: int, order_id: int, actor: str, reason: str) -> AfterSale | None:
    """Inside a transaction: every unit not yet asked for refunded now (a failed group-buy team),
    or None when the order is not paid any more."""
    await lock_order(shop_id, order_id)  # two expiry jobs at once: the second sees the first's refund
    order = await Order.aio_get_or_none((Order.shop_id == shop_id) & (Order.id == order_id))
    if order is None or order.status != PAID:
        return None
    if not await OrderItem.select().where((OrderItem.order_id == order_id)
                                          & (OrderItem.aftersale_quantity < OrderItem.quantity)).aio_exists():
        return None
    row = await open_request(shop_id, order_id, actor, REFUND, None, reason)
    return await _approve(row, actor, None, None)


async def has_open(order_id: int) -> bool:
    return await AfterSale.select().where((AfterSale.order_id == order_id) & AfterSale.status.in_(OPEN)).aio_exists()

