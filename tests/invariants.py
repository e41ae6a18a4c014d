"""What must hold for a shop after any mix of traffic and faults, read straight from the database:
the fault, soak and reconciliation tests all end with `assert await violations(...) == []`."""
from __future__ import annotations

from models.distribution import Commission
from models.finance import CreditLedger
from models.goods import Goods
from models.member import Member
from models.order import CANCELLED, Order, OrderItem


async def violations(shop_id: int, stocked: dict[int, int]) -> list[str]:
    """Every broken rule, as text (empty when all hold).

    - each member's balance, points and commission equal the sum of their ledger, no entry below 0;
    - frozen commission equals the member's open commission rows;
    - for each goods id in `stocked` (id -> units ever stocked): stock + units on live orders = stocked;
    - no order without lines (a half-written order).
    """
    found = []
    members = await Member.select().where(Member.shop_id == shop_id).aio_execute()
    entries: dict[tuple[int, str], list] = {}
    for entry in await CreditLedger.select().where(CreditLedger.shop_id == shop_id).order_by(CreditLedger.id).aio_execute():
        entries.setdefault((entry.member_id, entry.currency), []).append(entry)
    frozen: dict[int, int] = {}
    for commission in await Commission.select().where((Commission.shop_id == shop_id)
                                                      & (Commission.status == "frozen")).aio_execute():
        frozen[commission.member_id] = frozen.get(commission.member_id, 0) + commission.amount_fen
    for member in members:
        for currency, amount in (("balance", member.balance_fen), ("points", member.points),
                                 ("commission", member.commission_fen)):
            rows = entries.get((member.id, currency), [])
            if sum(row.amount for row in rows) != amount or (rows and rows[-1].balance_after != amount):
                found.append(f"member {member.id}: {currency} {amount} != ledger {sum(r.amount for r in rows)}")
            if any(row.balance_after < 0 for row in rows):
                found.append(f"member {member.id}: {currency} ledger went below zero")
        if frozen.get(member.id, 0) != member.commission_frozen_fen:
            found.append(f"member {member.id}: frozen {member.commission_frozen_fen} != {frozen.get(member.id, 0)}")
    for goods_id, units in stocked.items():
        goods = await Goods.aio_get(Goods.id == goods_id)
        held = sum(item.quantity for item in await (
            OrderItem.select(OrderItem.quantity).join(Order, on=(Order.id == OrderItem.order_id))
            .where((OrderItem.goods_id == goods_id) & (Order.status != CANCELLED)).aio_execute()))
        if goods.stock + held != units or goods.stock < 0:
            found.append(f"goods {goods_id}: stock {goods.stock} + sold {held} != {units}")
    lineless = await (Order.select(Order.id).where((Order.shop_id == shop_id) & ~Order.id.in_(
        OrderItem.select(OrderItem.order_id).where(OrderItem.shop_id == shop_id))).aio_execute())
    found += [f"order {order.id} has no lines" for order in lineless]
    return found
