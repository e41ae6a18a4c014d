"""The merchant dashboard and the platform's cross-shop stats.

Closed UTC days come from the daily rollups (models.stats), written once per day by the
`rollup_stats` job a few minutes after midnight; today (and any day the job has not reached yet)
is counted live from indexed columns, once for all three windows. So a 30-day window on a shop
with a million orders reads at most 30 rollup rows per metric plus one day of orders. The one
metric that cannot be summed from days — distinct paying members over the window — is a range
count on Member (shop_id, last_paid_at), kept by every payment.
"""
from __future__ import annotations

import datetime

import peewee
from peewee import fn

from models.base import utcnow
from models.groups import GroupTeam
from models.member import Member
from models.order import Order, OrderItem
from models.shop import Shop
from models.stats import DailyGoodsStat, DailyStat, RollupDay

WINDOWS = {"today": 1, "7d": 7, "30d": 30}
TOP_GOODS = 5
ROLLUP_GRACE = datetime.timedelta(minutes=5)  # payments committing just after midnight land first


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time())


# ---------------------------------------------------------------- rollups
async def rollup_next_day() -> datetime.date | None:
    """Roll up the earliest closed day not rolled up yet, for every shop at once; returns that day
    (also when another process won the race for it: it is rolled up either way), None when up to
    date. Safe in N processes: the day's RollupDay row is inserted in the same transaction."""
    latest = await RollupDay.select(fn.MAX(RollupDay.day)).aio_scalar()
    if latest is None:
        first_paid = await Order.select(fn.MIN(Order.paid_at)).aio_scalar()
        if first_paid is None:
            return None
        day = first_paid.date()
    else:
        day = (latest if isinstance(latest, datetime.date) else datetime.date.fromisoformat(str(latest))) \
            + datetime.timedelta(days=1)
    if _day_start(day + datetime.timedelta(days=1)) + ROLLUP_GRACE > utcnow():
        return None  # not closed yet
    start, end = _day_start(day), _day_start(day + datetime.timedelta(days=1))
    rows: dict[int, dict] = {}

    def add(shop_id: int, **values):
        rows.setdefault(shop_id, {"shop_id": shop_id, "day": day})
        rows[shop_id].update(values)

    paid = (Order.paid_at >= start) & (Order.paid_at < end)
    for shop_id, orders, gmv in await (Order.select(Order.shop_id, fn.COUNT(Order.id), fn.SUM(Order.total_fen))
                                       .where(paid).group_by(Order.shop_id).tuples().aio_execute()):
        add(shop_id, orders=orders, gmv_fen=int(gmv or 0))
    for shop_id, count in await (Member.select(Member.shop_id, fn.COUNT(Member.id))
                                 .where((Member.created_at >= start) & (Member.created_at < end))
                                 .group_by(Member.shop_id).tuples().aio_execute()):
        add(shop_id, new_members=count)
    for column, name in ((GroupTeam.succeeded_at, "teams_succeeded"), (GroupTeam.failed_at, "teams_failed")):
        for shop_id, count in await (GroupTeam.select(GroupTeam.shop_id, fn.COUNT(GroupTeam.id))
                                     .where((column >= start) & (column < end))
                                     .group_by(GroupTeam.shop_id).tuples().aio_execute()):
            add(shop_id, **{name: count})
    goods = await (OrderItem.select(Order.shop_id, OrderItem.goods_id, fn.MAX(OrderItem.title),
                                    fn.SUM(OrderItem.quantity), fn.SUM(OrderItem.total_fen))
                   .join(Order, on=(Order.id == OrderItem.order_id)).where(paid)
                   .group_by(Order.shop_id, OrderItem.goods_id).tuples().aio_execute())
    try:
        async with Order._meta.database.aio_atomic():
            await RollupDay.insert(day=day).aio_execute()  # claims the day: a second runner fails here
            for batch in _chunks(list(rows.values()), 500):
                await DailyStat.insert_many(batch).aio_execute()
            for batch in _chunks([{"shop_id": s, "day": day, "goods_id": g, "title": (t or "")[:100], "quantity": int(q),
                                   "sales_fen": int(f)} for s, g, t, q, f in goods], 500):
                await DailyGoodsStat.insert_many(batch).aio_execute()
    except peewee.IntegrityError:
        pass  # another process rolled this day up; the caller goes on with the next one
    return day


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index:index + size]


async def rollup_days(limit: int = 31) -> int:
    done = 0
    while done < limit and await rollup_next_day() is not None:
        done += 1
    return done


# ---------------------------------------------------------------- dashboard
async def _live_from(window_start: datetime.date) -> datetime.date:
    latest = await RollupDay.select(fn.MAX(RollupDay.day)).aio_scalar()
    if latest is None:
        return window_start
    latest = latest if isinstance(latest, datetime.date) else datetime.date.fromisoformat(str(latest))
    return max(window_start, latest + datetime.timedelta(days=1))


async def _live(shop_id: int, live_from: datetime.date) -> dict:
    """What happened from `live_from` (a day not rolled up yet, normally today) until now."""
    live = _day_start(live_from)
    orders, gmv = await Order.select(fn.COUNT(Order.id), fn.COALESCE(fn.SUM(Order.total_fen), 0)).where(
        (Order.shop_id == shop_id) & (Order.paid_at >= live)).tuples().aio_get()
    goods = await (OrderItem.select(OrderItem.goods_id, fn.MAX(OrderItem.title), fn.SUM(OrderItem.quantity),
                                    fn.SUM(OrderItem.total_fen))
                   .join(Order, on=(Order.id == OrderItem.order_id))
                   .where((Order.shop_id == shop_id) & (Order.paid_at >= live))
                   .group_by(OrderItem.goods_id).tuples().aio_execute())
    return {"orders": orders, "gmv_fen": int(gmv),
            "new_members": await Member.select().where((Member.shop_id == shop_id) & (Member.created_at >= live)).aio_count(),
            "teams_succeeded": await GroupTeam.select().where((GroupTeam.shop_id == shop_id)
                                                              & (GroupTeam.succeeded_at >= live)).aio_count(),
            "teams_failed": await GroupTeam.select().where((GroupTeam.shop_id == shop_id)
                                                           & (GroupTeam.failed_at >= live)).aio_count(),
            "goods": list(goods)}


async def _window(shop_id: int, days: int, live_cache: dict) -> dict:
    today = utcnow().date()
    first = today - datetime.timedelta(days=days - 1)
    live_from = await _live_from(first)
    if live_from not in live_cache:
        live_cache[live_from] = await _live(shop_id, live_from)
    live = live_cache[live_from]
    rolled = (DailyStat.shop_id == shop_id) & (DailyStat.day >= first) & (DailyStat.day < live_from)
    sums = await DailyStat.select(
        fn.COALESCE(fn.SUM(DailyStat.orders), 0), fn.COALESCE(fn.SUM(DailyStat.gmv_fen), 0),
        fn.COALESCE(fn.SUM(DailyStat.new_members), 0), fn.COALESCE(fn.SUM(DailyStat.teams_succeeded), 0),
        fn.COALESCE(fn.SUM(DailyStat.teams_failed), 0)).where(rolled).tuples().aio_get()
    names = ("orders", "gmv_fen", "new_members", "teams_succeeded", "teams_failed")
    totals = {name: int(value) + live[name] for name, value in zip(names, sums)}
    succeeded, failed = totals["teams_succeeded"], totals["teams_failed"]
    # a member paid in the window exactly when their last payment is in it: an index range count
    buyers = await Member.select().where((Member.shop_id == shop_id)
                                         & (Member.last_paid_at >= _day_start(first))).aio_count()
    return {**totals, "paid_members": buyers,
            "group_success_rate": round(succeeded / (succeeded + failed), 4) if succeeded + failed else None,
            "top_goods": await _top_goods(shop_id, first, live_from, live["goods"])}


async def _top_goods(shop_id: int, first: datetime.date, live_from: datetime.date, live_goods: list) -> list[dict]:
    totals: dict[int, dict] = {}

    def add(goods_id, title, quantity, sales):
        entry = totals.setdefault(goods_id, {"goods_id": goods_id, "title": title, "quantity": 0, "sales_fen": 0})
        entry["quantity"] += int(quantity)
        entry["sales_fen"] += int(sales)

    for row in await (DailyGoodsStat.select(DailyGoodsStat.goods_id, fn.MAX(DailyGoodsStat.title),
                                            fn.SUM(DailyGoodsStat.quantity), fn.SUM(DailyGoodsStat.sales_fen))
                      .where((DailyGoodsStat.shop_id == shop_id) & (DailyGoodsStat.day >= first)
                             & (DailyGoodsStat.day < live_from))
                      .group_by(DailyGoodsStat.goods_id).tuples().aio_execute()):
        add(*row)
    for row in live_goods:
        add(*row)
    return sorted(totals.values(), key=lambda g: (-g["quantity"], g["goods_id"]))[:TOP_GOODS]


async def merchant_dashboard(shop_id: int) -> dict:
    """Today, the last 7 and the last 30 UTC days (today included). GMV counts orders paid in the
    window, refunded later or not — refunds are in the finance reports."""
    live_cache: dict = {}
    return {name: await _window(shop_id, days, live_cache) for name, days in WINDOWS.items()}


async def platform_stats() -> dict:
    """Across shops, last 30 days from the rollups plus today live."""
    today = utcnow().date()
    first = today - datetime.timedelta(days=29)
    live_from = await _live_from(first)
    shops = dict(await Shop.select(Shop.status, fn.COUNT(Shop.id)).group_by(Shop.status).tuples().aio_execute())
    per_shop: dict[int, list[int]] = {}
    for shop_id, orders, gmv in await (DailyStat.select(DailyStat.shop_id, fn.SUM(DailyStat.orders),
                                                        fn.SUM(DailyStat.gmv_fen))
                                       .where((DailyStat.day >= first) & (DailyStat.day < live_from))
                                       .group_by(DailyStat.shop_id).tuples().aio_execute()):
        per_shop[shop_id] = [int(orders), int(gmv)]
    for shop_id, orders, gmv in await (Order.select(Order.shop_id, fn.COUNT(Order.id), fn.SUM(Order.total_fen))
                                       .where(Order.paid_at >= _day_start(live_from))
                                       .group_by(Order.shop_id).tuples().aio_execute()):
        entry = per_shop.setdefault(shop_id, [0, 0])
        entry[0] += int(orders)
        entry[1] += int(gmv or 0)
    top = sorted(per_shop.items(), key=lambda kv: -kv[1][1])[:10]
    return {"shops": {"active": shops.get("active", 0), "suspended": shops.get("suspended", 0)},
            "members": await Member.select().aio_count(),
            "last_30d": {"orders": sum(v[0] for v in per_shop.values()), "gmv_fen": sum(v[1] for v in per_shop.values()),
                         "top_shops": [{"shop_id": s, "orders": v[0], "gmv_fen": v[1]} for s, v in top]}}
