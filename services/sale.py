"""Promotions (sale): coupon templates, claiming and issuing coupons, using and returning them.

Quantities hold under concurrency the same way stock does:
- claiming takes one from the template with a conditional UPDATE (`claimed_count < total_quantity`),
  after locking the member's row so their per-member limit is counted without a race;
- using a coupon is a conditional UPDATE `unused -> used` inside the order's transaction, so one
  coupon on two concurrent orders is spent once (the other order rolls back with a 409);
- an unpaid order that is cancelled gives its coupons back; a refunded one does when the shop's
  `sale.return_coupon_on_refund` says so. A returned coupon keeps its original validity.
The money side (what a coupon takes off a cart) is in services.pricing, with every other rule.
"""
from __future__ import annotations

import datetime
import json

from peewee import fn

import events
from lib.errors import Invalid, conflict, field_error, invalid, not_found
from models.base import iso, naive_utc, paginate, utcnow
from models.goods import Category, Goods
from models.locks import lock_member
from models.member import Member
from models.order import COMPLETED, PAID, SHIPPED, Order
from models.sale import (
    COUPON_EXPIRED,
    COUPON_UNUSED,
    COUPON_USED,
    KIND_AMOUNT,
    SCOPE_ALL,
    SCOPE_GOODS,
    CouponTemplate,
    MemberCoupon,
)
from services import audit

MAX_ISSUE = 10_000  # members one issue call may reach
MAX_HELD = 200  # coupons considered for one cart



def coupon_error(message: str, coupon_id: int | None = None) -> Invalid:
    """Naming the coupon a cart cannot use, and why."""
    return invalid(message, {"fields": [{"field": "coupon_ids", "message": message}], "coupon_id": coupon_id},
                   code="coupon_unavailable")



# ---------------------------------------------------------------- templates
def render_template(template: CouponTemplate) -> dict:
    return {"id": template.id, "name": template.name, "kind": template.kind, "amount_fen": template.amount_fen,
            "percent_off": template.percent_off, "max_discount_fen": template.max_discount_fen,
            "min_spend_fen": template.min_spend_fen, "scope": template.scope, "scope_ids": json.loads(template.scope_ids),
            "valid_from": iso(template.valid_from), "valid_until": iso(template.valid_until),
            "valid_days": template.valid_days, "total_quantity": template.total_quantity,
            "per_member_limit": template.per_member_limit, "claimable": template.claimable,
            "stackable": template.stackable, "enabled": template.enabled,
            "remaining": (template.total_quantity - template.claimed_count) if template.total_quantity else None,
            "claimed_count": template.claimed_count, "used_count": template.used_count}


async def _template_columns(shop_id: int, fields: dict, current: CouponTemplate | None = None) -> dict:
    columns = dict(fields)
    for key in ("valid_from", "valid_until"):
        if key in columns:
            columns[key] = naive_utc(columns[key])

    def value(key):
        return columns.get(key, getattr(current, key) if current else None)

    if value("kind") == KIND_AMOUNT and not value("amount_fen"):
        raise field_error("amount_fen", "an amount coupon needs amount_fen")
    if value("kind") != KIND_AMOUNT and not value("percent_off"):
        raise field_error("percent_off", "a percent coupon needs percent_off (1-99)")
    if not value("valid_days") and not value("valid_until"):
        raise field_error("valid_until", "give a fixed end (valid_until) or valid_days after claim")
    if value("valid_from") and value("valid_until") and value("valid_until") <= value("valid_from"):
        raise field_error("valid_until", "must be after valid_from")
    if "scope_ids" in columns or "scope" in columns:
        scope, ids = value("scope"), columns.get("scope_ids", json.loads(current.scope_ids) if current else [])
        if scope != SCOPE_ALL and not ids:
            raise field_error("scope_ids", f"list the {scope} this coupon applies to")
        model = Goods if scope == SCOPE_GOODS else Category
        if scope != SCOPE_ALL:
            found = await model.select().where((model.shop_id == shop_id) & model.id.in_(ids)).aio_count()
            if found != len(set(ids)):
                raise field_error("scope_ids", f"unknown {scope} ids")
        columns["scope_ids"] = json.dumps(sorted(set(ids)) if scope != SCOPE_ALL else [])
    if current is not None and "total_quantity" in columns and columns["total_quantity"] \
            and columns["total_quantity"] < current.claimed_count:
        raise field_error("total_quantity", f"{current.claimed_count} are already claimed")
    return columns


async def create_template(shop_id: int, fields: dict) -> dict:
    columns = await _template_columns(shop_id, fields)
    return render_template(await CouponTemplate.aio_create(shop_id=shop_id, **columns))


async def get_template(shop_id: int, template_id: int) -> CouponTemplate:
    template = await CouponTemplate.aio_get_or_none((CouponTemplate.shop_id == shop_id) & (CouponTemplate.id == template_id)
                                                    & (CouponTemplate.deleted == False))  # noqa: E712
    if template is None:
        raise not_found("coupon")
    return template


async def update_template(shop_id: int, template_id: int, changes: dict) -> dict:
    """Coupons already claimed keep the validity they were given; the rest applies at once."""
    current = await get_template(shop_id, template_id)
    columns = await _template_columns(shop_id, changes, current)
    if columns:
        where = (CouponTemplate.shop_id == shop_id) & (CouponTemplate.id == template_id)
        if columns.get("total_quantity"):  # never below what was claimed meanwhile
            where &= CouponTemplate.claimed_count <= columns["total_quantity"]
        if not await CouponTemplate.update(**columns).where(where).aio_execute():
            raise conflict("quantity_below_claimed", "more coupons were claimed meanwhile; reload and retry")
    return await template_detail(shop_id, template_id)


async def delete_template(shop_id: int, template_id: int) -> None:
    """Stops claiming and issuing; coupons members already hold stay usable until they expire."""
    await get_template(shop_id, template_id)
    await CouponTemplate.update(deleted=True, enabled=False).where(
        (CouponTemplate.shop_id == shop_id) & (CouponTemplate.id == template_id)).aio_execute()


async def template_detail(shop_id: int, template_id: int) -> dict:
    """The template with its stats: claimed, used, and the paid order value it drove (GMV)."""
    template = await get_template(shop_id, template_id)
    driven = MemberCoupon.select(MemberCoupon.order_id).where(MemberCoupon.template_id == template_id)
    gmv = await Order.select(fn.COALESCE(fn.SUM(Order.total_fen), 0)).where(
        (Order.shop_id == shop_id) & Order.id.in_(driven) & Order.status.in_([PAID, SHIPPED, COMPLETED])).aio_scalar()
    expired = await MemberCoupon.select().where((MemberCoupon.template_id == template_id)
                                                & (MemberCoupon.status == COUPON_EXPIRED)).aio_count()
    return {**render_template(template), "stats": {"claimed": template.claimed_count, "used": template.used_count,
                                                   "expired": expired, "gmv_fen": int(gmv)}}


async def list_templates(shop_id: int, page: int, page_size: int) -> dict:
    query = (CouponTemplate.select().where((CouponTemplate.shop_id == shop_id) & (CouponTemplate.deleted == False))  # noqa: E712
             .order_by(CouponTemplate.id.desc()))
    return await paginate(query, page, page_size, render_template)


def _open_for_claiming(now: datetime.datetime):
    return ((CouponTemplate.enabled == True) & (CouponTemplate.deleted == False)  # noqa: E712
            & (CouponTemplate.valid_until.is_null() | (CouponTemplate.valid_until > now))
            & ((CouponTemplate.total_quantity == 0) | (CouponTemplate.claimed_count < CouponTemplate.total_quantity)))


async def claim_centre(shop_id: int, page: int, page_size: int) -> dict:
    query = (CouponTemplate.select().where((CouponTemplate.shop_id == shop_id) & (CouponTemplate.claimable == True)  # noqa: E712
                                           & _open_for_claiming(utcnow()))
             .order_by(CouponTemplate.id.desc()))
    return await paginate(query, page, page_size, render_template)


# ---------------------------------------------------------------- holding coupons
def _validity(template: CouponTemplate, now: datetime.datetime) -> dict:
    if template.valid_days:
        return {"valid_from": now, "valid_until": now + datetime.timedelta(days=template.valid_days)}
    return {"valid_from": template.valid_from, "valid_until": template.valid_until}


def render_coupon(coupon: MemberCoupon, template: CouponTemplate) -> dict:
    status = coupon.status
    if status == COUPON_UNUSED and coupon.valid_until and coupon.valid_until <= utcnow():
        status = COUPON_EXPIRED  # before the expiry job has marked it
    return {"id": coupon.id, "template_id": template.id, "name": template.name, "kind": template.kind,
            "amount_fen": template.amount_fen, "percent_off": template.percent_off,
            "max_discount_fen": template.max_discount_fen, "min_spend_fen": template.min_spend_fen,
            "scope": template.scope, "scope_ids": json.loads(template.scope_ids), "stackable": template.stackable,
            "status": status, "valid_from": iso(coupon.valid_from), "valid_until": iso(coupon.valid_until),
            "order_id": coupon.order_id, "discount_fen": coupon.discount_fen, "source": coupon.source,
            "claimed_at": iso(coupon.claimed_at), "used_at": iso(coupon.used_at)}


async def claim(shop_id: int, member: Member, template_id: int) -> dict:
    now = utcnow()
    async with events.atomic():
        template = await CouponTemplate.aio_get_or_none((CouponTemplate.shop_id == shop_id)
                                                        & (CouponTemplate.id == template_id)
                                                        & (CouponTemplate.claimable == True)  # noqa: E712
                                                        & (CouponTemplate.deleted == False))  # noqa: E712
        if template is None:
            raise not_found("coupon")
        await lock_member(member.id)  # this member's claims one at a time: the limit holds
        if template.per_member_limit:
            held = await MemberCoupon.select().where((MemberCoupon.template_id == template_id)
                                                     & (MemberCoupon.member_id == member.id)).aio_count()
            if held >= template.per_member_limit:
                raise conflict("claim_limit_reached", f"at most {template.per_member_limit} of this coupon per member")
        took = await CouponTemplate.update(claimed_count=CouponTemplate.claimed_count + 1).where(
            (CouponTemplate.id == template_id) & _open_for_claiming(now)).aio_execute()
        if not took:
            raise conflict("coupons_gone", "this coupon is no longer available")
        coupon = await MemberCoupon.aio_create(shop_id=shop_id, template_id=template_id, member_id=member.id,
                                               claimed_at=now, **_validity(template, now))
    return render_coupon(coupon, template)


async def issue(shop_id: int, template_id: int, member_ids: list[int] | None, level_id: int | None) -> dict:
    """The merchant gives coupons to chosen members or to every member of a level. Members at the
    per-member limit are skipped; the rest get one each, or none if too few coupons are left."""
    template = await get_template(shop_id, template_id)
    query = Member.select(Member.id).where((Member.shop_id == shop_id) & (Member.is_active == True))  # noqa: E712
    if member_ids:
        query = query.where(Member.id.in_(member_ids))
    if level_id:
        query = query.where(Member.level_id == level_id)
    targets = [row.id for row in await query.limit(MAX_ISSUE + 1).aio_execute()]
    if len(targets) > MAX_ISSUE:
        raise field_error("member_ids", f"at most {MAX_ISSUE} members per issue")
    if member_ids and len(targets) != len(set(member_ids)):
        raise field_error("member_ids", "unknown or inactive members")
    skipped = 0
    if template.per_member_limit and targets:
        held = {}
        for row in await (MemberCoupon.select(MemberCoupon.member_id, fn.COUNT(MemberCoupon.id)).where(
                (MemberCoupon.template_id == template_id) & MemberCoupon.member_id.in_(targets))
                .group_by(MemberCoupon.member_id).tuples().aio_execute()):
            held[row[0]] = row[1]
        kept = [m for m in targets if held.get(m, 0) < template.per_member_limit]
        skipped, targets = len(targets) - len(kept), kept
    if not targets:
        return {"issued": 0, "skipped": skipped}
    now = utcnow()
    async with events.atomic():
        took = await CouponTemplate.update(claimed_count=CouponTemplate.claimed_count + len(targets)).where(
            (CouponTemplate.id == template_id) & (CouponTemplate.enabled == True) & (CouponTemplate.deleted == False)  # noqa: E712
            & ((CouponTemplate.total_quantity == 0)
               | (CouponTemplate.claimed_count + len(targets) <= CouponTemplate.total_quantity))).aio_execute()
        if not took:
            raise conflict("coupons_gone", f"fewer than {len(targets)} coupons are left to issue")
        validity = _validity(template, now)
        await MemberCoupon.insert_many([{"shop_id": shop_id, "template_id": template_id, "member_id": m,
                                         "source": "issue", "claimed_at": now, **validity} for m in targets]).aio_execute()
        await audit.record(shop_id, "coupon.issue", "coupon", template_id, after={"issued": len(targets)},
                           note=f"level {level_id}" if level_id else f"{len(targets)} members")
    return {"issued": len(targets), "skipped": skipped}


async def my_coupons(shop_id: int, member_id: int, status: str | None, page: int, page_size: int) -> dict:
    now = utcnow()
    query = (MemberCoupon.select(MemberCoupon, CouponTemplate)
             .join(CouponTemplate, on=(CouponTemplate.id == MemberCoupon.template_id))
             .where((MemberCoupon.shop_id == shop_id) & (MemberCoupon.member_id == member_id)))
    still_valid = MemberCoupon.valid_until.is_null() | (MemberCoupon.valid_until > now)
    if status == COUPON_UNUSED:
        query = query.where((MemberCoupon.status == COUPON_UNUSED) & still_valid)
    elif status == COUPON_EXPIRED:
        query = query.where((MemberCoupon.status == COUPON_EXPIRED)
                            | ((MemberCoupon.status == COUPON_UNUSED) & ~still_valid))
    elif status == COUPON_USED:
        query = query.where(MemberCoupon.status == COUPON_USED)
    query = query.order_by(MemberCoupon.id.desc())
    return await paginate(query, page, page_size, lambda c: render_coupon(c, c.coupontemplate))


async def category_paths(shop_id: int, goods: list[Goods]) -> dict[int, set[int]]:
    """goods id -> its category and that category's parent (a coupon for 茶 covers 绿茶)."""
    ids = {g.category_id for g in goods if g.category_id}
    parents = {}
    if ids:
        for row in await Category.select(Category.id, Category.parent_id).where(
                (Category.shop_id == shop_id) & Category.id.in_(list(ids))).aio_execute():
            parents[row.id] = row.parent_id
    return {g.id: {c for c in (g.category_id, parents.get(g.category_id)) if c} for g in goods}


def covers(template: CouponTemplate, goods_id: int, categories: set[int]) -> bool:
    if template.scope == SCOPE_ALL:
        return True
    ids = set(json.loads(template.scope_ids))
    return goods_id in ids if template.scope == SCOPE_GOODS else bool(categories & ids)


async def usable_coupons(shop_id: int, member_id: int, coupon_ids: list[int]) -> list[tuple[MemberCoupon, CouponTemplate]]:
    """The member's unused, currently valid coupons with these ids, or 422 naming the first that is not."""
    now = utcnow()
    found = {}
    rows = await (MemberCoupon.select(MemberCoupon, CouponTemplate)
                  .join(CouponTemplate, on=(CouponTemplate.id == MemberCoupon.template_id))
                  .where((MemberCoupon.shop_id == shop_id) & (MemberCoupon.member_id == member_id)
                         & MemberCoupon.id.in_(coupon_ids)).aio_execute())
    for row in rows:
        found[row.id] = row
    result = []
    for coupon_id in dict.fromkeys(coupon_ids):
        coupon = found.get(coupon_id)
        problem = None
        if coupon is None:
            problem = "unknown coupon"
        elif coupon.status == COUPON_EXPIRED or (coupon.valid_until and coupon.valid_until <= now):
            problem = "this coupon has expired"  # alike whether or not the expiry job has marked it
        elif coupon.status != COUPON_UNUSED:
            problem = f"this coupon is {coupon.status}"
        elif coupon.valid_from and coupon.valid_from > now:
            problem = "this coupon is not valid yet"
        if problem:
            raise coupon_error(problem, coupon_id)
        result.append((coupon, coupon.coupontemplate))
    return result


# ---------------------------------------------------------------- orders
async def use_for_order(order: Order, coupons: list[tuple[int, int]]) -> None:
    """Inside the order's transaction: spend each coupon once; 409 if one was spent meanwhile."""
    now = utcnow()
    for coupon_id, discount in coupons:
        spent = await MemberCoupon.update(status=COUPON_USED, order_id=order.id, used_at=now, discount_fen=discount).where(
            (MemberCoupon.id == coupon_id) & (MemberCoupon.member_id == order.member_id)
            & (MemberCoupon.status == COUPON_UNUSED)
            & (MemberCoupon.valid_until.is_null() | (MemberCoupon.valid_until > now))).aio_execute()
        if not spent:
            raise conflict("coupon_unavailable", "this coupon was just used or has expired", {"coupon_id": coupon_id})
        template_id = await MemberCoupon.select(MemberCoupon.template_id).where(MemberCoupon.id == coupon_id).aio_scalar()
        await CouponTemplate.update(used_count=CouponTemplate.used_count + 1).where(
            CouponTemplate.id == template_id).aio_execute()


async def return_for_order(order: Order) -> int:
    """Inside the cancelling or refunding transaction: the order's coupons become unused again."""
    returned = 0
    for coupon in await MemberCoupon.select().where((MemberCoupon.order_id == order.id)
                                                    & (MemberCoupon.status == COUPON_USED)).aio_execute():
        if await MemberCoupon.update(status=COUPON_UNUSED, order_id=None, used_at=None, discount_fen=0).where(
                (MemberCoupon.id == coupon.id) & (MemberCoupon.status == COUPON_USED)).aio_execute():
            await CouponTemplate.update(used_count=CouponTemplate.used_count - 1).where(
                CouponTemplate.id == coupon.template_id).aio_execute()
            returned += 1
    return returned


async def expire_coupons() -> int:
    """Mark unused coupons past their end as expired (reads already treat them so)."""
    return await MemberCoupon.update(status=COUPON_EXPIRED).where(
        (MemberCoupon.status == COUPON_UNUSED) & (MemberCoupon.valid_until <= utcnow())).aio_execute()


def recharge_bonus(settings, amount_fen: int) -> int:
    """充值满送: the bonus for a recharge of `amount_fen` (best tier reached; 0 if none)."""
    tiers = [t.bonus_fen for t in settings.sale.recharge_bonus if t.min_fen <= amount_fen]
    return max(tiers) if tiers else 0
