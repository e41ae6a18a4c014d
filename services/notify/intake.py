"""From committed outbox events to notifications to send (and shipments to report).

The relay hands every published batch to `take_events` before marking it sent (events.relay
`consume`), in whichever process holds the relay lock. A batch may come twice (a relay died
between publishing and marking): the rows are inserted with INSERT IGNORE on the unique key
(event id, member, staff member, template) and (order) for shipments, so a second offer adds
nothing. The send job then claims each row once; that is how N processes and restarts never send
twice.
"""
from __future__ import annotations

import json
import logging

from models.aftersale import AfterSale
from models.finance import WITHDRAW_PAID, WITHDRAW_REJECTED, Withdrawal
from models.member import Member
from models.notify import Notification, WechatShipment
from models.order import COMPLETED, PAID, SHIPPED, STATUS_NAMES, UNPAID, Order, OrderItem
from models.payment import Payment
from models.wechat import ShopWechat
from services.notify import staff
from services.notify.templates import STAFF_EVENTS, render, templates_for

log = logging.getLogger("mall.notify")

WATCHED = {"order.status", "team.success", "team.failed", "aftersale.status", "withdrawal.reviewed",
           "order.paid", "aftersale.requested"}  # the last two: the shop's order board, for staff
# the outcomes of a withdrawal the member hears of: `approved` is passed over, since a payout
# usually follows within the same request and one consent would be spent on the lesser message
WITHDRAWAL_RESULTS = {WITHDRAW_REJECTED: "已驳回", WITHDRAW_PAID: "已到账"}
AFTERSALE_TYPES = {"refund": "仅退款", "return": "退货退款", "exchange": "换货"}


def _yuan(fen) -> str:
    return f"{(fen or 0) / 100:.2f}"


async def _nickname(shop_id: int, member_id: int) -> str:
    member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.id == member_id))
    return member.nickname if member else ""


async def _order_vars(order: Order) -> dict:
    first = await OrderItem.select(OrderItem.title).where(OrderItem.order_id == order.id).order_by(OrderItem.id).aio_first()
    return {"order_no": order.order_no, "total_yuan": _yuan(order.total_fen), "goods_title": first.title if first else "",
            "status": STATUS_NAMES.get(order.status, ""), "express_company": order.express_company,
            "express_no": order.express_no}


async def _recipients(row) -> list[tuple[int, str, int, dict]]:
    """(shop_id, event kind, member_id, variables) for each member the event concerns (for the
    staff kinds: the member whose order it is; _take sends it to the staff who receive alerts)."""
    data = json.loads(row.data)
    if row.type == "order.status" and row.channel.startswith("member:"):
        if data.get("status") == PAID and data.get("previous_status") == UNPAID:
            kind = "order_paid"
        elif data.get("status") == SHIPPED and data.get("previous_status") == PAID:
            kind = "order_shipped"
        else:
            return []
        order = await Order.aio_get_or_none(Order.id == data["order_id"])
        return [(order.shop_id, kind, order.member_id, await _order_vars(order))] if order else []
    if row.type in ("team.success", "team.failed") and row.channel.startswith("team:"):
        kind = "team_success" if row.type == "team.success" else "team_failed"
        orders = await (Order.select().where((Order.team_id == data["team_id"]) & Order.paid_at.is_null(False))
                        .order_by(Order.id).aio_execute())
        return [(o.shop_id, kind, o.member_id, {**await _order_vars(o), "team_id": data["team_id"],
                                                 "team_size": data.get("team_size")}) for o in orders]
    if row.type == "order.paid" and row.channel.startswith("shop:"):
        order = await Order.aio_get_or_none(Order.id == data["order_id"])
        if order is None:
            return []
        return [(order.shop_id, "staff_order_paid", order.member_id,
                 {**await _order_vars(order), "buyer": await _nickname(order.shop_id, order.member_id)})]
    if row.type == "aftersale.requested" and row.channel.startswith("shop:"):
        aftersale = await AfterSale.aio_get_or_none(AfterSale.id == data["aftersale_id"])
        order = aftersale and await Order.aio_get_or_none(Order.id == aftersale.order_id)
        if not order:
            return []
        return [(aftersale.shop_id, "staff_aftersale_requested", aftersale.member_id,
                 {**await _order_vars(order), "buyer": await _nickname(order.shop_id, order.member_id),
                  "aftersale_id": aftersale.id, "aftersale_type": AFTERSALE_TYPES.get(aftersale.type, aftersale.type),
                  "amount_yuan": _yuan(aftersale.amount_fen), "reason": aftersale.reason})]
    if row.type == "withdrawal.reviewed":
        withdrawal = await Withdrawal.aio_get_or_none(Withdrawal.id == data["withdrawal_id"])
        if withdrawal is None or data["status"] not in WITHDRAWAL_RESULTS:
            return []
        return [(withdrawal.shop_id, "withdrawal_reviewed", withdrawal.member_id,
                 {"withdrawal_id": withdrawal.id, "amount_yuan": _yuan(withdrawal.amount_fen),
                  "withdrawal_status": data["status"], "result": WITHDRAWAL_RESULTS[data["status"]],
                  "reject_reason": data.get("reject_reason", "")})]
    if row.type == "aftersale.status":
        aftersale = await AfterSale.aio_get_or_none(AfterSale.id == data["aftersale_id"])
        order = aftersale and await Order.aio_get_or_none(Order.id == aftersale.order_id)
        if not order:
            return []
        return [(aftersale.shop_id, "aftersale_status", aftersale.member_id,
                 {**await _order_vars(order), "aftersale_id": aftersale.id, "aftersale_status": aftersale.status,
                  "amount_yuan": _yuan(aftersale.amount_fen)})]
    return []


async def _shipment_due(row) -> tuple[int, int] | None:
    """(shop, order) when the event hands an order's goods over: shipped, or picked up in store
    (paid -> completed happens only by redeeming a pick-up code)."""
    if row.type != "order.status" or not row.channel.startswith("member:"):
        return None
    data = json.loads(row.data)
    if data.get("previous_status") != PAID or data.get("status") not in (SHIPPED, COMPLETED):
        return None
    order = await Order.aio_get_or_none(Order.id == data["order_id"])
    if order is None or (data["status"] == COMPLETED and not order.pickup_code):
        return None
    return order.shop_id, order.id


async def take_events(rows: list) -> None:
    """The relay's consumer: queue the notifications and shipment reports these events call for."""
    notifications, shipments = [], []
    shops: dict[int, dict] = {}  # per shop in this batch: its templates, and who of its staff hears alerts
    for row in rows:
        if row.type not in WATCHED:
            continue
        try:
            await _take(row, shops, notifications, shipments)
        except Exception:  # one event that cannot be read or rendered must not lose the batch's others
            log.exception("notifications for event %s (%s) skipped", row.id, row.type)
    if notifications:
        await Notification.insert_many(notifications).on_conflict_ignore().aio_execute()
    for shop_id, order_id in shipments:
        await _queue_shipment(shop_id, order_id)


async def _take(row, shops: dict, notifications: list, shipments: list) -> None:
    """The notifications and shipment reports one event calls for, added to the batch's lists
    only once all of them are built (an event that fails adds nothing)."""
    mine = []
    report = await _shipment_due(row)
    for shop_id, kind, member_id, variables in await _recipients(row):
        if shop_id not in shops:
            shops[shop_id] = {"templates": await templates_for(shop_id)}
        template = shops[shop_id]["templates"].get(kind)
        if template is None:
            continue
        payload = json.dumps({"page": template.page, "data": render(json.loads(template.fields), variables)},
                             ensure_ascii=False)
        message = {"shop_id": shop_id, "event_id": row.id, "event": kind, "member_id": member_id,
                   "template_id": template.template_id, "payload": payload}
        if kind in STAFF_EVENTS:
            if "staff" not in shops[shop_id]:
                shops[shop_id]["staff"] = await staff.recipients(shop_id)
            mine += [{**message, "staff_id": staff_id, "openid": openid, "status": "pending", "error": ""}
                     for staff_id, openid in shops[shop_id]["staff"]]
            continue
        member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.id == member_id))
        openid = (member.openid or "") if member else ""
        mine.append({**message, "staff_id": 0, "openid": openid, "status": "pending" if openid else "skipped",
                     "error": "" if openid else "the member has no mini-program openid"})
    notifications.extend(mine)
    if report:
        shipments.append(report)


async def _queue_shipment(shop_id: int, order_id: int) -> None:
    """A shipped (or picked-up) order paid through WeChat in a shop with a mini-program: report it to WeChat."""
    if not await Payment.select().where((Payment.shop_id == shop_id) & (Payment.order_id == order_id)).aio_exists():
        return
    config = await ShopWechat.aio_get_or_none(ShopWechat.shop_id == shop_id)
    if not (config and config.mini_app_id):
        return
    await WechatShipment.insert(shop_id=shop_id, order_id=order_id).on_conflict_ignore().aio_execute()
