"""What must hold for a shop after any mix of traffic and faults, read straight from the database:
the fault, soak and reconciliation tests all end with `assert await violations(...) == []`."""
from __future__ import annotations

from models.aftersale import HOLDING, REFUND, REFUNDED, RETURN, AfterSale, AfterSaleItem
from models.distribution import Commission
from models.finance import CreditLedger
from models.goods import Goods
from models.member import Member
from models.order import REFUND_FULL, REFUND_NONE, REFUND_PARTIAL, Order, OrderItem


async def violations(shop_id: int, stocked: dict[int, int]) -> list[str]:
    """Every broken rule, as text (empty when all hold).

    - each member's balance, points and commission equal the sum of their ledger, no entry below 0;
    - frozen commission equals the member's open commission rows;
    - for each goods id in `stocked` (id -> units ever stocked): stock + units sold and not put
      back (cancelled, refunded before shipping, returned) = stocked;
    - no order without lines (a half-written order);
    - after-sales: an order's `refunded_fen` is the sum of its refunded after-sales and never above
      its total; `refund_status` agrees with its lines (none / partial / full = every unit refunded,
      and then the order is closed); per line, refunded units = units of its refunded after-sales
      <= units held by after-sales <= units bought; the money after-sales holding a line never ask
      for more than its paid share.
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
        held = sum(item.quantity - item.restocked_quantity for item in await (
            OrderItem.select(OrderItem.quantity, OrderItem.restocked_quantity)
            .where(OrderItem.goods_id == goods_id).aio_execute()))
        if goods.stock + held != units or goods.stock < 0:
            found.append(f"goods {goods_id}: stock {goods.stock} + sold {held} != {units}")
    lineless = await (Order.select(Order.id).where((Order.shop_id == shop_id) & ~Order.id.in_(
        OrderItem.select(OrderItem.order_id).where(OrderItem.shop_id == shop_id))).aio_execute())
    found += [f"order {order.id} has no lines" for order in lineless]
    found += await _aftersale_violations(shop_id)
    return found


async def _aftersale_violations(shop_id: int) -> list[str]:
    found = []
    sales = list(await AfterSale.select().where(AfterSale.shop_id == shop_id).aio_execute())
    refunded_fen: dict[int, int] = {}
    for sale in sales:
        if sale.status == REFUNDED:
            refunded_fen[sale.order_id] = refunded_fen.get(sale.order_id, 0) + sale.amount_fen
    by_id = {sale.id: sale for sale in sales}
    units: dict[int, list[int]] = {}  # line -> [held, refunded, money share asked]
    for item in await AfterSaleItem.select().where(AfterSaleItem.shop_id == shop_id).aio_execute():
        sale = by_id[item.aftersale_id]
        counts = units.setdefault(item.order_item_id, [0, 0, 0])
        if sale.status in HOLDING:
            counts[0] += item.quantity
        if sale.status == REFUNDED:
            counts[1] += item.quantity
        if sale.status in HOLDING and sale.type in (REFUND, RETURN):
            counts[2] += item.amount_fen
    orders = {o.id: o for o in await Order.select().where(Order.shop_id == shop_id).aio_execute()}
    lines: dict[int, list] = {}
    for line in await OrderItem.select().where(OrderItem.shop_id == shop_id).aio_execute():
        lines.setdefault(line.order_id, []).append(line)
        held, refunded, asked = units.get(line.id, [0, 0, 0])
        if (line.refunded_quantity, line.aftersale_quantity) != (refunded, held) or not \
                line.refunded_quantity <= line.aftersale_quantity <= line.quantity:
            found.append(f"line {line.id}: refunded {line.refunded_quantity}/held {line.aftersale_quantity}/"
                         f"bought {line.quantity} != after-sales {refunded}/{held}")
        if line.paid_fen is not None and asked > line.paid_fen:
            found.append(f"line {line.id}: after-sales ask {asked} > paid {line.paid_fen}")
    for order in orders.values():
        if order.refunded_fen != refunded_fen.get(order.id, 0) or order.refunded_fen > order.total_fen:
            found.append(f"order {order.id}: refunded {order.refunded_fen} != after-sales "
                         f"{refunded_fen.get(order.id, 0)} (total {order.total_fen})")
        items = lines.get(order.id, [])
        everything = bool(items) and all(i.refunded_quantity == i.quantity for i in items)
        expected = REFUND_FULL if everything else REFUND_PARTIAL if any(i.refunded_quantity for i in items) \
            else REFUND_NONE
        if order.refund_status != expected or (everything and order.status != -1):
            found.append(f"order {order.id}: refund_status {order.refund_status} (status {order.status}), "
                         f"lines say {expected}")
    return found
