"""Flash sales: creating them (the pools carved out of the goods' stock), editing, ending (the
pools given back), reading them, their figures, and the clock that announces starts and ends.

Times are whole seconds, UTC; a sale runs over [starts_at, ends_at). Time is state: buys check
the clock (services/flash/pool.py), a read of an ended sale settles it then and there, and the
jobs only tidy up — they give the pools back and record `flash.started` / `flash.ended`, at the
instant when a timer of this process is armed (the job arms timers for what starts or ends
within TIMER_LOOKAHEAD_S), else at the next job run.
Editing: before the start, everything; while it runs, the title, and stock may be added (the
units are carved out of the goods and join the pool live); once over, the title only.
Deleting ends a running sale now (pools back to the goods); its orders keep their history.
"""
from __future__ import annotations

import asyncio
import contextvars
import datetime
import json
import logging

import events
from lib.errors import conflict, field_error, not_found
from models.base import iso, naive_utc, paginate, utcnow
from models.flash import FlashItem, FlashSale
from models.goods import Goods, Sku
from models.order import COMPLETED, PAID, SHIPPED, UNPAID, Order, OrderItem
from services import counters
from services import goods as goods_service
from services.flash import pool
from services.flash.pool import channel, precise_now

log = logging.getLogger("mall.flash")

TIMER_LOOKAHEAD_S = 120  # the job arms exact timers for starts and ends this far ahead (more than a job interval)
JOB_BATCH = 100  # sales the job settles or announces per run


def _status(sale: FlashSale, now: datetime.datetime) -> str:
    if sale.settled_at is not None or now >= sale.ends_at:
        return "ended"
    return "running" if now >= sale.starts_at else "upcoming"


def server_time() -> str:
    """Now, to the millisecond, for pages that correct their clock (the countdown)."""
    return precise_now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _render_item(item: FlashItem) -> dict:
    return {"id": item.id, "goods_id": item.goods_id, "sku_id": item.sku_id, "price_fen": item.price_fen,
            "stock": item.stock, "remaining": item.remaining, "per_member_limit": item.per_member_limit}


def render_sale(sale: FlashSale, items: list[FlashItem]) -> dict:
    return {"id": sale.id, "title": sale.title, "starts_at": iso(sale.starts_at), "ends_at": iso(sale.ends_at),
            "status": _status(sale, precise_now()), "items": [_render_item(item) for item in items]}


async def _items(sale_ids: list[int]) -> dict[int, list[FlashItem]]:
    found: dict[int, list[FlashItem]] = {sale_id: [] for sale_id in sale_ids}
    if sale_ids:
        for item in await FlashItem.select().where(FlashItem.sale_id.in_(sale_ids)).order_by(FlashItem.id).aio_execute():
            found[item.sale_id].append(item)
    return found


async def get_sale(shop_id: int, sale_id: int) -> FlashSale:
    sale = await FlashSale.aio_get_or_none((FlashSale.shop_id == shop_id) & (FlashSale.id == sale_id)
                                           & (FlashSale.deleted == False))  # noqa: E712
    if sale is None:
        raise not_found("flash sale")
    return sale


def _whole_seconds(moment: datetime.datetime) -> datetime.datetime:
    return naive_utc(moment).replace(microsecond=0)


# ---------------------------------------------------------------- merchant
async def _check_item(shop_id: int, index: int, spec: dict) -> None:
    """The goods (and SKU) of one item exist in this shop and can be bought: 422 naming the field."""
    goods = await Goods.aio_get_or_none((Goods.shop_id == shop_id) & (Goods.id == spec["goods_id"])
                                        & Goods.deleted_at.is_null())
    if goods is None:
        raise field_error(f"items.{index}.goods_id", "no such goods in this shop")
    if goods.has_skus and spec.get("sku_id") is None:
        raise field_error(f"items.{index}.sku_id", "choose one of the goods' SKUs")
    if not goods.has_skus and spec.get("sku_id") is not None:
        raise field_error(f"items.{index}.sku_id", "these goods have no SKUs")
    if spec.get("sku_id") is not None and not await Sku.select().where(
            (Sku.shop_id == shop_id) & (Sku.goods_id == goods.id) & (Sku.id == spec["sku_id"])
            & Sku.deleted_at.is_null()).aio_exists():
        raise field_error(f"items.{index}.sku_id", "no such SKU of these goods")


async def create_sale(shop_id: int, fields: dict) -> dict:
    """A sale and its items; each item's stock is carved out of its goods (ledgered, in the lock
    order every writer uses), or the whole sale is refused 409 `out_of_stock`."""
    starts, ends = _whole_seconds(fields["starts_at"]), _whole_seconds(fields["ends_at"])
    if ends <= starts:
        raise field_error("ends_at", "must be after starts_at")
    if ends <= utcnow():
        raise field_error("ends_at", "must be in the future")
    specs = fields["items"]
    keys = [(spec["goods_id"], spec.get("sku_id")) for spec in specs]
    if len(set(keys)) != len(keys):
        raise field_error("items", "one item per goods (and SKU)")
    for index, spec in enumerate(specs):
        await _check_item(shop_id, index, spec)

    async def create() -> FlashSale:
        sale = await FlashSale.aio_create(shop_id=shop_id, title=fields["title"], starts_at=starts, ends_at=ends)
        for spec in sorted(specs, key=lambda s: (s["goods_id"], s.get("sku_id") or 0)):
            await goods_service.change_stock(shop_id, spec["goods_id"], spec.get("sku_id"), -spec["stock"],
                                             "flash_reserve", reference=channel(sale.id), remark=fields["title"])
            await FlashItem.aio_create(shop_id=shop_id, sale_id=sale.id, goods_id=spec["goods_id"],
                                       sku_id=spec.get("sku_id"), price_fen=spec["price_fen"], stock=spec["stock"],
                                       remaining=spec["stock"], per_member_limit=spec["per_member_limit"])
        return sale

    sale = await events.transaction(create)
    arm_timers(sale)
    return render_sale(sale, (await _items([sale.id]))[sale.id])


async def update_sale(shop_id: int, sale_id: int, changes: dict) -> dict:
    """Partial update under the sale's row lock, judged by the clock at that moment: 409
    `sale_started` for what may only change before the start, `sale_ended` once it is over."""
    async def update() -> FlashSale:
        await FlashSale.update(title=FlashSale.title).where(
            (FlashSale.shop_id == shop_id) & (FlashSale.id == sale_id)).aio_execute()  # row lock
        sale = await get_sale(shop_id, sale_id)
        status = _status(sale, precise_now())
        if status == "ended" and changes.keys() - {"title"}:
            raise conflict("sale_ended", "this flash sale is over: only its title can change")
        columns = {key: changes[key] for key in ("title",) if key in changes}
        for key in ("starts_at", "ends_at"):
            if key in changes:
                if status != "upcoming":
                    raise conflict("sale_started", f"{key} can only change before the sale starts", {"field": key})
                columns[key] = _whole_seconds(changes[key])
        starts, ends = columns.get("starts_at", sale.starts_at), columns.get("ends_at", sale.ends_at)
        if ends <= starts:
            raise field_error("ends_at", "must be after starts_at")
        if "ends_at" in columns and ends <= utcnow():
            raise field_error("ends_at", "must be in the future")
        if columns:
            await FlashSale.update(**columns).where(FlashSale.id == sale_id).aio_execute()
        items = {item.id: item for item in (await _items([sale_id]))[sale_id]}
        for index, change in sorted(enumerate(changes.get("items") or []), key=lambda pair: pair[1]["id"]):
            item = items.get(change["id"])
            if item is None:
                raise field_error(f"items.{index}.id", "not an item of this flash sale")
            await _update_item(sale, item, change, index, status)
        return await get_sale(shop_id, sale_id)

    sale = await events.transaction(update)
    arm_timers(sale)
    return render_sale(sale, (await _items([sale_id]))[sale_id])


async def _update_item(sale: FlashSale, item: FlashItem, change: dict, index: int, status: str) -> None:
    for key in ("price_fen", "per_member_limit"):
        if key in change and change[key] != getattr(item, key) and status != "upcoming":
            raise conflict("sale_started", f"{key} can only change before the sale starts",
                           {"field": f"items.{index}.{key}"})
    columns = {key: change[key] for key in ("price_fen", "per_member_limit") if key in change}
    if columns:
        await FlashItem.update(**columns).where(FlashItem.id == item.id).aio_execute()
    delta = change.get("stock", item.stock) - item.stock
    if delta < 0:
        if status != "upcoming":
            raise conflict("sale_started", "stock can only be added once the sale has started",
                           {"field": f"items.{index}.stock"})
        taken = await FlashItem.update(stock=FlashItem.stock + delta, remaining=FlashItem.remaining + delta).where(
            (FlashItem.id == item.id) & (FlashItem.remaining + delta >= 0)).aio_execute()
        if not taken:
            raise conflict("out_of_stock", "the pool does not hold that many units", {"item_id": item.id})
        await goods_service.change_stock(sale.shop_id, item.goods_id, item.sku_id, -delta, "flash_return",
                                         reference=channel(sale.id))
    elif delta > 0:
        await goods_service.change_stock(sale.shop_id, item.goods_id, item.sku_id, -delta, "flash_reserve",
                                         reference=channel(sale.id))
        await FlashItem.update(stock=FlashItem.stock + delta, remaining=FlashItem.remaining + delta,
                               sold_out_announced=False).where(FlashItem.id == item.id).aio_execute()
        item = await FlashItem.aio_get(FlashItem.id == item.id)
        await pool.announce_restock(item)
        await pool.stock_changed(item, item.remaining)


async def delete_sale(shop_id: int, sale_id: int) -> None:
    """Hide the sale; a running one ends now. Its pools go back to the goods."""
    async def delete() -> None:
        await get_sale(shop_id, sale_id)
        await FlashSale.update(deleted=True).where(FlashSale.id == sale_id).aio_execute()
        await _settle(sale_id, force=True)
    await events.transaction(delete)


async def list_sales(shop_id: int, page: int, page_size: int) -> dict:
    query = (FlashSale.select().where((FlashSale.shop_id == shop_id) & (FlashSale.deleted == False))  # noqa: E712
             .order_by(FlashSale.starts_at.desc(), FlashSale.id.desc()))
    listed = await paginate(query, page, page_size, lambda sale: sale)
    items = await _items([sale.id for sale in listed["items"]])
    return {**listed, "items": [render_sale(sale, items[sale.id]) for sale in listed["items"]]}


async def sale_detail(shop_id: int, sale_id: int) -> dict:
    sale = await _settled_if_over(await get_sale(shop_id, sale_id))
    return render_sale(sale, (await _items([sale_id]))[sale_id])


async def sale_stats(shop_id: int, sale_id: int) -> dict:
    """Per item and in all: units sold (paid orders not refunded), units held by unpaid orders,
    buyers, revenue, and refusals by reason (counted in memory and flushed by the counters job)."""
    await get_sale(shop_id, sale_id)
    items = (await _items([sale_id]))[sale_id]
    rows = await (Order.select(Order.flash_item_id, Order.member_id, Order.status, Order.total_fen,
                               OrderItem.quantity.alias("quantity"))
                  .join(OrderItem, on=(OrderItem.order_id == Order.id))
                  .where((Order.shop_id == shop_id) & Order.flash_item_id.in_([item.id for item in items] or [0])
                         & Order.status.in_([UNPAID, PAID, SHIPPED, COMPLETED])).dicts().aio_execute())
    sold_statuses = (PAID, SHIPPED, COMPLETED)
    per_item, all_buyers = [], set()
    refusals = dict.fromkeys(pool.REFUSAL_COUNTERS, 0)
    for item in items:
        mine = [row for row in rows if row["flash_item_id"] == item.id]
        sold = [row for row in mine if row["status"] in sold_statuses]
        buyers = {row["member_id"] for row in sold}
        all_buyers |= buyers
        item_refusals = {code: getattr(item, field.name) + counters.pending(field, item.id)
                         for code, field in pool.REFUSAL_COUNTERS.items()}
        for code, count in item_refusals.items():
            refusals[code] += count
        per_item.append({"item_id": item.id, "stock": item.stock, "remaining": item.remaining,
                         "sold": sum(row["quantity"] for row in sold),
                         "awaiting_payment": sum(row["quantity"] for row in mine if row["status"] == UNPAID),
                         "buyers": len(buyers), "revenue_fen": sum(row["total_fen"] for row in sold),
                         "refusals": item_refusals})
    return {"sale_id": sale_id, "sold": sum(i["sold"] for i in per_item),
            "awaiting_payment": sum(i["awaiting_payment"] for i in per_item), "buyers": len(all_buyers),
            "revenue_fen": sum(i["revenue_fen"] for i in per_item), "refusals": refusals, "items": per_item}


# ---------------------------------------------------------------- shoppers
def _render_for_shopper(sale: FlashSale, items: list[FlashItem], goods: dict, skus: dict) -> dict:
    data = render_sale(sale, [])
    data["items"] = []
    for item in items:
        g, sku = goods.get(item.goods_id), skus.get(item.sku_id)
        images = json.loads(g.images) if g else []
        data["items"].append({"id": item.id, "goods_id": item.goods_id, "sku_id": item.sku_id,
                              "title": g.title if g else "", "sku_title": sku.title if sku else "",
                              "image": images[0] if images else "",
                              "original_price_fen": (sku.price_fen if sku else g.price_fen) if g else None,
                              "price_fen": item.price_fen, "stock": item.stock, "remaining": item.remaining,
                              "per_member_limit": item.per_member_limit})
    return data


async def _shopper_pages(sales: list[FlashSale]) -> list[dict]:
    items = await _items([sale.id for sale in sales])
    every = [item for found in items.values() for item in found]
    goods = {g.id: g for g in await Goods.select().where(Goods.id.in_([i.goods_id for i in every] or [0])).aio_execute()}
    sku_ids = [i.sku_id for i in every if i.sku_id is not None]
    skus = {s.id: s for s in await Sku.select().where(Sku.id.in_(sku_ids or [0])).aio_execute()}
    return [_render_for_shopper(sale, items[sale.id], goods, skus) for sale in sales]


async def shopper_sales(shop_id: int, page: int, page_size: int) -> dict:
    """Running and upcoming sales, soonest first, with the server's time for the countdowns."""
    now = server_time()
    query = (FlashSale.select().where((FlashSale.shop_id == shop_id) & (FlashSale.deleted == False)  # noqa: E712
                                      & (FlashSale.ends_at > utcnow()) & FlashSale.settled_at.is_null())
             .order_by(FlashSale.starts_at, FlashSale.id))
    listed = await paginate(query, page, page_size, lambda sale: sale)
    return {**listed, "items": await _shopper_pages(listed["items"]), "server_time": now}


async def shopper_sale(shop_id: int, sale_id: int) -> dict:
    """One sale with its items' remaining stock, the channel position (read first: an event after
    it is replayed to a subscriber using it) and the server's time."""
    position = await events.position(channel(sale_id))
    sale = await _settled_if_over(await get_sale(shop_id, sale_id))
    page = (await _shopper_pages([sale]))[0]
    return {**page, "server_time": server_time(), "channel": position}


# ---------------------------------------------------------------- the clock
async def _settle(sale_id: int, force: bool = False) -> bool:
    """Inside a transaction: an ended (or `force`d) sale gives each pool back to its goods and
    records `flash.ended`, once. Units of its orders cancelled later go to the goods."""
    over = FlashSale.settled_at.is_null() & (FlashSale.id == sale_id)
    if not await FlashSale.update(settled_at=utcnow()).where(over if force else over & (FlashSale.ends_at <= utcnow())
                                                             ).aio_execute():
        return False
    sale = await FlashSale.aio_get(FlashSale.id == sale_id)
    for item in (await _items([sale_id]))[sale_id]:  # ids follow (goods, sku): the lock order
        await FlashItem.update(settled=True).where(FlashItem.id == item.id).aio_execute()  # row lock first
        left = (await FlashItem.select(FlashItem.remaining).where(FlashItem.id == item.id).aio_get()).remaining
        await FlashItem.update(remaining=0).where(FlashItem.id == item.id).aio_execute()
        if left:
            await goods_service.change_stock(sale.shop_id, item.goods_id, item.sku_id, left, "flash_return",
                                             reference=channel(sale_id))
    await events.record(channel(sale_id), "flash.ended", {"sale_id": sale_id})
    return True


async def _settled_if_over(sale: FlashSale) -> FlashSale:
    """Time is state: a read of a sale past its end settles it now rather than at the next job."""
    if sale.settled_at is None and sale.ends_at <= utcnow():
        await end_sale(sale.id)
        return await FlashSale.aio_get(FlashSale.id == sale.id)
    return sale


async def end_sale(sale_id: int) -> bool:
    return await events.transaction(lambda: _settle(sale_id))


async def announce_start(sale_id: int) -> bool:
    """`flash.started`, once, when the clock has reached the start (a sale already settled says nothing)."""
    async def announce() -> bool:
        sale = await FlashSale.aio_get_or_none(FlashSale.id == sale_id)
        if sale is None or not await FlashSale.update(started_announced=True).where(
                (FlashSale.id == sale_id) & (FlashSale.started_announced == False)  # noqa: E712
                & (FlashSale.starts_at <= utcnow()) & FlashSale.settled_at.is_null()).aio_execute():
            return False
        await events.record(channel(sale_id), "flash.started",
                            {"sale_id": sale_id, "starts_at": iso(sale.starts_at), "ends_at": iso(sale.ends_at)})
        return True
    return await events.transaction(announce)


_armed: dict[tuple[int, str], datetime.datetime] = {}  # (sale id, "start"|"end") -> the instant armed for
_tasks: set[asyncio.Task] = set()


def arm_timers(sale: FlashSale) -> None:
    """Timers in this process for the sale's start and end within the lookahead (idempotent: one
    per instant; a moved time arms a new one, and the old one finds nothing to do)."""
    now = precise_now()
    for kind, instant, run in (("start", sale.starts_at, announce_start), ("end", sale.ends_at, end_sale)):
        delay = (instant - now).total_seconds()
        if sale.deleted or sale.settled_at is not None or delay > TIMER_LOOKAHEAD_S or _armed.get((sale.id, kind)) == instant:
            continue
        _armed[(sale.id, kind)] = instant
        asyncio.get_running_loop().call_later(max(delay, 0), _fire, sale.id, kind, run,
                                              context=contextvars.Context())  # not the caller's request or transaction


def _fire(sale_id: int, kind: str, run) -> None:
    async def go():
        try:
            await run(sale_id)
        except Exception:  # the job does it at its next run
            log.exception("flash sale %s %s timer failed", sale_id, kind)
        finally:
            if kind == "end":
                _armed.pop((sale_id, "start"), None)
                _armed.pop((sale_id, "end"), None)
    task = asyncio.get_running_loop().create_task(go())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def run_clock() -> int:
    """The job: settle what has ended, announce what has started, arm timers for what comes
    next. Safe in N processes (every step is conditional). Returns how many sales it moved."""
    now = utcnow()
    moved = 0
    ended = await (FlashSale.select(FlashSale.id).where(FlashSale.settled_at.is_null() & (FlashSale.ends_at <= now))
                   .order_by(FlashSale.id).limit(JOB_BATCH).aio_execute())
    for sale in ended:
        moved += await end_sale(sale.id)
    started = await (FlashSale.select(FlashSale.id).where(
        (FlashSale.started_announced == False) & FlashSale.settled_at.is_null()  # noqa: E712
        & (FlashSale.starts_at <= now)).order_by(FlashSale.id).limit(JOB_BATCH).aio_execute())
    for sale in started:
        moved += await announce_start(sale.id)
    horizon = now + datetime.timedelta(seconds=TIMER_LOOKAHEAD_S)
    for sale in await (FlashSale.select().where(FlashSale.settled_at.is_null() & (FlashSale.deleted == False)  # noqa: E712
                                               & ((FlashSale.starts_at <= horizon) | (FlashSale.ends_at <= horizon)))
                       .order_by(FlashSale.id).limit(JOB_BATCH).aio_execute()):
        arm_timers(sale)
    return moved
