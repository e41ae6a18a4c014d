"""Pricing: the one place that turns a cart into money. The checkout preview and the order use
the same function, so the preview shows exactly what the order will cost.

Order of application (each on the result of the previous):
1. lines: SKU (or goods) price x quantity  -> goods_total
2. member level discount: goods_total x level percent, rounded half up -> level_discount
3. coupon (`apply_coupon`, the hook the promotions module fills in) -> coupon_discount
4. shipping fee from shop settings (none for all-virtual carts) -> shipping_fee
total = goods_total - level_discount - coupon_discount + shipping_fee, never below zero.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lib.errors import ApiError, conflict, invalid, not_found
from models.goods import ON_SALE, Goods, Sku
from models.member import Member, MemberLevel
from services import sysset

MAX_QUANTITY = 999


@dataclass
class Line:
    goods: Goods
    sku: Sku | None
    quantity: int
    unit_price_fen: int | None = None  # a campaign's price (group-buy tier, buy-alone) instead of the list price

    @property
    def price_fen(self) -> int:
        if self.unit_price_fen is not None:
            return self.unit_price_fen
        return self.sku.price_fen if self.sku else self.goods.price_fen

    def render(self) -> dict:
        images = json.loads(self.goods.images)
        return {"goods_id": self.goods.id, "sku_id": self.sku.id if self.sku else None, "title": self.goods.title,
                "sku_title": self.sku.title if self.sku else "", "image": images[0] if images else "",
                "price_fen": self.price_fen, "quantity": self.quantity, "total_fen": self.price_fen * self.quantity}


@dataclass
class Priced:
    lines: list[Line]
    goods_total_fen: int = 0
    level_discount_fen: int = 0
    coupon_discount_fen: int = 0
    shipping_fee_fen: int = 0
    total_fen: int = 0
    coupon_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def render(self) -> dict:
        return {"lines": [line.render() for line in self.lines], "goods_total_fen": self.goods_total_fen,
                "level_discount_fen": self.level_discount_fen, "coupon_discount_fen": self.coupon_discount_fen,
                "shipping_fee_fen": self.shipping_fee_fen, "total_fen": self.total_fen, "coupon_id": self.coupon_id}


async def load_lines(shop_id: int, items: list[dict]) -> list[Line]:
    """Goods and SKUs for the requested items, merged by (goods, sku) and sorted by id (the order
    in which stock rows are locked). Off-sale, deleted or foreign goods answer 409/404."""
    merged: dict[tuple[int, int | None], int] = {}
    for item in items:
        key = (item["goods_id"], item.get("sku_id"))
        merged[key] = merged.get(key, 0) + item["quantity"]
    lines = []
    for (goods_id, sku_id), quantity in sorted(merged.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if quantity > MAX_QUANTITY:
            raise invalid("request body is invalid", {"fields": [{"field": "items", "message": f"at most {MAX_QUANTITY} of one item"}]})
        goods = await Goods.aio_get_or_none((Goods.shop_id == shop_id) & (Goods.id == goods_id) & Goods.deleted_at.is_null())
        if goods is None:
            raise not_found("goods")
        if goods.status != ON_SALE:
            raise conflict("goods_unavailable", f"{goods.title} is not on sale", {"goods_id": goods_id})
        sku = None
        if goods.has_skus:
            if sku_id is None:
                raise invalid("request body is invalid", {"fields": [{"field": "items", "message": f"choose a SKU of goods {goods_id}"}]})
            sku = await Sku.aio_get_or_none((Sku.shop_id == shop_id) & (Sku.goods_id == goods_id) & (Sku.id == sku_id)
                                            & Sku.deleted_at.is_null())
            if sku is None:
                raise not_found("sku")
        elif sku_id is not None:
            raise invalid("request body is invalid", {"fields": [{"field": "items", "message": f"goods {goods_id} has no SKUs"}]})
        lines.append(Line(goods, sku, quantity))
    return lines


async def apply_coupon(priced: Priced, member: Member, coupon_id: int | None) -> None:
    """The promotions hook: coupons arrive with the promotions module."""
    if coupon_id is not None:
        raise ApiError(422, "coupon_unavailable", "coupons are not available in this shop yet",
                       {"fields": [{"field": "coupon_id", "message": "unknown coupon"}]})


async def price(shop_id: int, member: Member, lines: list[Line], coupon_id: int | None = None,
                settings: sysset.Settings | None = None) -> Priced:
    priced = Priced(lines=lines)
    priced.goods_total_fen = sum(line.price_fen * line.quantity for line in lines)
    campaign = any(line.unit_price_fen is not None for line in lines)
    if member.level_id and not campaign:  # campaign prices are final: no level discount on top
        level = await MemberLevel.aio_get_or_none((MemberLevel.shop_id == shop_id) & (MemberLevel.id == member.level_id))
        if level is not None and level.discount_percent < 100:
            payable = (priced.goods_total_fen * level.discount_percent + 50) // 100
            priced.level_discount_fen = priced.goods_total_fen - payable
    await apply_coupon(priced, member, coupon_id)
    settings = settings or await sysset.get_settings(shop_id)
    if not all(line.goods.is_virtual for line in lines):
        priced.shipping_fee_fen = settings.order.shipping_fee_fen
    priced.total_fen = max(0, priced.goods_total_fen - priced.level_discount_fen - priced.coupon_discount_fen
                           + priced.shipping_fee_fen)
    return priced
