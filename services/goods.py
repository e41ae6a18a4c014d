"""Catalog rules: categories (two levels), goods with spec-generated SKUs, stock and its ledger.

Stock changes only through `change_stock`: a conditional UPDATE (never below zero) plus a ledger
row in one transaction, and a `goods.stock` event on the public `goods:{id}` channel so a detail
page can show stock live. Editing goods never overwrites the stock of existing rows (an order
could have taken some meanwhile); new SKUs take the stock they are created with.
"""
from __future__ import annotations

import dataclasses
import itertools
import json

import peewee

import events
from lib import richtext
from lib.cache import TTLCache
from lib.errors import DomainError, conflict, field_error, invalid, not_found
from models.base import iso, paginate, utcnow
from models.goods import ON_SALE, Category, Goods, Sku, StockLedger
from models.locks import locked
from models.prepared import insert_rows
from services import audit

SORTS = {
    "price_asc": (Goods.price_fen.asc(), Goods.id.desc()),
    "price_desc": (Goods.price_fen.desc(), Goods.id.desc()),
    "sales": (Goods.sales.desc(), Goods.id.desc()),
    "new": (Goods.id.desc(),),
    "default": (Goods.sort.desc(), Goods.id.desc()),
}



# ---------------------------------------------------------------- categories
def render_category(category: Category) -> dict:
    return {"id": category.id, "parent_id": category.parent_id, "name": category.name,
            "sort": category.sort, "enabled": category.enabled}


async def get_category(shop_id: int, category_id: int) -> Category:
    category = await Category.aio_get_or_none((Category.shop_id == shop_id) & (Category.id == category_id))
    if category is None:
        raise not_found("category")
    return category


async def _check_parent(shop_id: int, parent_id: int | None, self_id: int | None = None) -> None:
    if parent_id is None:
        return
    parent = await Category.aio_get_or_none((Category.shop_id == shop_id) & (Category.id == parent_id))
    if parent is None or parent.id == self_id:
        raise field_error("parent_id", "unknown parent category")
    if parent.parent_id is not None:
        raise field_error("parent_id", "categories have two levels; the parent must be a top-level category")
    if self_id is not None and await Category.select().where(
            (Category.shop_id == shop_id) & (Category.parent_id == self_id)).aio_exists():
        raise field_error("parent_id", "a category with children cannot become a child")


async def create_category(shop_id: int, fields: dict) -> dict:
    await _check_parent(shop_id, fields.get("parent_id"))
    return render_category(await Category.aio_create(shop_id=shop_id, **fields))


async def update_category(shop_id: int, category_id: int, changes: dict) -> dict:
    category = await get_category(shop_id, category_id)
    if "parent_id" in changes:
        await _check_parent(shop_id, changes["parent_id"], self_id=category.id)
    if changes:
        await Category.update(**changes).where(
            (Category.shop_id == shop_id) & (Category.id == category_id)).aio_execute()
    return render_category(await get_category(shop_id, category_id))


async def delete_category(shop_id: int, category_id: int) -> None:
    await get_category(shop_id, category_id)
    if await Category.select().where((Category.shop_id == shop_id) & (Category.parent_id == category_id)).aio_exists():
        raise conflict("category_not_empty", "the category has sub-categories")
    if await Goods.select().where((Goods.shop_id == shop_id) & (Goods.category_id == category_id)
                                  & Goods.deleted_at.is_null()).aio_exists():
        raise conflict("category_not_empty", "the category still has goods")
    await Category.delete().where((Category.shop_id == shop_id) & (Category.id == category_id)).aio_execute()


async def category_tree(shop_id: int, enabled_only: bool) -> list[dict]:
    query = Category.select().where(Category.shop_id == shop_id).order_by(Category.sort.desc(), Category.id)
    if enabled_only:
        query = query.where(Category.enabled == True)  # noqa: E712
    rows = list(await query.aio_execute())
    tops = [{**render_category(c), "children": []} for c in rows if c.parent_id is None]
    by_id = {c["id"]: c for c in tops}
    for c in rows:
        if c.parent_id is not None and c.parent_id in by_id:
            by_id[c.parent_id]["children"].append(render_category(c))
    return tops


# ---------------------------------------------------------------- goods
def render_sku(sku: Sku) -> dict:
    return {"id": sku.id, "title": sku.title, "spec_values": json.loads(sku.spec_values),
            "price_fen": sku.price_fen, "stock": sku.stock, "code": sku.code}


def render_goods_summary(goods: Goods) -> dict:
    images = json.loads(goods.images)
    return {"id": goods.id, "title": goods.title, "subtitle": goods.subtitle, "cover": images[0] if images else "",
            "category_id": goods.category_id, "price_fen": goods.price_fen,
            "market_price_fen": goods.market_price_fen, "sales": goods.sales, "stock": goods.stock}


def render_goods(goods: Goods, skus: list[Sku], merchant: bool) -> dict:
    data = {**render_goods_summary(goods), "images": json.loads(goods.images), "description": goods.description,
            "weight_g": goods.weight_g, "is_virtual": goods.is_virtual, "purchase_limit": goods.purchase_limit,
            "specs": json.loads(goods.specs), "skus": [render_sku(s) for s in skus]}
    if merchant:
        data.update(status=goods.status, sort=goods.sort, created_at=iso(goods.created_at),
                    updated_at=iso(goods.updated_at), deleted=goods.deleted_at is not None,
                    commission_rates_bp=json.loads(goods.commission_rates_bp) if goods.commission_rates_bp else None)
    return data


async def _check_category(shop_id: int, category_id: int | None) -> None:
    if category_id is not None and not await Category.select().where(
            (Category.shop_id == shop_id) & (Category.id == category_id)).aio_exists():
        raise field_error("category_id", "unknown category")


def _normalise_skus(specs: list[dict], skus: list[dict]) -> list[dict]:
    """SKUs keyed and titled. With spec groups, the SKUs must be exactly their combinations."""
    if specs:
        names = [s["name"] for s in specs]
        if len(set(names)) != len(names):
            raise field_error("specs", "spec group names must be distinct")
        for i, group in enumerate(specs):
            if len(set(group["values"])) != len(group["values"]):
                raise field_error(f"specs.{i}.values", "values in a spec group must be distinct")
        expected = {tuple(combo) for combo in itertools.product(*(s["values"] for s in specs))}
        given = [tuple(s.get("spec_values") or ()) for s in skus]
        if len(set(given)) != len(given) or set(given) != expected:
            missing = sorted(" / ".join(c) for c in expected - set(given))
            unknown = sorted(" / ".join(c) for c in set(given) - expected)
            raise invalid("SKUs must be exactly the combinations of the spec values", {"fields": [{
                "field": "skus", "message": "SKU combinations do not match the specs",
                "missing": missing, "unknown": unknown, "duplicated": len(set(given)) != len(given)}]})
        return [{**s, "key": tuple(s["spec_values"]), "title": s.get("title") or " / ".join(s["spec_values"])}
                for s in skus]
    for i, sku in enumerate(skus):
        if sku.get("spec_values"):
            raise field_error(f"skus.{i}.spec_values", "spec_values need specs on the goods")
        if not sku.get("title"):
            raise field_error(f"skus.{i}.title", "a SKU needs a title when the goods have no specs")
    titles = [s["title"] for s in skus]
    if len(set(titles)) != len(titles):
        raise field_error("skus", "SKU titles must be distinct")
    return [{**s, "key": (s["title"],), "spec_values": []} for s in skus]


async def get_goods(shop_id: int, goods_id: int, visible_only: bool = False) -> Goods:
    query = Goods.select().where((Goods.shop_id == shop_id) & (Goods.id == goods_id) & Goods.deleted_at.is_null())
    if visible_only:
        query = query.where(Goods.status == ON_SALE)
    goods = await query.aio_first()
    if goods is None:
        raise not_found("goods")
    return goods


async def live_skus(goods: Goods) -> list[Sku]:
    """The goods' SKUs that can be bought (not retired), in display order."""
    return list(await Sku.select().where((Sku.shop_id == goods.shop_id) & (Sku.goods_id == goods.id)
                                         & Sku.deleted_at.is_null()).order_by(Sku.sort, Sku.id).aio_execute())


# Shopper goods pages are the hottest read; each process keeps them one second. A change made
# through this process drops its copy at once; other processes serve theirs for at most a second
# (price and stock on display only: orders always read the database). The cached page carries the
# channel position read before the data, so a subscriber using it still misses nothing.
_pages = TTLCache(ttl_seconds=1)


def _changed(shop_id: int, goods_id: int) -> None:
    _pages.drop((shop_id, goods_id))


async def goods_detail(shop_id: int, goods_id: int) -> dict:
    """The goods as the merchant edits them (the shopper's page is `goods_page`)."""
    goods = await get_goods(shop_id, goods_id)
    return render_goods(goods, await live_skus(goods), merchant=True)


async def goods_page(shop_id: int, goods_id: int) -> str:
    """The shopper's goods page as the API sends it (JSON text), read and encoded once per cache
    period (`_pages`, one second) however many shoppers look: the page of a hot item is the most
    read answer of a sale."""
    async def load() -> tuple[str, bool]:
        channel = await events.position(f"goods:{goods_id}")  # before the read: see events
        goods = await get_goods(shop_id, goods_id, visible_only=True)
        data = {**render_goods(goods, await live_skus(goods), merchant=False), "channel": channel}
        # not cached while the bus is down (no position)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")), channel.get("seq") is not None

    return await _pages.get_or_load((shop_id, goods_id), load)


def _goods_columns(fields: dict) -> dict:
    columns = {k: v for k, v in fields.items() if k not in ("skus", "specs", "images")}
    if "images" in fields:
        columns["images"] = json.dumps(fields["images"], ensure_ascii=False)
    if "specs" in fields:
        columns["specs"] = json.dumps(fields["specs"], ensure_ascii=False)
    if "commission_rates_bp" in fields:
        rates = fields["commission_rates_bp"]
        columns["commission_rates_bp"] = json.dumps(rates) if rates is not None else None
    if fields.get("description"):
        columns["description"] = richtext.clean(fields["description"])
    return columns


async def create_goods(shop_id: int, fields: dict, staff_id: int | None) -> dict:
    await _check_category(shop_id, fields.get("category_id"))
    skus = _normalise_skus(fields.get("specs") or [], fields.get("skus") or [])
    columns = _goods_columns(fields)
    if skus:
        columns.update(price_fen=min(s["price_fen"] for s in skus), stock=sum(s["stock"] for s in skus),
                       has_skus=True)
    async with events.atomic():
        goods = await Goods.aio_create(shop_id=shop_id, **columns)
        for order, sku in enumerate(skus):
            row = await Sku.aio_create(shop_id=shop_id, goods_id=goods.id, title=sku["title"],
                                       spec_values=json.dumps(sku["spec_values"], ensure_ascii=False),
                                       price_fen=sku["price_fen"], stock=sku["stock"], code=sku.get("code") or "",
                                       sort=order)
            await _ledger(goods, row.id, sku["stock"], sku["stock"], "initial", "", staff_id)
        if not skus:
            await _ledger(goods, None, goods.stock, goods.stock, "initial", "", staff_id)
    return await goods_detail(shop_id, goods.id)


async def update_goods(shop_id: int, goods_id: int, changes: dict, staff_id: int | None) -> dict:
    """Price changes (goods or SKU) go to the operation log with before and after."""
    goods = await get_goods(shop_id, goods_id)
    before = {"price_fen": goods.price_fen, "skus": {s.title: s.price_fen for s in await live_skus(goods)}}
    if "category_id" in changes:
        await _check_category(shop_id, changes["category_id"])
    if "skus" in changes or "specs" in changes:
        specs = changes.get("specs", json.loads(goods.specs))
        if "skus" not in changes:
            raise field_error("skus", "changing specs needs the full list of SKUs")
        await _replace_skus(goods, _normalise_skus(specs, changes["skus"]), staff_id)
    columns = _goods_columns(changes)
    if columns:
        columns["updated_at"] = utcnow()
        await Goods.update(**columns).where((Goods.shop_id == shop_id) & (Goods.id == goods_id)).aio_execute()
    _changed(shop_id, goods_id)
    detail = await goods_detail(shop_id, goods_id)
    after = {"price_fen": detail["price_fen"], "skus": {s["title"]: s["price_fen"] for s in detail["skus"]}}
    if after != before:
        await audit.record(shop_id, "goods.price", "goods", goods_id, before, after)
    return detail


async def _replace_skus(goods: Goods, skus: list[dict], staff_id: int | None) -> None:
    """Update SKUs that keep their key, add new ones, retire the rest; existing stock is kept."""
    async with events.atomic():
        existing = {}
        for row in await live_skus(goods):
            key = tuple(json.loads(row.spec_values)) or (row.title,)
            existing[key] = row
        added_stock = 0
        for order, sku in enumerate(skus):
            row = existing.pop(sku["key"], None)
            values = dict(title=sku["title"], price_fen=sku["price_fen"], code=sku.get("code") or "", sort=order,
                          spec_values=json.dumps(sku["spec_values"], ensure_ascii=False))
            if row is not None:
                await Sku.update(**values).where(Sku.id == row.id).aio_execute()
            else:
                new = await Sku.aio_create(shop_id=goods.shop_id, goods_id=goods.id, stock=sku["stock"], **values)
                await _ledger(goods, new.id, sku["stock"], sku["stock"], "initial", "", staff_id)
                added_stock += sku["stock"]
        retired_stock = sum(row.stock for row in existing.values())
        if existing:
            await Sku.update(deleted_at=utcnow()).where(Sku.id.in_([r.id for r in existing.values()])).aio_execute()
        prices = [s["price_fen"] for s in skus]
        await Goods.update(
            stock=Goods.stock + added_stock - retired_stock, has_skus=bool(skus),
            price_fen=min(prices) if prices else Goods.price_fen,
        ).where(Goods.id == goods.id).aio_execute()


async def delete_goods(shop_id: int, goods_id: int) -> None:
    await get_goods(shop_id, goods_id)
    await Goods.update(deleted_at=utcnow(), status="off_sale").where(
        (Goods.shop_id == shop_id) & (Goods.id == goods_id)).aio_execute()
    _changed(shop_id, goods_id)


async def set_shelf(shop_id: int, goods_ids: list[int], status: str) -> int:
    """Bulk on/off shelf; ids of other shops or deleted goods are silently not matched."""
    for goods_id in goods_ids:
        _changed(shop_id, goods_id)
    return await Goods.update(status=status, updated_at=utcnow()).where(
        (Goods.shop_id == shop_id) & Goods.id.in_(goods_ids) & Goods.deleted_at.is_null()).aio_execute()


def _goods_query(shop_id: int, category_ids: list[int] | None, q: str | None):
    query = Goods.select().where((Goods.shop_id == shop_id) & Goods.deleted_at.is_null())
    if category_ids is not None:
        query = query.where(Goods.category_id.in_(category_ids))
    if q:
        query = query.where(Goods.title.contains(q))
    return query


async def _category_and_children(shop_id: int, category_id: int) -> list[int]:
    children = await Category.select(Category.id).where(
        (Category.shop_id == shop_id) & (Category.parent_id == category_id)).aio_execute()
    return [category_id, *(c.id for c in children)]


async def list_goods(shop_id: int, page: int, page_size: int, *, merchant: bool, category_id: int | None = None,
                     q: str | None = None, sort: str = "default", status: str | None = None) -> dict:
    categories = await _category_and_children(shop_id, category_id) if category_id else None
    query = _goods_query(shop_id, categories, q).order_by(*SORTS[sort])
    if not merchant:
        query = query.where(Goods.status == ON_SALE)
    elif status:
        query = query.where(Goods.status == status)
    render = (lambda g: {**render_goods_summary(g), "status": g.status, "sort": g.sort}) if merchant \
        else render_goods_summary
    return await paginate(query, page, page_size, render)


# ---------------------------------------------------------------- stock
async def _ledger(goods: Goods, sku_id, delta: int, stock_after: int, reason: str, remark: str,
                  staff_id: int | None, reference: str = "") -> None:
    await StockLedger.aio_create(shop_id=goods.shop_id, goods_id=goods.id, sku_id=sku_id, delta=delta,
                                 stock_after=stock_after, reason=reason, remark=remark, staff_id=staff_id,
                                 reference=reference)


def _sku_choice(goods: Goods) -> DomainError:
    return field_error("sku_id", "choose one of the goods' SKUs" if goods.has_skus else "these goods have no SKUs")


def _out_of_stock(goods_id: int, sku_id: int | None = None) -> DomainError:
    details = {"goods_id": goods_id} if sku_id is None else {"goods_id": goods_id, "sku_id": sku_id}
    return conflict("out_of_stock", "not enough stock", details)


async def change_stock(shop_id: int, goods_id: int, sku_id: int | None, delta: int, reason: str, *,
                       remark: str = "", staff_id: int | None = None, reference: str = "",
                       goods: Goods | None = None) -> int:
    """Add `delta` (negative to take) to one goods' or SKU's stock, never below zero. Joins the
    caller's transaction if there is one. Returns the new stock; 409 `out_of_stock` if short.
    `goods`: the row as the caller just read it in this request (saves reading it again; the
    stock itself is only ever changed by the conditional UPDATE below)."""
    async with events.atomic():
        # Taking needs live goods; returning stock (cancel, refund) also reaches deleted goods
        # and retired SKUs, whose old orders still give stock back.
        if goods is None or goods.id != goods_id or goods.shop_id != shop_id:
            goods = await Goods.aio_get_or_none((Goods.shop_id == shop_id) & (Goods.id == goods_id))
        if goods is None or (delta < 0 and goods.deleted_at is not None):
            raise not_found("goods")
        if goods.has_skus != (sku_id is not None):
            raise _sku_choice(goods)
        if sku_id is not None:
            # goods row first, then the SKU: every writer locks in that order, so two orders
            # of different SKUs of one goods cannot deadlock
            await Goods.update(stock=Goods.stock + delta).where(Goods.id == goods_id).aio_execute()
            live_sku = (Sku.deleted_at.is_null()) if delta < 0 else (Sku.id == sku_id)
            taken = await Sku.update(stock=Sku.stock + delta).where(
                (Sku.shop_id == shop_id) & (Sku.goods_id == goods_id) & (Sku.id == sku_id)
                & live_sku & (Sku.stock + delta >= 0)).aio_execute()
            if not taken:
                if not await Sku.select().where((Sku.shop_id == shop_id) & (Sku.goods_id == goods_id)
                                                & (Sku.id == sku_id) & live_sku).aio_exists():
                    raise not_found("sku")
                raise _out_of_stock(goods_id, sku_id)
            after = (await Sku.select(Sku.stock).where(Sku.id == sku_id).aio_get()).stock
            total = (await Goods.select(Goods.stock).where(Goods.id == goods_id).aio_get()).stock
        else:
            taken = await Goods.update(stock=Goods.stock + delta).where(
                (Goods.shop_id == shop_id) & (Goods.id == goods_id) & (Goods.stock + delta >= 0)).aio_execute()
            if not taken:
                raise _out_of_stock(goods_id)
            after = total = (await Goods.select(Goods.stock).where(Goods.id == goods_id).aio_get()).stock
        await _ledger(goods, sku_id, delta, after, reason, remark, staff_id, reference)
        await events.record(f"goods:{goods_id}", "goods.stock",
                            {"goods_id": goods_id, "sku_id": sku_id, "stock": total, "sku_stock": after
                             if sku_id is not None else None})
    _changed(shop_id, goods_id)
    return after


@dataclasses.dataclass(frozen=True)
class Take:
    """One line of one order in `take_stock_together`."""
    shop_id: int
    goods_id: int
    sku_id: int | None
    quantity: int
    reference: str  # the order number, as the ledger row shows it


async def take_stock_together(orders: list[list[Take]]) -> list[DomainError | None]:
    """Stock for many orders in one statement per table, inside the caller's transaction: the
    goods rows and then the SKU rows are locked (ascending ids: the lock order `change_stock`
    keeps), read, and the orders admitted in the order given while every line of an order fits
    (all its lines or none). Answers per order: None (taken, ledger row written) or the error it
    would have got alone (`out_of_stock`, deleted goods or SKU). One `goods.stock` event per
    goods/SKU with its final figure."""
    goods_ids = sorted({t.goods_id for lines in orders for t in lines})
    sku_ids = sorted({t.sku_id for lines in orders for t in lines if t.sku_id is not None})
    goods_rows = {g.id: g for g in await locked(Goods.select(Goods.id, Goods.shop_id, Goods.stock, Goods.has_skus,
                                                              Goods.deleted_at)
                                                .where(Goods.id.in_(goods_ids)).order_by(Goods.id)).aio_execute()}
    sku_rows = {s.id: s for s in await locked(Sku.select(Sku.id, Sku.goods_id, Sku.stock, Sku.deleted_at)
                                              .where(Sku.id.in_(sku_ids)).order_by(Sku.id)).aio_execute()} if sku_ids else {}
    goods_left = {gid: row.stock for gid, row in goods_rows.items()}
    sku_left = {sid: row.stock for sid, row in sku_rows.items()}
    answers: list[DomainError | None] = []
    ledger = []
    for lines in orders:
        answers.append(_refusal(lines, goods_rows, sku_rows, goods_left, sku_left))
        if answers[-1] is not None:
            continue
        for t in lines:
            goods_left[t.goods_id] -= t.quantity
            if t.sku_id is not None:
                sku_left[t.sku_id] -= t.quantity
            ledger.append({"shop_id": t.shop_id, "goods_id": t.goods_id, "sku_id": t.sku_id, "delta": -t.quantity,
                           "stock_after": sku_left[t.sku_id] if t.sku_id is not None else goods_left[t.goods_id],
                           "reason": "order", "reference": t.reference})
    if not ledger:
        return answers
    taken_goods = {gid: goods_rows[gid].stock - left for gid, left in goods_left.items() if left != goods_rows[gid].stock}
    taken_skus = {sid: sku_rows[sid].stock - left for sid, left in sku_left.items() if left != sku_rows[sid].stock}
    await _take_many(Goods, taken_goods)
    await _take_many(Sku, taken_skus)
    await insert_rows(StockLedger, ledger)
    for key in sorted({(t.goods_id, t.sku_id) for lines in orders for t in lines}):
        goods_id, sku_id = key
        if goods_id in taken_goods and (sku_id is None or sku_id in taken_skus):
            await events.record(f"goods:{goods_id}", "goods.stock", {
                "goods_id": goods_id, "sku_id": sku_id, "stock": goods_left[goods_id],
                "sku_stock": sku_left[sku_id] if sku_id is not None else None})
    for goods_id in taken_goods:
        _changed(goods_rows[goods_id].shop_id, goods_id)
    return answers


def _refusal(lines: list[Take], goods_rows: dict, sku_rows: dict, goods_left: dict, sku_left: dict) -> DomainError | None:
    for t in lines:
        goods = goods_rows.get(t.goods_id)
        if goods is None or goods.shop_id != t.shop_id or goods.deleted_at is not None:
            return not_found("goods")
        if goods.has_skus != (t.sku_id is not None):  # SKUs added or removed since the order was priced
            return _sku_choice(goods)
        if t.sku_id is not None:
            sku = sku_rows.get(t.sku_id)
            if sku is None or sku.goods_id != t.goods_id or sku.deleted_at is not None:
                return not_found("sku")
            if sku_left[t.sku_id] < t.quantity:
                return _out_of_stock(t.goods_id, t.sku_id)
        elif goods_left[t.goods_id] < t.quantity:
            return _out_of_stock(t.goods_id)
    return None


async def _take_many(model, taken: dict[int, int]) -> None:
    """One UPDATE for every row: stock minus what was taken from it (the rows are locked and
    were read in this transaction; the condition re-checks that nothing goes below zero)."""
    if not taken:
        return
    amount = peewee.Case(model.id, list(taken.items()))
    changed = await model.update(stock=model.stock - amount).where(
        model.id.in_(list(taken)) & (model.stock >= amount)).aio_execute()
    if changed != len(taken):  # cannot happen under the row locks; never write a negative stock
        raise RuntimeError(f"{model.__name__} stock moved under its row lock")


async def stock_ledger(shop_id: int, goods_id: int, page: int, page_size: int) -> dict:
    await get_goods(shop_id, goods_id)
    query = StockLedger.select().where((StockLedger.shop_id == shop_id) & (StockLedger.goods_id == goods_id)) \
        .order_by(StockLedger.id.desc())
    return await paginate(query, page, page_size, lambda r: {
        "id": r.id, "sku_id": r.sku_id, "delta": r.delta, "stock_after": r.stock_after, "reason": r.reason,
        "remark": r.remark, "staff_id": r.staff_id, "reference": r.reference, "created_at": iso(r.created_at)})




async def count_sales(order, items: list) -> None:
    """`paid` reaction: the goods' sales counters (shown on goods pages)."""
    for item in items:
        await Goods.update(sales=Goods.sales + item.quantity).where(Goods.id == item.goods_id).aio_execute()


async def uncount_sales(order, items: list) -> None:
    """`refunded` reaction: a refunded order's units no longer count as sold."""
    for item in items:
        await Goods.update(sales=Goods.sales - item.quantity).where(Goods.id == item.goods_id).aio_execute()
