"""Whole-order refunds, as after-sales (services/orders/aftersales.py) of every unit left: the
member's `POST /orders/{id}/refund` is a refund-only request for them all; the merchant's
`/orders/{id}/refund/approve|reject` act on the order's pending request; a failed group-buy team
refunds its paid orders by itself. The request's state lives on the after-sale; the order
reports how much came back (`refund_status` none | partial | full, `refunded_fen`)."""
from __future__ import annotations

import events
from models.aftersale import REFUND, REQUESTED, AfterSale
from models.locks import lock_order
from models.member import Member
from services.orders import aftersales
from services.orders.state import emit, get_order, order_detail


async def request_refund(shop_id: int, member: Member, order_id: int, reason: str) -> dict:
    async def request():
        row = await aftersales.open_request(shop_id, order_id, f"member:{member.id}", REFUND, None, reason,
                                            member_id=member.id)
        order = await get_order(shop_id, order_id)
        await emit(order, order.status, "refund.requested", reason=reason, aftersale_id=row.id)
    await events.transaction(request)
    return await order_detail(shop_id, order_id, member.id)


async def approve_refund(shop_id: int, order_id: int, staff_id: int) -> dict:
    """The merchant approves the order's pending request: exactly once, however often it is clicked."""
    await aftersales.approve_for_order(shop_id, order_id, staff_id)
    return await order_detail(shop_id, order_id, merchant=True)


async def reject_refund(shop_id: int, order_id: int, staff_id: int, reason: str) -> dict:
    await aftersales.reject_for_order(shop_id, order_id, staff_id, reason)
    return await order_detail(shop_id, order_id, merchant=True)


async def refund_for_failed_team(shop_id: int, order_id: int) -> bool:
    """A paid order of a team that failed: every unit refunded (pending requests approved, the
    rest refunded now), closed — exactly once; False if it was not a paid order any more."""
    async def refund() -> list[AfterSale]:
        await lock_order(shop_id, order_id)  # pending requests read next are the ones to approve
        done = []
        for pending in await AfterSale.select().where((AfterSale.shop_id == shop_id) & (AfterSale.order_id == order_id)
                                                      & (AfterSale.status == REQUESTED)
                                                      & (AfterSale.type == REFUND)).aio_execute():
            done.append(await aftersales.approve_pending(pending, "system"))
        rest = await aftersales.refund_everything(shop_id, order_id, "system", "team_failed")
        return done + ([rest] if rest is not None else [])
    done = await events.transaction(refund)
    if not events.in_transaction():
        for row in done:
            await aftersales.send_owed(row)
    return bool(done)
