"""Flash pools: buying from them, units coming back, sold-out marks and coalesced stock events.

A buy is one transaction: the member's row lock (the per-member limit counts their own orders),
then `UPDATE flash_item SET remaining = remaining - q WHERE id = ? AND remaining >= q` (one row
or 409 `sold_out`), then the order through `orders.place_order`, priced at the flash price and
taking no goods stock (the pool is the stock it takes). The clock decides: a buy before
`starts_at` is `not_started`, at or after `ends_at` `ended`, whatever the jobs have done.

Losers must be cheap. Once an item's pool is seen empty, this process marks it sold out and
refuses further buys before reading anything from the database (not even the member's row:
the handler asks before loading the member). The mark is dropped in every process by the
`flash.restocked` control message, recorded in the transaction that puts units back (a cancelled
or refunded order, stock added by the merchant). A mark set from a read that a restock overtook
is never set (a restock counter per item is compared), and a mark expires after
SOLD_OUT_MARK_TTL_S, which bounds how long a lost control message could refuse buyers.

`flash.stock` is coalesced per item and per process: at most one every STOCK_EVENT_INTERVAL_S.
A change inside the interval records nothing and schedules one trailing event at the interval's
end, which reads the pool under its row lock and says the value as it then is; so watchers see
every value settle within 100 ms, in commit order. N processes may each send one per interval.
`flash.sold_out` follows the `flash.stock` that says 0, once per emptying (`sold_out_announced`).
All of them go through the outbox (`events.record`), so channel seqs and epochs hold.
"""
from __future__ import annotations

import asyncio
import collections
import contextvars
import datetime
import logging
import time

import events
from events.control import CONTROL_CHANNEL, on_control
from lib.errors import Conflict, conflict, not_found
from models.flash import FlashItem, FlashSale
from models.locks import lock_member
from models.member import Member
from models.order import CANCELLED, Order, OrderItem
from services import counters, orders, sysset
from services import goods as goods_service
from services.orders import pricing

log = logging.getLogger("mall.flash")

SOLD_OUT_MARK_TTL_S = 10.0  # a lost `flash.restocked` message refuses buyers of that item at most this long
STOCK_EVENT_INTERVAL_S = 0.1  # API.md: at most one `flash.stock` per item per 100 ms (per process)

REFUSAL_COUNTERS = {"not_started": FlashItem.refused_not_started, "ended": FlashItem.refused_ended,
                    "sold_out": FlashItem.refused_sold_out, "limit_reached": FlashItem.refused_limit_reached}


def precise_now() -> datetime.datetime:
    """Naive UTC with microseconds: sale times are whole seconds, and the clock decides to the
    millisecond whether a buy is early, on time or late."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def channel(sale_id: int) -> str:
    return f"flash:{sale_id}"


# ---------------------------------------------------------------- sold-out marks
_sold_out: dict[tuple[int, int, int], float] = {}  # (shop, sale, item) -> monotonic expiry
_restocks: collections.Counter = collections.Counter()  # (shop, sale, item) -> restock messages seen


def is_sold_out(shop_id: int, sale_id: int, item_id: int) -> bool:
    key = (shop_id, sale_id, item_id)
    expiry = _sold_out.get(key)
    if expiry is None:
        return False
    if expiry < time.monotonic():
        _sold_out.pop(key, None)
        return False
    return True


def _mark_sold_out(key: tuple[int, int, int], restocks_before_read: int) -> None:
    if _restocks[key] == restocks_before_read:  # else a restock came after the read: the read is stale
        _sold_out[key] = time.monotonic() + SOLD_OUT_MARK_TTL_S


def _restocked(data: dict) -> None:
    key = (data["shop_id"], data["sale_id"], data["item_id"])
    _restocks[key] += 1
    _sold_out.pop(key, None)


on_control("flash.restocked", _restocked)


def refuse_if_sold_out(shop_id: int, sale_id: int, item_id: int) -> None:
    """409 `sold_out` from the process's mark alone (no database read), else nothing."""
    if is_sold_out(shop_id, sale_id, item_id):
        counters.bump(FlashItem.refused_sold_out, item_id)
        raise conflict("sold_out", "this item is sold out", {"item_id": item_id})


# Buyers of one item whose orders this process works on at once; the others wait here, in memory,
# and once the item sells out they are refused from the mark without a database read. 16 keeps the
# pool of 20 connections free for everything else while the 100 or so winners go through quickly.
ADMITTED_PER_ITEM = 16
GATES_KEPT = 1000  # idle gates are dropped beyond this many (anyone may name any item id)
_gates: dict[tuple[int, int, int], asyncio.Semaphore] = {}


def _gate(key: tuple[int, int, int]) -> asyncio.Semaphore:
    gate = _gates.get(key)
    if gate is None:
        if len(_gates) >= GATES_KEPT:  # forget the idle ones: no buyer holds or waits on them
            for idle in [k for k, g in _gates.items() if g._value == ADMITTED_PER_ITEM and not g._waiters]:
                del _gates[idle]
        gate = _gates[key] = asyncio.Semaphore(ADMITTED_PER_ITEM)
    return gate


async def admit(shop_id: int, sale_id: int, item_id: int) -> asyncio.Semaphore:
    """Wait for one of the item's places in this process (before the member is read); 409
    `sold_out` from the mark if it sold out meanwhile. Release the returned gate once answered."""
    refuse_if_sold_out(shop_id, sale_id, item_id)
    gate = _gate((shop_id, sale_id, item_id))
    await gate.acquire()
    try:
        refuse_if_sold_out(shop_id, sale_id, item_id)
    except BaseException:
        gate.release()
        raise
    return gate


async def announce_restock(item: FlashItem) -> None:
    """Inside the transaction that put units back into an item's pool: every process drops its mark."""
    await events.record(CONTROL_CHANNEL, "flash.restocked",
                        {"shop_id": item.shop_id, "sale_id": item.sale_id, "item_id": item.id})


# ---------------------------------------------------------------- coalesced stock events
_last_stock_event: dict[int, float] = {}  # item id -> monotonic time this process last recorded `flash.stock`
_trailing: dict[int, float] = {}  # item id -> when its trailing event was asked for (one pending per item)
_tasks: set[asyncio.Task] = set()


async def stock_changed(item: FlashItem, remaining: int) -> None:
    """Inside the transaction that changed the pool (holding its row lock): `flash.stock` now, or
    a trailing one at the end of the interval."""
    now = time.monotonic()
    last = _last_stock_event.get(item.id)
    if last is None or now - last >= STOCK_EVENT_INTERVAL_S:
        _last_stock_event[item.id] = now
        await _record_stock(item.shop_id, item.sale_id, item.id, remaining)
    elif item.id not in _trailing:
        _trailing[item.id] = now
        # a fresh context: this one is inside the buyer's transaction, which the trailing event must not join
        asyncio.get_running_loop().call_later(last + STOCK_EVENT_INTERVAL_S - now, _spawn_trailing, item.id,
                                              context=contextvars.Context())


async def _record_stock(shop_id: int, sale_id: int, item_id: int, remaining: int) -> None:
    await events.record(channel(sale_id), "flash.stock", {"item_id": item_id, "remaining": remaining})
    if remaining == 0 and await FlashItem.update(sold_out_announced=True).where(
            (FlashItem.id == item_id) & (FlashItem.remaining == 0) & (FlashItem.sold_out_announced == False)  # noqa: E712
    ).aio_execute():
        await events.record(channel(sale_id), "flash.sold_out", {"item_id": item_id})


def _spawn_trailing(item_id: int) -> None:
    task = asyncio.get_running_loop().create_task(_trailing_event(item_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _trailing_event(item_id: int) -> None:
    """The pool as it is now, under its row lock (so the event takes its place in commit order).
    Nothing when an event recorded since the request already carried the change, when the sale
    is settled, or when `flash.sold_out` already said it is empty."""
    asked_at = _trailing.pop(item_id, 0.0)
    if _last_stock_event.get(item_id, 0.0) > asked_at:
        return

    async def record() -> None:
        await FlashItem.update(remaining=FlashItem.remaining).where(FlashItem.id == item_id).aio_execute()  # row lock
        item = await FlashItem.aio_get_or_none(FlashItem.id == item_id)
        if item is None or item.settled or (item.remaining == 0 and item.sold_out_announced):
            return
        _last_stock_event[item_id] = time.monotonic()
        await _record_stock(item.shop_id, item.sale_id, item.id, item.remaining)
    try:
        await events.transaction(record)
    except Exception:  # the next change records again; a display event is not worth more
        log.exception("trailing flash.stock of item %s failed", item_id)


# ---------------------------------------------------------------- buying
def _refusal(item_id: int, code: str, message: str, details: dict | None = None) -> Conflict:
    counters.bump(REFUSAL_COUNTERS[code], item_id)
    return conflict(code, message, {"item_id": item_id, **(details or {})})


async def _held(shop_id: int, member_id: int, item_id: int) -> int:
    """Units of this item the member holds toward the limit: every order awaiting payment or ever
    paid (a refund without return leaves the goods with the member, so it still counts); only an
    order cancelled unpaid gives its units back to the member's limit."""
    rows = await (OrderItem.select(OrderItem.quantity).join(Order, on=(Order.id == OrderItem.order_id))
                  .where((Order.shop_id == shop_id) & (Order.flash_item_id == item_id) & (Order.member_id == member_id)
                         & ((Order.status != CANCELLED) | Order.paid_at.is_null(False))).aio_execute())
    return sum(row.quantity for row in rows)


async def buy(shop_id: int, member: Member, sale_id: int, item_id: int, quantity: int, address_id: int) -> dict:
    """One flash order of `quantity` units of an item, awaiting payment within the shop's flash
    payment window; 409 `not_started` | `ended` | `sold_out` | `limit_reached`."""
    refuse_if_sold_out(shop_id, sale_id, item_id)
    key = (shop_id, sale_id, item_id)
    restocks_seen = _restocks[key]
    sale = await FlashSale.aio_get_or_none((FlashSale.shop_id == shop_id) & (FlashSale.id == sale_id)
                                           & (FlashSale.deleted == False))  # noqa: E712
    item = sale and await FlashItem.aio_get_or_none((FlashItem.shop_id == shop_id) & (FlashItem.sale_id == sale_id)
                                                    & (FlashItem.id == item_id))
    if sale is None or item is None:
        raise not_found("flash item" if sale else "flash sale")
    now = precise_now()
    if now < sale.starts_at:
        raise _refusal(item_id, "not_started", "this flash sale has not started", {"starts_at": sale.starts_at.isoformat() + "Z"})
    if now >= sale.ends_at:
        raise _refusal(item_id, "ended", "this flash sale has ended")
    if quantity > item.per_member_limit:
        raise _refusal(item_id, "limit_reached", f"at most {item.per_member_limit} per member",
                       {"limit": item.per_member_limit})
    if item.remaining < quantity:  # read without a lock: an empty pool refuses before any transaction
        if item.remaining == 0:
            _mark_sold_out(key, restocks_seen)
        raise _refusal(item_id, "sold_out", "this item is sold out", {"remaining": item.remaining})

    snapshot = await orders.address_snapshot(shop_id, member, address_id)
    settings = await sysset.get_settings(shop_id)
    lines = await pricing.load_lines(shop_id, [{"goods_id": item.goods_id, "sku_id": item.sku_id, "quantity": quantity}])
    lines[0].unit_price_fen = item.price_fen
    priced = await pricing.price(shop_id, member, lines, None, settings)

    async def take():
        await lock_member(member.id)  # the member's orders are counted, then one is added: one at a time
        held = await _held(shop_id, member.id, item_id)
        if held + quantity > item.per_member_limit:
            raise _refusal(item_id, "limit_reached", f"at most {item.per_member_limit} per member",
                           {"limit": item.per_member_limit, "held": held})
        if precise_now() >= sale.ends_at:  # the clock again, now that the locks are held
            raise _refusal(item_id, "ended", "this flash sale has ended")
        took = await FlashItem.update(remaining=FlashItem.remaining - quantity).where(
            (FlashItem.id == item_id) & (FlashItem.remaining >= quantity) & (FlashItem.settled == False)  # noqa: E712
        ).aio_execute()
        remaining = (await FlashItem.select(FlashItem.remaining).where(FlashItem.id == item_id).aio_get()).remaining
        if not took:
            raise _refusal(item_id, "sold_out", "this item is sold out", {"remaining": remaining})
        order = await orders.place_order(shop_id, member, priced, snapshot, settings, flash_item_id=item_id,
                                         pay_within_minutes=settings.flash.unpaid_cancel_minutes)
        await stock_changed(item, remaining)
        return order, remaining

    try:
        order, remaining = await events.transaction(take)
    except Conflict as refused:
        if refused.code == "sold_out" and refused.details.get("remaining") == 0:
            _mark_sold_out(key, restocks_seen)
        raise
    if remaining == 0:
        _mark_sold_out(key, restocks_seen)
    return orders.render_order(order, order.placed_items)


# ---------------------------------------------------------------- units coming back
async def return_units(order: Order, items: list) -> None:
    """`restock` reaction of a flash order (cancelled, or refunded with restocking): its units go
    back into the pool while the pool is open — live, and buyable again at once — else (the sale
    settled) onto the goods. The pool's `settled` flag is changed under its row lock, so each unit
    lands in exactly one place."""
    if order.flash_item_id is None:
        return
    quantity = sum(item.quantity for item in items)
    back = await FlashItem.update(remaining=FlashItem.remaining + quantity, sold_out_announced=False).where(
        (FlashItem.id == order.flash_item_id) & (FlashItem.settled == False)).aio_execute()  # noqa: E712
    if back:
        item = await FlashItem.aio_get(FlashItem.id == order.flash_item_id)
        await announce_restock(item)
        await stock_changed(item, item.remaining)
        return
    for line in items:
        await goods_service.change_stock(order.shop_id, line.goods_id, line.sku_id, line.quantity, "flash_return",
                                         reference=order.order_no)
