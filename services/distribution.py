"""Distribution (分销): distributors, referral binding, and commissions.

- A member applies; the merchant approves (or the shop approves automatically). Only approved
  distributors refer and earn.
- Binding: a member's `parent_id` is set once (conditional `parent_id IS NULL`), to an approved
  distributor of the same shop who is not the member and not below the member in the chain
  (that would close a loop: 409 `referral_cycle`). The check walks the referrer's whole chain and
  binds in one transaction holding the shop row's lock, so two binds that would each close a loop
  (A to B and B to A at the same moment) run one after the other and the second is refused. With
  `bind_on = "first_order"` the share link only records `referred_by_id`, and the parent is fixed
  when the member places their first order.
- Commission, at payment, in the payment's transaction: up to `levels` distributors up the chain
  (level 1 is the buyer's parent, or the buyer when `self_purchase` is on and the buyer is a
  distributor) each get `rate x base`, where base is what the buyer paid for goods (total minus
  shipping), split over the lines as the order's line shares (services/orders/shares.py: what each
  line was actually paid, the same amounts after-sales refund from) so a per-goods rate applies to
  its own line. Each amount is recorded frozen (Member.commission_frozen_fen) with a unique
  (order, level) row that keeps each line's part.
- Settlement (job): N days after the order completes without an open refund, frozen -> settled,
  moved to the withdrawable `commission` currency with a ledger row; a refund first reverses
  frozen rows — line by line, each at its own commission. Every move is a conditional UPDATE on
  the commission row, so each happens once.
"""
from __future__ import annotations

import datetime
import json

import peewee

import events
from lib.errors import conflict, field_error, not_found
from models.aftersale import OPEN, AfterSale
from models.base import iso, paginate, utcnow
from models.distribution import (
    COMMISSION_FROZEN,
    COMMISSION_REVERSED,
    COMMISSION_SETTLED,
    DIST_APPROVED,
    DIST_PENDING,
    DIST_REJECTED,
    Commission,
    Distributor,
)
from models.finance import COMMISSION
from models.goods import Goods
from models.locks import lock_shop
from models.member import Member
from models.order import COMPLETED, REFUND_FULL, Order
from services import audit, finance, sysset
from services import member as member_service
from services.orders import shares

JOB_BATCH = 200


# ---------------------------------------------------------------- distributors
def render_distributor(row: Distributor, member: Member | None = None) -> dict:
    data = {"id": row.id, "member_id": row.member_id, "status": row.status, "real_name": row.real_name,
            "mobile": row.mobile, "reject_reason": row.reject_reason, "created_at": iso(row.created_at),
            "approved_at": iso(row.approved_at)}
    if member is not None:
        data.update(nickname=member.nickname, avatar=member.avatar, commission_fen=member.commission_fen,
                    commission_frozen_fen=member.commission_frozen_fen)
    return data


async def apply(shop_id: int, member: Member, real_name: str, mobile: str) -> dict:
    settings = await sysset.get_settings(shop_id)
    if not settings.distribution.enabled:
        raise conflict("distribution_disabled", "this shop has no distribution programme")
    status = DIST_APPROVED if settings.distribution.auto_approve else DIST_PENDING
    now = utcnow()
    existing = await Distributor.aio_get_or_none(Distributor.member_id == member.id)
    if existing is None:
        try:
            await Distributor.aio_create(shop_id=shop_id, member_id=member.id, status=status, real_name=real_name,
                                         mobile=mobile, approved_at=now if status == DIST_APPROVED else None)
        except peewee.IntegrityError:  # a concurrent application won: answer as for a repeat
            raise conflict("already_applied", "you have applied already") from None
    elif existing.status == DIST_REJECTED:  # apply again after a rejection
        await Distributor.update(status=status, real_name=real_name, mobile=mobile, reject_reason="",
                                 approved_at=now if status == DIST_APPROVED else None).where(
            (Distributor.id == existing.id) & (Distributor.status == DIST_REJECTED)).aio_execute()
    else:
        raise conflict("already_applied", f"your application is {existing.status}")
    return render_distributor(await Distributor.aio_get(Distributor.member_id == member.id))


async def review(shop_id: int, distributor_id: int, approve: bool, reason: str = "") -> dict:
    row = await Distributor.aio_get_or_none((Distributor.shop_id == shop_id) & (Distributor.id == distributor_id))
    if row is None:
        raise not_found("distributor")
    changes = {"status": DIST_APPROVED, "approved_at": utcnow()} if approve else \
        {"status": DIST_REJECTED, "reject_reason": reason}
    async with events.atomic():
        if not await Distributor.update(**changes).where((Distributor.id == distributor_id)
                                                         & (Distributor.status == DIST_PENDING)).aio_execute():
            raise conflict("invalid_state", f"this application is {row.status}")
        await audit.record(shop_id, f"distributor.{'approve' if approve else 'reject'}", "distributor", distributor_id,
                           {"status": DIST_PENDING}, {"status": changes["status"]}, note=reason)
    return render_distributor(await Distributor.aio_get(Distributor.id == distributor_id))


async def list_distributors(shop_id: int, status: str | None, page: int, page_size: int) -> dict:
    query = (Distributor.select(Distributor, Member).join(Member, on=(Member.id == Distributor.member_id))
             .where(Distributor.shop_id == shop_id).order_by(Distributor.id.desc()))
    if status:
        query = query.where(Distributor.status == status)
    return await paginate(query, page, page_size, lambda row: render_distributor(row, row.member))


async def _approved(member_id: int | None) -> bool:
    if member_id is None:
        return False
    return await Distributor.select().where((Distributor.member_id == member_id)
                                            & (Distributor.status == DIST_APPROVED)).aio_exists()


# ---------------------------------------------------------------- binding
async def _ancestors(member_id: int, depth: int = 3) -> list[int]:
    """The member's parent, grandparent, ... up to `depth` (stops at a loop, which binding prevents)."""
    chain, current = [], member_id
    for _ in range(depth):
        parent = await Member.select(Member.parent_id).where(Member.id == current).aio_scalar()
        if parent is None or parent in chain or parent == member_id:
            break
        chain.append(parent)
        current = parent
    return chain


BOUND, HAS_PARENT, CYCLE = "bound", "has_parent", "cycle"


async def _set_parent(shop_id: int, member_id: int, referrer_id: int) -> str:
    """Inside a transaction: bind once, unless the referrer is the member or one of the member's
    descendants. Takes the shop's bind lock first; the whole chain is walked (no depth cut-off)."""
    await lock_shop(shop_id)  # the loop check below sees every bind committed before it
    chain, current = {referrer_id}, referrer_id
    while True:
        if current == member_id:
            return CYCLE
        current = await Member.select(Member.parent_id).where(
            (Member.shop_id == shop_id) & (Member.id == current)).aio_scalar()
        if current is None or current in chain:
            break
        chain.add(current)
    return BOUND if await member_service.set_parent(shop_id, member_id, referrer_id) else HAS_PARENT


async def bind(shop_id: int, member: Member, referrer_id: int) -> dict:
    """The member arrived through a distributor's share link or QR code (scene param)."""
    settings = await sysset.get_settings(shop_id)
    referrer = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.id == referrer_id))
    if referrer is None or not settings.distribution.enabled or not await _approved(referrer_id):
        raise not_found("distributor")
    if referrer_id == member.id:
        raise field_error("referrer_id", "that is you")
    if settings.distribution.bind_on == "first_order":
        has_ordered = await Order.select().where(Order.member_id == member.id).aio_exists()
        if not has_ordered:
            await member_service.remember_referrer(member.id, referrer_id)
    else:
        if await events.transaction(lambda: _set_parent(shop_id, member.id, referrer_id)) == CYCLE:
            raise conflict("referral_cycle", "that distributor was referred by you (directly or further down): "
                                             "binding would make a loop", {"referrer_id": referrer_id})
    parent = await Member.select(Member.parent_id).where(Member.id == member.id).aio_scalar()
    return {"parent_id": parent}


async def bind_on_first_order(order: Order, items: list) -> None:
    """`placed` reaction: with binding on first order, the pending referral sticks
    now (unless it would close a loop: then the member stays unbound, the order goes on)."""
    settings = (await sysset.get_settings(order.shop_id)).distribution
    if not settings.enabled or settings.bind_on != "first_order":
        return
    member = await Member.select(Member.id, Member.parent_id, Member.referred_by_id).where(
        Member.id == order.member_id).aio_first()
    if member.parent_id is None and member.referred_by_id is not None:
        if not await Order.select().where((Order.member_id == member.id) & (Order.id != order.id)).aio_exists():
            await _set_parent(order.shop_id, member.id, member.referred_by_id)


# ---------------------------------------------------------------- commission
async def freeze_commission(order: Order, items: list) -> None:
    """`paid` reaction: frozen commission for each distributor up the chain."""
    settings = (await sysset.get_settings(order.shop_id)).distribution
    if not settings.enabled:
        return
    buyer_is_distributor = settings.self_purchase and await _approved(order.member_id)
    chain = ([order.member_id] if buyer_is_distributor else []) + await _ancestors(order.member_id, settings.levels)
    earners = chain[:settings.levels]
    if not earners:
        return
    overrides = {g.id: json.loads(g.commission_rates_bp) for g in await Goods.select(Goods.id, Goods.commission_rates_bp)
                 .where(Goods.id.in_([i.goods_id for i in items]) & Goods.commission_rates_bp.is_null(False)).aio_execute()}
    paid_goods = shares.goods_and_shipping(order.total_fen, order.shipping_fee_fen)[0]
    bases = shares.line_shares(order.total_fen, order.shipping_fee_fen, list(items))
    for level, member_id in enumerate(earners, start=1):
        if not await _approved(member_id):
            continue  # a lapsed distributor in the chain earns nothing; the others still do
        lines = {}
        for item, base in zip(items, bases):
            rates = overrides.get(item.goods_id, settings.rates_bp)
            rate = rates[level - 1] if level <= len(rates) else 0
            lines[str(item.id)] = [base, base * rate // 10000, 0]  # base, commission, refunded so far
        amount = sum(line[1] for line in lines.values())
        if amount <= 0:
            continue
        await Commission.aio_create(shop_id=order.shop_id, order_id=order.id, order_no=order.order_no,
                                    buyer_id=order.member_id, member_id=member_id, level=level, base_fen=paid_goods,
                                    amount_fen=amount, lines=json.dumps(lines))
        await member_service.move_frozen_commission(member_id, amount)
        await events.record(f"member:{member_id}", "commission.created",
                            {"order_no": order.order_no, "level": level, "amount_fen": amount})


def _kept(amount: int, base: int, refunded: int) -> int:
    """What stays earned of `amount` on `base` once `refunded` of the base has gone back."""
    return amount * max(0, base - refunded) // base if base > 0 else 0


async def reverse_commission(order: Order, items: list) -> None:
    """`refunded` reaction: the commission of what was refunded is taken back, line by line — each
    refunded line (`items`: the refunded units, `total_fen` the money they got back) at its own
    commission, in proportion to the money the line got back of what it was paid (all of it once
    the order is fully refunded), once per refund. Frozen commission shrinks (`amount_fen` is what
    stays earned, `reversed_fen` what went back; reversed when nothing stays); settled commission
    gets a negative ledger entry (as much as the distributor still holds; the row notes any shortfall)."""
    full = order.refund_status == REFUND_FULL
    refunded: dict[str, int] = {}
    for item in items:
        refunded[str(item.id)] = refunded.get(str(item.id), 0) + item.total_fen
    for row in await Commission.select().where((Commission.order_id == order.id)
                                               & (Commission.status != COMMISSION_REVERSED)).aio_execute():
        changes: dict = {}
        if row.lines is None:  # frozen before lines were kept: the whole order as one line
            earned = row.amount_fen + row.reversed_fen  # what this row earned at payment
            kept_goods = 0 if full else max(0, row.base_fen - order.refunded_fen)
            due = earned - (earned * kept_goods // row.base_fen if row.base_fen else 0) - row.reversed_fen
        else:
            lines, due = json.loads(row.lines), 0
            for key, (base, amount, before) in lines.items():
                after = base if full else min(base, before + refunded.get(key, 0))
                due += _kept(amount, base, before) - _kept(amount, base, after)
                lines[key] = [base, amount, after]
            changes["lines"] = json.dumps(lines)
        due = row.amount_fen if full else min(due, row.amount_fen)
        if due <= 0 and not changes:
            continue
        changes.update(amount_fen=row.amount_fen - due, reversed_fen=row.reversed_fen + due)
        if row.status == COMMISSION_FROZEN and 0 < due == row.amount_fen:
            changes.update(status=COMMISSION_REVERSED, reversed_at=utcnow())
        if not await Commission.update(**changes).where(
                (Commission.id == row.id) & (Commission.status == row.status)
                & (Commission.amount_fen == row.amount_fen)).aio_execute() or due <= 0:
            continue  # (nothing due this time: only the lines' refunded money was noted)
        if row.status == COMMISSION_FROZEN:
            await member_service.move_frozen_commission(row.member_id, -due)
            continue
        held = await Member.select(Member.commission_fen).where(Member.id == row.member_id).aio_scalar()
        take = min(due, held or 0)
        if take:
            await finance.change_credit(row.shop_id, row.member_id, COMMISSION, -take, "commission_reverse",
                                        reference=order.order_no,
                                        remark=f"{due - take} of {due} already withdrawn" if take < due else "")


async def settle_commissions() -> int:
    """Frozen commission of orders completed at least `settle_days` ago, with no open refund,
    becomes withdrawable. Safe to run twice at once: each row moves once."""
    due = await (Commission.select(Commission, Order.completed_at.alias("completed_at"))
                 .join(Order, on=(Order.id == Commission.order_id))
                 .where((Commission.status == COMMISSION_FROZEN) & (Order.status == COMPLETED)
                        & (Order.refund_status != REFUND_FULL)
                        & Order.id.not_in(AfterSale.select(AfterSale.order_id).where(AfterSale.status.in_(OPEN))))
                 .order_by(Commission.id).limit(JOB_BATCH).objects().aio_execute())
    settled = 0
    settings_by_shop: dict[int, sysset.Settings] = {}
    for row in due:
        if row.shop_id not in settings_by_shop:
            settings_by_shop[row.shop_id] = await sysset.get_settings(row.shop_id)
        days = settings_by_shop[row.shop_id].distribution.settle_days
        if row.completed_at > utcnow() - datetime.timedelta(days=days):
            continue
        async with events.atomic():
            if await Commission.update(status=COMMISSION_SETTLED, settled_at=utcnow()).where(
                    (Commission.id == row.id) & (Commission.status == COMMISSION_FROZEN)).aio_execute():
                await member_service.move_frozen_commission(row.member_id, -row.amount_fen)
                await finance.change_credit(row.shop_id, row.member_id, COMMISSION, row.amount_fen, "commission_settle",
                                            reference=row.order_no)
                settled += 1
    return settled


# ---------------------------------------------------------------- distributor centre
def render_commission(row: Commission) -> dict:
    return {"id": row.id, "order_id": row.order_id, "order_no": row.order_no, "buyer_id": row.buyer_id,
            "level": row.level, "base_fen": row.base_fen, "amount_fen": row.amount_fen, "status": row.status,
            "created_at": iso(row.created_at), "settled_at": iso(row.settled_at), "reversed_at": iso(row.reversed_at)}


async def centre(shop_id: int, member: Member) -> dict:
    row = await Distributor.aio_get_or_none((Distributor.shop_id == shop_id) & (Distributor.member_id == member.id))
    fresh = await Member.aio_get(Member.id == member.id)
    direct = Member.select(Member.id).where(Member.parent_id == member.id)
    team = {"level1": await direct.aio_count(),
            "level2": await Member.select().where(Member.parent_id.in_(direct)).aio_count()}
    withdrawn = await finance.withdrawn_total(member.id, COMMISSION)
    return {"distributor": render_distributor(row) if row else None, "parent_id": fresh.parent_id, "team": team,
            "commission": {"frozen_fen": fresh.commission_frozen_fen, "withdrawable_fen": fresh.commission_fen,
                           "withdrawn_fen": withdrawn}}


async def my_team(shop_id: int, member_id: int, level: int, page: int, page_size: int) -> dict:
    query = Member.select().where((Member.shop_id == shop_id) & (Member.parent_id == member_id))
    if level == 2:
        query = Member.select().where((Member.shop_id == shop_id) & Member.parent_id.in_(
            Member.select(Member.id).where(Member.parent_id == member_id)))
    return await paginate(query.order_by(Member.id.desc()), page, page_size,
                          lambda m: {"id": m.id, "nickname": m.nickname, "avatar": m.avatar,
                                     "created_at": iso(m.created_at)})


async def my_commissions(shop_id: int, member_id: int, status: str | None, page: int, page_size: int) -> dict:
    query = Commission.select().where((Commission.shop_id == shop_id) & (Commission.member_id == member_id))
    if status in (COMMISSION_FROZEN, COMMISSION_SETTLED, COMMISSION_REVERSED):
        query = query.where(Commission.status == status)
    return await paginate(query.order_by(Commission.id.desc()), page, page_size, render_commission)
