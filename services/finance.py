"""Members' balance (余额, fen) and points (积分): every change is a conditional UPDATE that can
never take the amount below zero, plus a ledger row with the amount after, in one transaction.
Recharge, withdrawals and reports grow here with the finance issue."""
from __future__ import annotations

import events
from lib.errors import conflict, not_found
from models.base import iso, paginate
from models.finance import BALANCE, POINTS, CreditLedger
from models.member import Member

COLUMNS = {BALANCE: Member.balance_fen, POINTS: Member.points}


async def change_credit(shop_id: int, member_id: int, currency: str, delta: int, type_: str, *,
                        reference: str = "", operator_id: int | None = None, remark: str = "") -> int:
    """Add `delta` (negative to spend); 409 `insufficient_balance`/`insufficient_points` if it
    would go below zero. Joins the caller's transaction. Returns the new amount."""
    column = COLUMNS[currency]
    async with events.atomic():
        changed = await Member.update({column: column + delta}).where(
            (Member.shop_id == shop_id) & (Member.id == member_id) & (column + delta >= 0)).aio_execute()
        if not changed:
            if not await Member.select().where((Member.shop_id == shop_id) & (Member.id == member_id)).aio_exists():
                raise not_found("member")
            raise conflict(f"insufficient_{currency}", f"not enough {currency}", {"currency": currency})
        after = await Member.select(column).where(Member.id == member_id).aio_scalar()
        await CreditLedger.aio_create(shop_id=shop_id, member_id=member_id, currency=currency, type=type_,
                                      amount=delta, balance_after=after, reference=reference,
                                      operator_id=operator_id, remark=remark)
    return after


def render_ledger(row: CreditLedger) -> dict:
    return {"id": row.id, "currency": row.currency, "type": row.type, "amount": row.amount,
            "balance_after": row.balance_after, "reference": row.reference, "operator_id": row.operator_id,
            "remark": row.remark, "created_at": iso(row.created_at)}


async def ledger(shop_id: int, member_id: int, currency: str | None, page: int, page_size: int) -> dict:
    query = CreditLedger.select().where((CreditLedger.shop_id == shop_id) & (CreditLedger.member_id == member_id))
    if currency:
        query = query.where(CreditLedger.currency == currency)
    return await paginate(query.order_by(CreditLedger.id.desc()), page, page_size, render_ledger)
