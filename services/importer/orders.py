"""Historic orders with their lines: read-only history, kept as the source recorded it.

Status -1/1/2/3 mean what ours mean; an unpaid (0) source order is imported cancelled ("imported
unpaid"): it can no longer be paid here, and cancelling it later would put back stock it never
took here. Every imported order is marked `imported`, so services/orders refuses to move it
(409 order_imported); shipped orders get no auto-confirm time. The ewei paytype and the
payment's transaction id are kept beside the order (ImportedOrder) and shown with it; no Payment
row is made: the money was taken and is refunded (if ever) by the old shop's account.
Sub-merchant orders (merchid) are skipped unless imported with --merchid; the parent of a split
order (isparent) is skipped, its parts are the orders.

Orders are the large table (hundreds of thousands of rows): they are read in keyset pages and
each page is written with one multi-row INSERT per table (orders, lines, source facts,
commission, id map) in one transaction. The id map keeps a fingerprint of what each order
became, so a re-run — or the run after a kill — writes only the orders that changed at the
source and counts the rest as unchanged."""
from __future__ import annotations

import dataclasses
import hashlib
import json

from peewee import fn

from events import transaction
from models.base import utcnow
from models.distribution import Commission
from models.importer import ImportedOrder
from models.order import CANCELLED, REFUND_FULL, REFUND_NONE, UNPAID, Order, OrderItem
from models.prepared import insert_rows
from services.importer import distribution
from services.importer.context import Context
from services.importer.source import clip, fen, moment, unphp
from services.orders.state import EWEI_PAYTYPES

ORDER_COLUMNS = ["uniacid", "openid", "agentid", "ordersn", "price", "goodsprice", "discountprice", "status", "paytype",
                 "transid", "remark", "dispatchprice", "createtime", "finishtime", "paytime", "sendtime", "canceltime",
                 "refundtime", "expresscom", "expresssn", "express", "deductprice", "deductcredit", "changeprice",
                 "couponprice", "address", "merchid", "isparent", "remarksaler", "closereason", "deleted"]
LINE_COLUMNS = ["id", "orderid", "goodsid", "optionid", "optionname", "title", "price", "realprice", "total",
                "commissions", "commission1", "commission2", "commission3", "status1", "status2", "status3"]


@dataclasses.dataclass
class Planned:
    """What one source order becomes: the order, its lines, its source facts and its commission."""

    source_id: int
    values: dict
    lines: list[dict]
    facts: dict
    commissions: list[dict] = dataclasses.field(default_factory=list)
    fp: str = ""  # the fingerprint, once computed

    def fingerprint(self) -> str:
        stable = {k: v for k, v in self.values.items() if k != "updated_at"}
        text = json.dumps([stable, self.lines, self.facts, self.commissions], default=str, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()


def address_json(value) -> str:
    if not isinstance(value, dict):
        return "{}"
    return json.dumps({"name": value.get("realname", ""), "mobile": value.get("mobile", ""),
                       "province": value.get("province", ""), "city": value.get("city", ""),
                       "district": value.get("area", ""), "detail": value.get("address", "")}, ensure_ascii=False)


async def goods_titles(ctx: Context, source_goods_ids: set) -> dict[int, tuple[int, str]]:
    """source goods id -> (our goods id, its title), read once per page."""
    from models.goods import Goods

    mapped = {sid: await ctx.target("goods", sid) for sid in source_goods_ids if sid}
    ours = [gid for gid in mapped.values() if gid]
    titles = {g.id: g.title for g in await Goods.select(Goods.id, Goods.title).where(
        (Goods.shop_id == ctx.shop_id) & Goods.id.in_(ours or [0])).aio_execute()}
    return {sid: (gid, titles.get(gid, "")) for sid, gid in mapped.items() if gid}


async def import_orders(ctx: Context) -> None:
    source = ctx.source
    where = {"uniacid": ctx.uniacid}
    bar = ctx.progress_bar("orders", source.count("ewei_shop_order", where))
    for rows in source.pages("ewei_shop_order", ORDER_COLUMNS, where):
        ctx.report.read("order", len(rows))
        lines = source.rows("ewei_shop_order_goods", LINE_COLUMNS, {"orderid": [r["id"] for r in rows]})
        by_order: dict[int, list[dict]] = {}
        for line in lines:
            by_order.setdefault(line["orderid"], []).append(line)
        goods = await goods_titles(ctx, {line["goodsid"] for line in lines})
        planned = []
        for row in rows:
            plan = await _plan(ctx, row, by_order.get(row["id"], []), goods)
            if plan is not None:
                planned.append(plan)
        await write_orders(ctx, "order", planned)
        bar.advance(len(rows))
    bar.close()
    ctx.report.add_sum("orders' totals (fen)", 0, await imported_total(ctx, "order"))


async def imported_total(ctx: Context, table: str) -> int:
    """What the shop's orders imported from `table` add up to now (measured, not counted along)."""
    total = await (Order.select(fn.COALESCE(fn.SUM(Order.total_fen), 0))
                   .join(ImportedOrder, on=(ImportedOrder.order_id == Order.id))
                   .where((Order.shop_id == ctx.shop_id) & (ImportedOrder.source_table == table)).aio_scalar())
    return int(total or 0)


async def _plan(ctx: Context, row: dict, lines: list[dict], goods: dict) -> Planned | None:
    table = "order"
    if int(row.get("isparent") or 0):
        ctx.report.skip(table, row["id"], "parent of a split order: its sub-orders are imported")
        return None
    if int(row.get("merchid") or 0) != ctx.merchid:
        ctx.report.skip(table, row["id"], f"sub-merchant {row['merchid']}'s order (import it with --merchid)")
        return None
    member_id = ctx.member_by_openid.get(row["openid"] or "")
    if member_id is None:
        ctx.report.skip(table, row["id"], f"orphan: no member with openid {row['openid']}")
        return None
    if not lines:
        ctx.report.problem(table, row["id"], "no order lines at the source")
    status = int(row["status"] or 0)
    paytype = int(row["paytype"] or 0)
    created = moment(row["createtime"]) or utcnow()
    refunded = status == CANCELLED and bool(row.get("refundtime")) and bool(row.get("paytime"))
    total_fen = fen(row["price"])
    values = {
        "member_id": member_id, "order_no": clip(row["ordersn"], 32),
        "status": CANCELLED if status == UNPAID else status,
        "refund_status": REFUND_FULL if refunded else REFUND_NONE, "refunded_fen": total_fen if refunded else 0,
        "goods_total_fen": fen(row["goodsprice"]), "level_discount_fen": fen(row.get("discountprice")),
        "coupon_discount_fen": fen(row.get("couponprice")), "points_deduction_fen": fen(row.get("deductprice")),
        "points_used": int(row.get("deductcredit") or 0), "shipping_fee_fen": fen(row["dispatchprice"]),
        "price_adjustment_fen": fen(row.get("changeprice")), "total_fen": total_fen,
        "pay_method": pay_method_of(paytype) if row.get("paytime") else "",
        "address": address_json(unphp(row.get("address"))),
        "remark": clip(row.get("remark"), 255), "merchant_remark": clip(row.get("remarksaler"), 255),
        "express_company": clip(row.get("expresscom") or row.get("express"), 64),
        "express_no": clip(row.get("expresssn"), 64),
        "cancel_reason": "imported unpaid" if status == UNPAID else clip(row.get("closereason"), 64),
        "expires_at": created, "paid_at": moment(row.get("paytime")), "shipped_at": moment(row.get("sendtime")),
        "completed_at": moment(row.get("finishtime")),
        "cancelled_at": (moment(row.get("canceltime")) or created) if status in (CANCELLED, UNPAID) else None,
        "refunded_at": moment(row.get("refundtime")) if refunded else None, "created_at": created,
        "updated_at": utcnow()}
    if status == UNPAID:
        ctx.report.problem(table, row["id"], "unpaid at the source: imported cancelled (imported unpaid)")
    planned_lines = []
    for line in lines:
        goods_id, goods_title = goods.get(line["goodsid"], (None, ""))
        sku_id = await ctx.target("goods_option", line["optionid"]) if line.get("optionid") else None
        if goods_id is None:
            ctx.report.problem("order_goods", line["id"], f"goods {line['goodsid']} not imported: line kept, goods 0")
        quantity = max(1, int(line["total"] or 1))
        line_fen = fen(line["price"])
        planned_lines.append({
            "goods_id": goods_id or 0, "sku_id": sku_id, "title": clip(line.get("title") or goods_title, 200) or "-",
            "sku_title": clip(line.get("optionname"), 200), "price_fen": line_fen // quantity, "quantity": quantity,
            "total_fen": line_fen, "paid_fen": fen(line["realprice"]) if line.get("realprice") is not None else None})
    ctx.report.add_sum("orders' totals (fen)", total_fen, 0)
    facts = {"source_table": "order", "source_id": row["id"], "ordersn": clip(row["ordersn"], 64), "paytype": paytype,
             "source_status": status, "transaction_id": clip(row.get("transid"), 64)}
    plan = Planned(row["id"], values, planned_lines, facts)
    plan.commissions = await distribution.plan_order_commission(ctx, row, member_id, lines, values)
    return plan


def pay_method_of(paytype: int) -> str:
    return EWEI_PAYTYPES.get(paytype, "")


async def write_orders(ctx: Context, table: str, planned: list[Planned]) -> dict[int, int]:
    """One page of planned orders, written in one transaction with one INSERT per table for the
    new ones; returns source id -> our order id for every order of the page now here."""
    known = await ctx.page_map(table, [p.source_id for p in planned])
    numbers = [p.values["order_no"] for p in planned]
    taken = {o.order_no: o.id for o in await Order.select(Order.id, Order.order_no).where(
        Order.order_no.in_(numbers or [""])).aio_execute()}
    fresh, changed, ids, numbered = [], [], {}, set()
    for plan in planned:
        mapped = known.get(str(plan.source_id))
        number = plan.values["order_no"]
        holder = taken.get(number)
        if holder is not None and (mapped is None or holder != mapped[0]):
            ctx.report.skip(table, plan.source_id, f"order number {number} is already used here")
            continue
        if number in numbered:  # MyISAM kept no unique key: the first of the page keeps the number
            ctx.report.skip(table, plan.source_id, f"order number {number} appears twice at the source")
            continue
        numbered.add(number)
        plan.fp = plan.fingerprint()
        if mapped is None:
            fresh.append(plan)
        elif mapped[1] != plan.fp:
            changed.append((mapped[0], plan))
        else:
            ids[plan.source_id] = mapped[0]
            ctx.report.tables[table].unchanged += 1
        distribution.note_commission(ctx, plan.commissions)

    async def page() -> None:
        now = utcnow()
        if fresh:
            await insert_rows(Order, [{"shop_id": ctx.shop_id, "imported": True, **p.values} for p in fresh])
            made = {o.order_no: o.id for o in await Order.select(Order.id, Order.order_no).where(
                (Order.shop_id == ctx.shop_id) & Order.order_no.in_([p.values["order_no"] for p in fresh])).aio_execute()}
            for plan in fresh:
                ids[plan.source_id] = made[plan.values["order_no"]]
        for order_id, plan in changed:
            await Order.update(imported=True, **{**plan.values, "updated_at": now}).where(
                (Order.id == order_id) & (Order.shop_id == ctx.shop_id)).aio_execute()
            ids[plan.source_id] = order_id
        rewritten = [order_id for order_id, _ in changed]
        if rewritten:
            await OrderItem.delete().where(OrderItem.order_id.in_(rewritten)).aio_execute()
            await ImportedOrder.delete().where(ImportedOrder.order_id.in_(rewritten)).aio_execute()
            await distribution.drop_order_commission(ctx, rewritten)
        written = fresh + [plan for _, plan in changed]
        line_rows = [{"shop_id": ctx.shop_id, "order_id": ids[p.source_id], **line} for p in written for line in p.lines]
        await insert_rows(OrderItem, line_rows)
        await insert_rows(ImportedOrder, [{"shop_id": ctx.shop_id, "order_id": ids[p.source_id], **p.facts}
                                          for p in written])
        commission_rows = [{"shop_id": ctx.shop_id, "order_id": ids[p.source_id], **c}
                           for p in written for c in p.commissions]
        if commission_rows:
            await insert_rows(Commission, distribution.stored(commission_rows))
            await distribution.book_commission(ctx, commission_rows, f"ewei:{table}")
        await ctx.remember_page(table, {str(p.source_id): (ids[p.source_id], p.fp) for p in fresh},
                                {str(p.source_id): (order_id, p.fp) for order_id, p in changed})
    await transaction(page)
    ctx.report.tables[table].created += len(fresh)
    ctx.report.tables[table].updated += len(changed)
    return ids
