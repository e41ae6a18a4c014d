"""An order's state: reading and rendering it, and the one way it moves.

Every move is `transition`: the order's row lock, one conditional UPDATE on the current state,
an order-log row, all inside the caller's transaction; it answers the order as it now is (built
from what was read under the lock plus the change, not read again) or None when the state did
not match, so running a move twice — two clicks, two processes, a job and a member at once —
changes nothing the second time.

Historic orders brought over by `import-ewei` (`Order.imported`) never move: they were paid,
shipped and refunded in the old shop, with money we never held, so every move answers 409
`order_imported` (`invalid_state` says it) while both sides can still read them, with the
source's payment facts under `imported`.
"""
from __future__ import annotations

import json
import secrets

import events
from lib.errors import DomainError, conflict, not_found
from models.aftersale import AfterSale
from models.base import iso, paginate, utcnow
from models.importer import ImportedOrder
from models.locks import lock_order
from models.order import PAID, REFUND_NONE, STATUS_NAMES, Order, OrderItem, OrderLog

# ewei_shopv2's paytype codes, as the imported facts name them
EWEI_PAYTYPES = {1: "balance", 11: "admin", 21: "wechat", 22: "alipay", 23: "unionpay", 3: "cod", 4: "cashier"}


def render_imported(facts: ImportedOrder | None) -> dict | None:
    if facts is None:
        return None
    return {"source": "ewei_shopv2", "source_order_no": facts.ordersn, "paytype": facts.paytype,
            "paytype_name": EWEI_PAYTYPES.get(facts.paytype, "unknown"), "transaction_id": facts.transaction_id,
            "source_status": facts.source_status}


async def imported_facts(orders: list[Order]) -> dict[int, ImportedOrder]:
    ids = [o.id for o in orders if o.imported]
    if not ids:
        return {}
    return {f.order_id: f for f in await ImportedOrder.select().where(ImportedOrder.order_id.in_(ids)).aio_execute()}


def render_order(order: Order, items: list[OrderItem], logs: list[OrderLog] | None = None,
                 merchant: bool = False, imported: ImportedOrder | None = None) -> dict:
    data = {
        "id": order.id, "order_no": order.order_no, "member_id": order.member_id, "status": order.status,
        "status_name": STATUS_NAMES[order.status], "refund_status": order.refund_status,
        "refunded_fen": order.refunded_fen, "goods_total_fen": order.goods_total_fen,
        "level_discount_fen": order.level_discount_fen,
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
        "flash_item_id": order.flash_item_id, "imported": render_imported(imported),
        "pickup_code": order.pickup_code if order.status == PAID else None,
        "items": [{"id": i.id, "goods_id": i.goods_id, "sku_id": i.sku_id, "title": i.title, "sku_title": i.sku_title,
                   "image": i.image, "price_fen": i.price_fen, "quantity": i.quantity, "total_fen": i.total_fen,
                   "paid_fen": i.paid_fen, "refunded_quantity": i.refunded_quantity}
                  for i in items],
    }
    if merchant:
        data["merchant_remark"] = order.merchant_remark
    if logs is not None:
        data["logs"] = [{"action": log.action, "from_status": log.from_status, "to_status": log.to_status,
                         "actor": log.actor, "note": log.note, "created_at": iso(log.created_at)} for log in logs]
    return data


async def items_of(order: Order) -> list[OrderItem]:
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
    facts = await imported_facts([order])
    data = render_order(order, await items_of(order), logs, merchant, facts.get(order.id))
    data["aftersales"] = [{"id": r.id, "type": r.type, "status": r.status, "amount_fen": r.amount_fen,
                           "reason": r.reason, "reject_reason": r.reject_reason}
                          for r in await AfterSale.select().where(AfterSale.order_id == order.id)
                          .order_by(AfterSale.id).aio_execute()]
    return data


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
    facts = await imported_facts(result["items"])
    result["items"] = [render_order(o, items.get(o.id, []), merchant=merchant, imported=facts.get(o.id))
                       for o in result["items"]]
    return result




async def emit(order: Order, previous_status: int | None, shop_event: str | None = None, **shop_data) -> None:
    """The member hears of every move (`order.status`); the shop's order board of the ones it waits for."""
    await events.record(f"member:{order.member_id}", "order.status", {
        "order_id": order.id, "order_no": order.order_no, "status": order.status,
        "previous_status": previous_status, "refund_status": order.refund_status})
    if shop_event:
        await events.record(f"shop:{order.shop_id}:orders", shop_event, {
            "order_id": order.id, "order_no": order.order_no, "member_id": order.member_id,
            "total_fen": order.total_fen, "status": order.status, **shop_data})


async def transition(shop_id: int, order_id: int, from_status, action: str, actor: str, changes: dict,
                     extra=None, note: str = "") -> Order | None:
    """Conditional UPDATE from one of `from_status` (and `extra`), logged; inside a transaction.
    Returns the order as it now is, its `previous_status` set, or None when the state did not match."""
    await lock_order(shop_id, order_id)  # the state read next is the one the UPDATE acts on
    mine = (Order.shop_id == shop_id) & (Order.id == order_id)
    order = await Order.aio_get_or_none(mine)
    if order is None:
        return None
    where = mine & Order.status.in_(list(from_status)) & (Order.imported == False)  # noqa: E712 (SQL)
    if extra is not None:
        where &= extra
    changes = {**changes, "updated_at": utcnow()}
    if not await Order.update(**changes).where(where).aio_execute():
        return None
    await OrderLog.aio_create(shop_id=shop_id, order_id=order_id, action=action, from_status=order.status,
                              to_status=changes.get("status", order.status), actor=actor, note=note)
    order.previous_status = order.status
    for field, value in changes.items():
        setattr(order, field, value)
    return order


def invalid_state(order: Order | None, doing: str) -> DomainError:
    if order is None:
        return not_found("order")
    if order.imported:
        return conflict("order_imported", f"cannot {doing} a historic order imported from the previous shop system: "
                        "it is read-only", {"status": order.status, "refund_status": order.refund_status})
    return conflict("invalid_state", f"cannot {doing} an order that is {STATUS_NAMES[order.status]}"
                    f"{'' if order.refund_status == REFUND_NONE else f' (refund {order.refund_status})'}",
                    {"status": order.status, "refund_status": order.refund_status})


async def issue_pickup_code(order_id: int) -> None:
    """A collectable paid order's redemption code (核销): unique by construction (the order id)
    and not guessable (8 random digits after it); issued once."""
    await Order.update(pickup_code=f"{order_id}{secrets.randbelow(10**8):08d}").where(
        (Order.id == order_id) & Order.pickup_code.is_null()).aio_execute()
