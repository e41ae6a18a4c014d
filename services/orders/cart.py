"""The member's cart: one row per goods/SKU, checked against status and stock when changed and
shown with live price and stock (a cart is a wish, the order re-checks everything)."""
from __future__ import annotations

import peewee

from lib.errors import conflict, not_found
from models.base import utcnow
from models.goods import Goods, Sku
from models.order import CartItem
from services.orders import pricing

MAX_CART_ITEMS = 100


async def _check(shop_id: int, goods_id: int, sku_id: int | None, quantity: int) -> None:
    line = (await pricing.load_lines(shop_id, [{"goods_id": goods_id, "sku_id": sku_id, "quantity": quantity}]))[0]
    stock = line.sku.stock if line.sku else line.goods.stock
    if quantity > stock:
        raise conflict("out_of_stock", "not enough stock", {"goods_id": goods_id, "sku_id": sku_id, "stock": stock})


async def add(shop_id: int, member_id: int, goods_id: int, sku_id: int | None, quantity: int) -> dict:
    mine = (CartItem.shop_id == shop_id) & (CartItem.member_id == member_id)
    existing = await CartItem.aio_get_or_none(mine & (CartItem.goods_id == goods_id) & (CartItem.sku_id == (sku_id or 0)))
    total = min(pricing.MAX_QUANTITY, quantity + (existing.quantity if existing else 0))
    await _check(shop_id, goods_id, sku_id, total)
    if existing is not None:
        await CartItem.update(quantity=total, updated_at=utcnow()).where(CartItem.id == existing.id).aio_execute()
    else:
        if await CartItem.select().where(mine).aio_count() >= MAX_CART_ITEMS:
            raise conflict("cart_full", f"at most {MAX_CART_ITEMS} items in a cart")
        try:
            await CartItem.aio_create(shop_id=shop_id, member_id=member_id, goods_id=goods_id, sku_id=sku_id or 0,
                                      quantity=total)
        except peewee.IntegrityError:  # the same item added twice at once: keep one row
            await CartItem.update(quantity=total).where(mine & (CartItem.goods_id == goods_id)
                                                        & (CartItem.sku_id == (sku_id or 0))).aio_execute()
    return await view(shop_id, member_id)


async def _item(shop_id: int, member_id: int, item_id: int) -> CartItem:
    item = await CartItem.aio_get_or_none((CartItem.shop_id == shop_id) & (CartItem.member_id == member_id)
                                          & (CartItem.id == item_id))
    if item is None:
        raise not_found("cart item")
    return item


async def set_quantity(shop_id: int, member_id: int, item_id: int, quantity: int) -> dict:
    item = await _item(shop_id, member_id, item_id)
    await _check(shop_id, item.goods_id, item.sku_id or None, quantity)
    await CartItem.update(quantity=quantity, updated_at=utcnow()).where(CartItem.id == item.id).aio_execute()
    return await view(shop_id, member_id)


async def remove(shop_id: int, member_id: int, item_id: int) -> None:
    item = await _item(shop_id, member_id, item_id)
    await CartItem.delete().where(CartItem.id == item.id).aio_execute()


async def view(shop_id: int, member_id: int) -> dict:
    rows = list(await CartItem.select().where((CartItem.shop_id == shop_id) & (CartItem.member_id == member_id))
                .order_by(CartItem.id.desc()).aio_execute())
    goods = {g.id: g for g in await Goods.select().where(Goods.id.in_([r.goods_id for r in rows] or [0])).aio_execute()}
    skus = {s.id: s for s in await Sku.select().where(Sku.id.in_([r.sku_id for r in rows if r.sku_id] or [0])).aio_execute()}
    items = []
    for row in rows:
        g, sku = goods.get(row.goods_id), skus.get(row.sku_id)
        available = bool(g and g.deleted_at is None and g.status == "on_sale" and (sku is None or sku.deleted_at is None))
        stock = (sku.stock if sku else g.stock) if g else 0
        items.append({"id": row.id, "goods_id": row.goods_id, "sku_id": row.sku_id or None, "quantity": row.quantity,
                      "title": g.title if g else "", "sku_title": sku.title if sku else "",
                      "price_fen": (sku.price_fen if sku else g.price_fen) if g else 0, "stock": stock,
                      "available": available and stock >= row.quantity})
    return {"items": items}
