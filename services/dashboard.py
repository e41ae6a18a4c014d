"""The merchant dashboard and the platform's cross-shop stats: aggregate queries over indexed
columns (orders by (shop_id, paid_at), members by (shop_id, created_at), teams by
(shop_id, succeeded_at) / (shop_id, failed_at)), one set per window, no per-row work in Python."""
from __future__ import annotations

import datetime

from peewee import fn

from models.base import utcnow
from models.groups import GroupTeam
from models.member import Member
from models.order import Order, OrderItem
from models.shop import Shop

WINDOWS = {"today": 0, "7d": 7, "30d": 30}
TOP_GOODS = 5


def _window_start(days: int) -> datetime.datetime:
    midnight = utcnow().replace(hour=0, minute=0, second=0)
    return midnight - datetime.timedelta(days=max(0, days - 1)) if days else midnight


async def _window(shop_id: int, start: datetime.datetime) -> dict:
    paid = (Order.shop_id == shop_id) & (Order.paid_at >= start)
    orders, gmv, buyers = await Order.select(fn.COUNT(Order.id), fn.COALESCE(fn.SUM(Order.total_fen), 0),
                                             fn.COUNT(Order.member_id.distinct())).where(paid).tuples().aio_get()
    new_members = await Member.select().where((Member.shop_id == shop_id) & (Member.created_at >= start)).aio_count()
    succeeded = await GroupTeam.select().where((GroupTeam.shop_id == shop_id) & (GroupTeam.succeeded_at >= start)).aio_count()
    failed = await GroupTeam.select().where((GroupTeam.shop_id == shop_id) & (GroupTeam.failed_at >= start)).aio_count()
    top = await (OrderItem.select(OrderItem.goods_id, fn.MAX(OrderItem.title).alias("title"),
                                  fn.SUM(OrderItem.quantity).alias("quantity"), fn.SUM(OrderItem.total_fen).alias("sales_fen"))
                 .join(Order, on=(Order.id == OrderItem.order_id)).where(paid)
                 .group_by(OrderItem.goods_id).order_by(fn.SUM(OrderItem.quantity).desc(), OrderItem.goods_id)
                 .limit(TOP_GOODS).dicts().aio_execute())
    return {"orders": orders, "gmv_fen": int(gmv), "paid_members": buyers, "new_members": new_members,
            "teams_succeeded": succeeded, "teams_failed": failed,
            "group_success_rate": round(succeeded / (succeeded + failed), 4) if succeeded + failed else None,
            "top_goods": [{"goods_id": t["goods_id"], "title": t["title"], "quantity": int(t["quantity"]),
                           "sales_fen": int(t["sales_fen"])} for t in top]}


async def merchant_dashboard(shop_id: int) -> dict:
    """Today, the last 7 and the last 30 UTC days (today included). GMV counts orders paid in the
    window, refunded later or not — refunds are in the finance reports."""
    return {name: await _window(shop_id, _window_start(days)) for name, days in WINDOWS.items()}


async def platform_stats() -> dict:
    start = _window_start(30)
    shops = dict(await Shop.select(Shop.status, fn.COUNT(Shop.id)).group_by(Shop.status).tuples().aio_execute())
    orders, gmv = await Order.select(fn.COUNT(Order.id), fn.COALESCE(fn.SUM(Order.total_fen), 0)).where(
        Order.paid_at >= start).tuples().aio_get()
    top = await (Order.select(Order.shop_id, fn.SUM(Order.total_fen).alias("gmv_fen"), fn.COUNT(Order.id).alias("orders"))
                 .where(Order.paid_at >= start).group_by(Order.shop_id).order_by(fn.SUM(Order.total_fen).desc())
                 .limit(10).dicts().aio_execute())
    return {"shops": {"active": shops.get("active", 0), "suspended": shops.get("suspended", 0)},
            "members": await Member.select().aio_count(),
            "last_30d": {"orders": orders, "gmv_fen": int(gmv),
                         "top_shops": [{"shop_id": t["shop_id"], "gmv_fen": int(t["gmv_fen"]), "orders": t["orders"]}
                                       for t in top]}}
