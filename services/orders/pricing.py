"""Pricing: the one place that turns a cart into money. The checkout preview and the order use
the same function, so the preview shows exactly what the order will cost, to the fen.

Order of application, each step on what the previous one left (all amounts in fen, every
division rounds down so the shopper is never charged a fraction more than shown):
1. goods_total: SKU (or goods) price x quantity.
2. level discount (member level %): goods_total - goods_total x percent / 100 (rounded half up).
3. full reduction (满减): the best shop tier whose `min_fen` <= what is left after step 2.
4. coupons: each coupon's base is what is left after step 3 for the lines it covers (its share by
   list price when it covers only some goods or categories); its `min_spend_fen` is checked on that
   base; amount coupons take `amount_fen`, percent coupons base x percent_off / 100 capped at
   `max_discount_fen`. One coupon per order unless every coupon used is stackable. Coupons never
   take the goods amount below zero.
5. points deduction (积分抵扣, when the member asks and the shop allows): at most
   `deduct_max_percent` of what is left after step 4, `points_per_yuan_deduct` points per ¥1.
6. shipping: the shop's fee, none for all-virtual carts or when what is left after step 4 reaches
   the free-shipping threshold (满额包邮).
total = goods_total - level - full reduction - coupons - points + shipping.
Campaign prices (group-buy tiers, buy-alone) are final: no promotion applies to them.
Every step that takes money off adds a line to `discounts`, which the order stores as shown.
Each line's share of every discount is allocated to the fen (services/orders/shares.py) and stored
with the line: what after-sales refund.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lib.errors import conflict, field_error, not_found
from models.goods import ON_SALE, Goods, Sku
from models.member import Member, MemberLevel
from models.prepared import PreparedGet
from models.sale import COUPON_UNUSED, KIND_AMOUNT, CouponTemplate
from services import sale, sysset
from services.orders import shares

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
    shop_id: int = 0
    goods_total_fen: int = 0
    level_discount_fen: int = 0
    full_reduction_fen: int = 0
    coupon_discount_fen: int = 0
    points_deduction_fen: int = 0
    points_used: int = 0
    shipping_fee_fen: int = 0
    total_fen: int = 0
    coupons: list[tuple[int, int]] = field(default_factory=list)  # (member coupon id, fen it takes off)
    coupon_cover: list[list[int]] = field(default_factory=list)  # per coupon: indexes of the lines it covers
    discounts: list[dict] = field(default_factory=list)

    def line_shares(self) -> tuple[list[int], list[int]]:
        """(each line's paid fen, its share of the points spent), summing to the order's exactly."""
        return shares.price_lines([line.price_fen * line.quantity for line in self.lines], self.level_discount_fen,
                                  self.full_reduction_fen, [(off, cover) for (_, off), cover in
                                                            zip(self.coupons, self.coupon_cover)],
                                  self.points_deduction_fen, self.points_used)

    @property
    def coupon_id(self) -> int | None:
        return self.coupons[0][0] if self.coupons else None

    def render(self) -> dict:
        return {"lines": [line.render() for line in self.lines], "goods_total_fen": self.goods_total_fen,
                "level_discount_fen": self.level_discount_fen, "full_reduction_fen": self.full_reduction_fen,
                "coupon_discount_fen": self.coupon_discount_fen, "points_deduction_fen": self.points_deduction_fen,
                "points_used": self.points_used, "shipping_fee_fen": self.shipping_fee_fen, "total_fen": self.total_fen,
                "coupon_ids": [c for c, _ in self.coupons], "discounts": self.discounts}


# every order line reads these: prepared once (models/prepared.py)
_live_goods = PreparedGet(Goods, Goods.shop_id, Goods.id, where=Goods.deleted_at.is_null())
_live_sku = PreparedGet(Sku, Sku.shop_id, Sku.goods_id, Sku.id, where=Sku.deleted_at.is_null())


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
            raise field_error("items", f"at most {MAX_QUANTITY} of one item")
        goods = await _live_goods.get(shop_id, goods_id)
        if goods is None:
            raise not_found("goods")
        if goods.status != ON_SALE:
            raise conflict("goods_unavailable", f"{goods.title} is not on sale", {"goods_id": goods_id})
        sku = None
        if goods.has_skus:
            if sku_id is None:
                raise field_error("items", f"choose a SKU of goods {goods_id}")
            sku = await _live_sku.get(shop_id, goods_id, sku_id)
            if sku is None:
                raise not_found("sku")
        elif sku_id is not None:
            raise field_error("items", f"goods {goods_id} has no SKUs")
        lines.append(Line(goods, sku, quantity))
    return lines


def coupon_discount(template: CouponTemplate, lines: list[Line], categories: dict[int, set[int]], after_full_fen: int,
                    goods_total_fen: int) -> tuple[int, str]:
    """What one coupon takes off, or 0 and why it cannot be used on these lines."""
    covered = [line for line in lines if sale.covers(template, line.goods.id, categories.get(line.goods.id, set()))]
    if not covered:
        return 0, "not valid for these goods"
    covered_list = sum(line.price_fen * line.quantity for line in covered)
    base = after_full_fen if covered_list == goods_total_fen else after_full_fen * covered_list // goods_total_fen
    if base < template.min_spend_fen:
        return 0, f"spend at least {template.min_spend_fen} fen on the goods it covers"
    if template.kind == KIND_AMOUNT:
        return min(template.amount_fen, base), ""
    off = base * template.percent_off // 100
    return (min(off, template.max_discount_fen) if template.max_discount_fen else off), ""


async def apply_coupons(priced: Priced, member: Member, coupon_ids: list[int], after_full_fen: int) -> None:
    coupons = await sale.usable_coupons(priced.shop_id, member.id, coupon_ids)
    if len(coupons) > 1 and not all(template.stackable for _, template in coupons):
        raise sale.coupon_error("only stackable coupons can be combined")
    categories = await sale.category_paths(priced.shop_id, [line.goods for line in priced.lines])
    left = after_full_fen
    for coupon, template in coupons:
        off, reason = coupon_discount(template, priced.lines, categories, after_full_fen, priced.goods_total_fen)
        if not off:
            raise sale.coupon_error(f"{template.name}: {reason}", coupon.id)
        off = min(off, left)
        left -= off
        priced.coupons.append((coupon.id, off))
        priced.coupon_cover.append([i for i, line in enumerate(priced.lines)
                                    if sale.covers(template, line.goods.id, categories.get(line.goods.id, set()))])
        priced.coupon_discount_fen += off
        priced.discounts.append({"type": "coupon", "coupon_id": coupon.id, "label": template.name, "amount_fen": off})


def best_reduction(settings: sysset.Settings, amount_fen: int):
    tiers = [t for t in settings.sale.full_reduction if t.min_fen <= amount_fen]
    return max(tiers, key=lambda t: t.off_fen) if tiers else None


async def price(shop_id: int, member: Member, lines: list[Line], coupon_ids: list[int] | None = None,
                settings: sysset.Settings | None = None, use_points: bool = False) -> Priced:
    settings = settings or await sysset.get_settings(shop_id)
    priced = Priced(lines=lines, shop_id=shop_id)
    priced.goods_total_fen = sum(line.price_fen * line.quantity for line in lines)
    campaign = any(line.unit_price_fen is not None for line in lines)
    if campaign and coupon_ids:
        raise sale.coupon_error("group-buy prices are final: coupons do not apply")
    if member.level_id and not campaign:
        level = await MemberLevel.aio_get_or_none((MemberLevel.shop_id == shop_id) & (MemberLevel.id == member.level_id))
        if level is not None and level.discount_percent < 100:
            payable = (priced.goods_total_fen * level.discount_percent + 50) // 100
            priced.level_discount_fen = priced.goods_total_fen - payable
            priced.discounts.append({"type": "level", "label": level.name, "amount_fen": priced.level_discount_fen})
    left = priced.goods_total_fen - priced.level_discount_fen
    tier = None if campaign else best_reduction(settings, left)
    if tier is not None:
        priced.full_reduction_fen = tier.off_fen
        priced.discounts.append({"type": "full_reduction", "label": f"满{tier.min_fen / 100:g}减{tier.off_fen / 100:g}",
                                 "amount_fen": tier.off_fen})
        left -= tier.off_fen
    if coupon_ids:
        await apply_coupons(priced, member, coupon_ids, left)
        left -= priced.coupon_discount_fen
    points = settings.points
    if use_points and points.deduct_enabled and not campaign and member.points > 0:
        deduct = min(left * points.deduct_max_percent // 100, member.points * 100 // points.points_per_yuan_deduct)
        if deduct > 0:
            priced.points_deduction_fen = deduct
            priced.points_used = -(-deduct * points.points_per_yuan_deduct // 100)  # rounded up: never short
            priced.discounts.append({"type": "points", "label": f"{priced.points_used} points",
                                     "points": priced.points_used, "amount_fen": deduct})
    free_shipping = settings.sale.free_shipping_min_fen and left >= settings.sale.free_shipping_min_fen
    if not all(line.goods.is_virtual for line in lines) and not free_shipping:
        priced.shipping_fee_fen = settings.order.shipping_fee_fen
    priced.total_fen = left - priced.points_deduction_fen + priced.shipping_fee_fen
    return priced


async def coupons_for_cart(shop_id: int, member: Member, items: list[dict]) -> dict:
    """Each of the member's valid coupons, priced alone against this cart: usable ones with what
    they would take off (best first), the rest with the reason."""
    lines = await load_lines(shop_id, items)
    base = await price(shop_id, member, lines)
    after_full = base.goods_total_fen - base.level_discount_fen - base.full_reduction_fen
    held = await sale.my_coupons(shop_id, member.id, COUPON_UNUSED, 1, sale.MAX_HELD)
    templates = {t.id: t for t in await CouponTemplate.select().where(
        CouponTemplate.id.in_([c["template_id"] for c in held["items"]] or [0])).aio_execute()}
    categories = await sale.category_paths(shop_id, [line.goods for line in lines])
    campaign = any(line.unit_price_fen is not None for line in lines)
    usable, unusable = [], []
    for coupon in held["items"]:
        off, reason = coupon_discount(templates[coupon["template_id"]], lines, categories, after_full, base.goods_total_fen)
        if campaign:
            off, reason = 0, "group-buy prices are final"
        if off:
            usable.append({**coupon, "discount_fen": min(off, after_full)})
        else:
            unusable.append({**coupon, "reason": reason})
    usable.sort(key=lambda c: -c["discount_fen"])
    return {"usable": usable, "unusable": unusable}
