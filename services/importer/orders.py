"""Historic orders with their lines: read-only history, kept as the source recorded it.

Status -1/1/2/3 mean what ours mean; an unpaid (0) source order is imported cancelled ("imported
unpaid"): it can no longer be paid here, and cancelling it later would put back stock it never
took here. Shipped orders get no auto-confirm time. The ewei paytype and the payment's
transaction id are kept beside the order (ImportedOrder); a WeChat-paid order also gets its
Payment row, so a refund here can name the payment. Sub-merchant orders (merchid) are skipped
unless imported with --merchid; the parent of a split order (isparent) is skipped, its parts are
the orders."""
from __future__ import annotations

import json

from events import transaction
from models.base import utcnow
from models.goods import Goods, Sku
from models.importer import ImportedOrder
from models.order import CANCELLED, REFUND_FULL, REFUND_NONE, UNPAID, Order, OrderItem
from models.payment import Payment
from services.importer import distribution
from services.importer.context import Context
from services.importer.source import clip, fen, moment, unphp

PAYTYPES = {1: "balance", 11: "admin", 21: "wechat", 22: "alipay", 23: "unionpay", 3: "cod", 4: "cashier"}
ORDER_COLUMNS = ["uniacid", "openid", "agentid", "ordersn", "price", "goodsprice", "discountprice", "status", "paytype",
                 "transid", "remark", "dispatchprice", "createtime", "finishtime", "paytime", "sendtime", "canceltime",
                 "refundtime", "expresscom", "expresssn", "express", "deductprice", "deductcredit", "changeprice",
                 "couponprice", "address", "merchid", "isparent", "remarksaler", "closereason", "deleted"]
LINE_COLUMNS = ["id", "orderid", "goodsid", "optionid", "optionname", "title", "price", "realprice", "total",
                "commissions", "commission1", "commission2", "commission3", "status1", "status2", "status3"]


def _address(raw) -> str:
    value = unphp(raw)
    if not isinstance(value, dict):
        return "{}"
    return json.dumps({"name": value.get("realname", ""), "mobile": value.get("mobile", ""),
                       "province": value.get("province", ""), "city": value.get("city", ""),
                       "district": value.get("area", ""), "detail": value.get("address", "")}, ensure_ascii=False)


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

        async def page(rows=rows, by_order=by_order) -> None:
            for row in rows:
                await _one_order(ctx, row, by_order.get(row["id"], []))
        try:
            await transaction(page)
        except Exception:
            ctx.forget_cache()
            raise
        bar.advance(len(rows))
    bar.close()


async def _one_order(ctx: Context, row: dict, lines: list[dict]) -> None:
    table = "order"
    if int(row.get("isparent") or 0):
        ctx.report.skip(table, row["id"], "parent of a split order: its sub-orders are imported")
        return
    if int(row.get("merchid") or 0) != ctx.merchid:
        ctx.report.skip(table, row["id"], f"sub-merchant {row['merchid']}'s order (import it with --merchid)")
        return
    member_id = ctx.member_by_openid.get(row["openid"] or "")
    if member_id is None:
        ctx.report.skip(table, row["id"], f"orphan: no member with openid {row['openid']}")
        return
    if not lines:
        ctx.report.problem(table, row["id"], "no order lines at the source")
    existing = await ctx.target(table, row["id"])
    taken = await Order.select(Order.id).where(Order.order_no == clip(row["ordersn"], 32)).aio_first()
    if taken is not None and taken.id != existing:
        ctx.report.skip(table, row["id"], f"order number {row['ordersn']} is already used here")
        return
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
        "pay_method": PAYTYPES.get(paytype, "") if row.get("paytime") else "", "address": _address(row.get("address")),
        "remark": clip(row.get("remark"), 255), "merchant_remark": clip(row.get("remarksaler"), 255),
        "express_company": clip(row.get("expresscom") or row.get("express"), 64),
        "express_no": clip(row.get("expresssn"), 64),
        "cancel_reason": "imported unpaid" if status == UNPAID else clip(row.get("closereason"), 64),
        "expires_at": created, "paid_at": moment(row.get("paytime")), "shipped_at": moment(row.get("sendtime")),
        "completed_at": moment(row.get("finishtime")),
        "cancelled_at": (moment(row.get("canceltime")) or created) if status in (CANCELLED, UNPAID) else None,
        "refunded_at": moment(row.get("refundtime")) if refunded else None, "created_at": created,
        "updated_at": utcnow()}
    order_id, _ = await ctx.upsert(table, row["id"], Order, values)
    if status == UNPAID:
        ctx.report.problem(table, row["id"], "unpaid at the source: imported cancelled (imported unpaid)")
    ctx.report.add_sum("orders' totals (fen)", total_fen, total_fen)
    for line in lines:
        goods_id = await ctx.target("goods", line["goodsid"])
        sku_id = await ctx.target("goods_option", line["optionid"]) if line.get("optionid") else None
        if goods_id is None:
            ctx.report.problem("order_goods", line["id"], f"goods {line['goodsid']} not imported: line kept, goods 0")
        title = line.get("title")
        if not title and goods_id:
            title = await Goods.select(Goods.title).where(Goods.id == goods_id).aio_scalar()
        quantity = max(1, int(line["total"] or 1))
        line_fen = fen(line["price"])
        await ctx.upsert("order_goods", line["id"], OrderItem, {
            "order_id": order_id, "goods_id": goods_id or 0, "sku_id": sku_id, "title": clip(title, 200) or "-",
            "sku_title": clip(line.get("optionname") or (await Sku.select(Sku.title).where(Sku.id == sku_id).aio_scalar()
                                                         if sku_id else ""), 200),
            "price_fen": line_fen // quantity, "quantity": quantity, "total_fen": line_fen,
            "paid_fen": fen(line["realprice"]) if line.get("realprice") is not None else None})
    await _order_facts(ctx, row, order_id, paytype, total_fen)
    await distribution.import_order_commission(ctx, row, order_id, member_id, lines)


async def _order_facts(ctx: Context, row: dict, order_id: int, paytype: int, total_fen: int) -> None:
    facts = {"source_id": row["id"], "ordersn": clip(row["ordersn"], 64), "paytype": paytype,
             "source_status": int(row["status"] or 0), "transaction_id": clip(row.get("transid"), 64)}
    updated = await ImportedOrder.update(**facts).where(ImportedOrder.order_id == order_id).aio_execute()
    if not updated:
        await ImportedOrder.insert(shop_id=ctx.shop_id, order_id=order_id, **facts).aio_execute()
    transid = facts["transaction_id"]
    if paytype == 21 and transid and row.get("paytime"):
        known = await Payment.select(Payment.order_id).where(Payment.transaction_id == transid).aio_first()
        if known is None:
            await Payment.insert(shop_id=ctx.shop_id, order_id=order_id, out_trade_no=clip(row["ordersn"], 32),
                                 transaction_id=transid, amount_fen=total_fen,
                                 created_at=moment(row["paytime"])).aio_execute()
        elif known.order_id != order_id:
            ctx.report.problem("order", row["id"], f"transaction id {transid} already belongs to another order")
