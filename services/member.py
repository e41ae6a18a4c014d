"""Shoppers: registration and login, WeChat identities, profile, levels, merchant management.

A member belongs to one shop. WeChat identifies a person per app (mini-program and official
account have different openids) and across the shop's apps by unionid; a member found by one is
linked to the others as they appear.
"""
from __future__ import annotations

import contextlib
import json

import peewee

import events
from events.hub import CONTROL_CHANNEL
from lib.errors import conflict, field_error, not_found, unauthorized
from lib.runtime import current
from models.base import iso, paginate
from models.finance import POINTS, CreditLedger
from models.locks import lock_member
from models.member import Member, MemberLevel
from models.order import COMPLETED
from models.prepared import PreparedGet
from services import credentials, finance, sysset


def render_member(member: Member, merchant: bool = False) -> dict:
    data = {"id": member.id, "shop_id": member.shop_id, "mobile": member.mobile,
            "nickname": member.nickname, "avatar": member.avatar, "gender": member.gender,
            "balance_fen": member.balance_fen, "points": member.points, "level": member.level_id,
            "wechat_bound": bool(member.openid or member.oa_openid), "created_at": iso(member.created_at)}
    if merchant:
        data.update(total_spent_fen=member.total_spent_fen, is_blacklisted=member.is_blacklisted,
                    tags=json.loads(member.tags))
    return data


def session(member: Member) -> dict:
    token = credentials.issue_token("member", member.id, member.token_version, shop_id=member.shop_id)
    return {"token": token, "member": render_member(member)}


async def register(shop_id: int, mobile: str, password: str, nickname: str | None, ip: str | None = None) -> dict:
    """A new member; `ip` (the client's address) is held to the registrations-per-hour limit."""
    limiter = current().registrations
    async with limiter.slot(ip) if limiter is not None else contextlib.nullcontext():
        password_hash = await credentials.hash_password(password)
        try:
            member = await Member.aio_create(shop_id=shop_id, mobile=mobile, password_hash=password_hash,
                                             nickname=nickname or f"用户{mobile[-4:]}")
        except peewee.IntegrityError:
            raise conflict("mobile_taken", "that mobile number is already registered") from None
    return session(member)


async def login(shop_id: int, mobile: str, password: str, ip: str) -> dict:
    member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.mobile == mobile))
    await credentials.check_login("member", f"{shop_id}:{mobile}", ip, member and member.password_hash,
                              password, active=bool(member and member.is_active))
    return session(member)


_member_by_id = PreparedGet(Member, Member.id, Member.shop_id)  # every shopper request: prepared once


async def member_for_token(claims: credentials.Claims) -> Member:
    member = await _member_by_id.get(claims.subject_id, claims.shop_id)
    if member is None or not member.is_active or member.token_version != claims.token_version:
        raise unauthorized("token_revoked", "token is no longer valid")
    return member


async def get_member(shop_id: int, member_id: int) -> Member:
    member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.id == member_id))
    if member is None:
        raise not_found("member")
    return member


# ---------------------------------------------------------------- WeChat identities
async def member_for_wechat(shop_id: int, openid_field: str, openid: str, unionid: str | None,
                            profile: dict) -> Member:
    """The member with this openid (or unionid), created on first login; concurrent first logins
    of one person end with one member."""
    column = getattr(Member, openid_field)
    for _ in range(2):
        member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (column == openid))
        if member is None and unionid:
            member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.unionid == unionid))
            if member is not None:
                await Member.update({column: openid}).where(Member.id == member.id).aio_execute()
        if member is not None:
            if unionid and not member.unionid:
                await Member.update(unionid=unionid).where(Member.id == member.id).aio_execute()
            return await get_member(shop_id, member.id)
        try:
            return await Member.aio_create(shop_id=shop_id, unionid=unionid, **{openid_field: openid},
                                           nickname=profile.get("nickname") or "微信用户",
                                           avatar=profile.get("avatar") or "", gender=profile.get("gender") or 0)
        except peewee.IntegrityError:
            continue  # created by a concurrent login: read it on the next pass
    raise conflict("conflict", "could not create the member; retry")


# ---------------------------------------------------------------- profile
async def update_profile(member: Member, changes: dict) -> dict:
    if changes:
        await Member.update(**changes).where(Member.id == member.id).aio_execute()
    return render_member(await get_member(member.shop_id, member.id))


async def bind_mobile(member: Member, mobile: str, password: str | None, current_password: str | None,
                      ip: str) -> dict:
    """Give a WeChat member a mobile, and optionally a password for mobile login.

    A member who has a password must give it to change it; one who has none yet (signed up
    through WeChat, so the session itself is the WeChat-verified identity) sets the first one with
    the session alone. Setting a password revokes every older token of the member, closes their
    live connections, and answers a fresh `token` for this session."""
    if member.mobile and member.mobile != mobile:
        raise conflict("mobile_already_bound", "this member already has a mobile number")
    changes = {"mobile": mobile}
    if password:
        if member.password_hash:
            await credentials.check_current_password("member", f"{member.shop_id}:{member.mobile}", ip,
                                                 member.password_hash, current_password)
        changes["password_hash"] = await credentials.hash_password(password)
        changes["token_version"] = Member.token_version + 1
    try:
        async with events.atomic():
            await Member.update(**changes).where(Member.id == member.id).aio_execute()
            if password:
                await events.record(CONTROL_CHANNEL, "access.revoked", {"member_id": member.id})
    except peewee.IntegrityError:
        raise conflict("mobile_taken", "that mobile number belongs to another member") from None
    updated = await get_member(member.shop_id, member.id)
    return {**render_member(updated), "token": session(updated)["token"]} if password else render_member(updated)


# ---------------------------------------------------------------- merchant management
async def list_members(shop_id: int, page: int, page_size: int, q: str | None = None, level_id: int | None = None,
                       tag: str | None = None, blacklisted: bool | None = None) -> dict:
    query = Member.select().where(Member.shop_id == shop_id).order_by(Member.id.desc())
    if q:
        query = query.where((Member.mobile.contains(q)) | (Member.nickname.contains(q)))
    if level_id:
        query = query.where(Member.level_id == level_id)
    if tag:
        query = query.where(Member.tags.contains(json.dumps(tag, ensure_ascii=False)))
    if blacklisted is not None:
        query = query.where(Member.is_blacklisted == blacklisted)
    return await paginate(query, page, page_size, lambda m: render_member(m, merchant=True))


async def update_member(shop_id: int, member_id: int, changes: dict) -> dict:
    await get_member(shop_id, member_id)
    if changes.get("level_id") is not None and not await MemberLevel.select().where(
            (MemberLevel.shop_id == shop_id) & (MemberLevel.id == changes["level_id"])).aio_exists():
        raise field_error("level_id", "unknown level")
    if "tags" in changes:
        changes["tags"] = json.dumps(sorted(set(changes["tags"])), ensure_ascii=False)
    if changes:
        await Member.update(**changes).where((Member.shop_id == shop_id) & (Member.id == member_id)).aio_execute()
    return render_member(await get_member(shop_id, member_id), merchant=True)


# ---------------------------------------------------------------- levels
def render_level(level: MemberLevel) -> dict:
    return {"id": level.id, "name": level.name, "threshold_fen": level.threshold_fen,
            "discount_percent": level.discount_percent}


async def get_level(shop_id: int, level_id: int) -> MemberLevel:
    level = await MemberLevel.aio_get_or_none((MemberLevel.shop_id == shop_id) & (MemberLevel.id == level_id))
    if level is None:
        raise not_found("level")
    return level


async def list_levels(shop_id: int) -> list[dict]:
    rows = await MemberLevel.select().where(MemberLevel.shop_id == shop_id).order_by(
        MemberLevel.threshold_fen, MemberLevel.id).aio_execute()
    return [render_level(level) for level in rows]


async def create_level(shop_id: int, fields: dict) -> dict:
    return render_level(await MemberLevel.aio_create(shop_id=shop_id, **fields))


async def update_level(shop_id: int, level_id: int, changes: dict) -> dict:
    await get_level(shop_id, level_id)
    if changes:
        await MemberLevel.update(**changes).where(
            (MemberLevel.shop_id == shop_id) & (MemberLevel.id == level_id)).aio_execute()
    return render_level(await get_level(shop_id, level_id))


async def delete_level(shop_id: int, level_id: int) -> None:
    await get_level(shop_id, level_id)
    async with events.atomic():
        await Member.update(level_id=None).where((Member.shop_id == shop_id) & (Member.level_id == level_id)).aio_execute()
        await MemberLevel.delete().where((MemberLevel.shop_id == shop_id) & (MemberLevel.id == level_id)).aio_execute()


async def note_payment(order, items: list) -> None:
    """`paid` reaction: when the member last paid (the dashboard counts paying members by it)."""
    await Member.update(last_paid_at=order.paid_at).where(Member.id == order.member_id).aio_execute()


async def reward_completion(order, items: list) -> None:
    """`completed` reaction: the order's spending counts toward levels, and the shop's reward
    points per yuan are credited (both taken back by `take_back_completion` on a refund)."""
    kept = order.completed_fen  # paid less what was refunded before completion (fulfilment._complete)
    await record_spending(order.shop_id, order.member_id, kept)
    settings = await sysset.get_settings(order.shop_id)
    earned = kept // 100 * settings.points.points_per_yuan if settings.points.enabled else 0
    if earned:
        await finance.change_credit(order.shop_id, order.member_id, POINTS, earned, "order_reward",
                                    reference=order.order_no)


async def record_spending(shop_id: int, member_id: int, amount_fen: int) -> int | None:
    """Add completed-order spending and move the member up to the highest level it reaches.
    Levels only go up automatically; a merchant can set any level by hand. Returns the level id."""
    async with events.atomic():
        await Member.update(total_spent_fen=Member.total_spent_fen + amount_fen).where(
            (Member.shop_id == shop_id) & (Member.id == member_id)).aio_execute()
        member = await get_member(shop_id, member_id)
        reached = await (MemberLevel.select()
                         .where((MemberLevel.shop_id == shop_id) & (MemberLevel.threshold_fen <= member.total_spent_fen))
                         .order_by(MemberLevel.threshold_fen.desc()).aio_first())
        current = await MemberLevel.aio_get_or_none(MemberLevel.id == member.level_id) if member.level_id else None
        if reached is not None and (current is None or reached.threshold_fen > current.threshold_fen):
            await Member.update(level_id=reached.id).where(Member.id == member_id).aio_execute()
            return reached.id
    return member.level_id


async def take_back_completion(order, items: list) -> None:
    """`refunded` reaction, for an order that had completed: what completing it earned
    goes back — the reward points the ledger shows it gave, its spending, and the level only that
    spending had reached (a level set by hand above the member's spending stays). Runs once
    because the refund's conditional transition does — in proportion to what this refund
    (`order.refund_fen`) gives back of what completion counted; all of it once fully refunded.
    Points already spent: `points.refund_spent_rewards`."""
    if order.previous_status != COMPLETED:
        return
    refund_fen = getattr(order, "refund_fen", order.total_fen)
    counted = order.completed_fen if isinstance(order.completed_fen, int) else order.total_fen
    shop_id, member_id = order.shop_id, order.member_id
    await lock_member(member_id)  # points and spending are read, then written
    member = await get_member(shop_id, member_id)
    earned = await (CreditLedger.select(peewee.fn.SUM(CreditLedger.amount))
                    .where((CreditLedger.shop_id == shop_id) & (CreditLedger.member_id == member_id)
                           & (CreditLedger.currency == POINTS) & (CreditLedger.type == "order_reward")
                           & (CreditLedger.reference == order.order_no)).aio_scalar())
    earned = int(earned or 0)  # MySQL sums to a Decimal

    def kept_points(refunded_fen: int) -> int:  # what stays earned while `refunded_fen` has gone back
        kept = max(0, order.total_fen - refunded_fen)
        return earned * kept // counted if counted > 0 and kept else 0
    due = kept_points(order.refunded_fen - refund_fen) - kept_points(order.refunded_fen)
    if due > 0:
        take = min(due, member.points)
        short = due - take
        if short and (await sysset.get_settings(shop_id)).points.refund_spent_rewards == "refuse":
            raise conflict("reward_points_spent", "the member has spent points this order earned",
                           {"points_earned": earned, "points_due": due, "points_short": short,
                            "points": member.points})
        if take:
            await finance.change_credit(shop_id, member_id, POINTS, -take, "order_reward_reverse",
                                        reference=order.order_no,
                                        remark=f"{short} of {due} points already spent, not taken back" if short else "")
    spent = max(0, member.total_spent_fen - refund_fen)
    changes = {"total_spent_fen": spent}
    current = await MemberLevel.aio_get_or_none(MemberLevel.id == member.level_id) if member.level_id else None
    if current is not None and spent < current.threshold_fen <= member.total_spent_fen:
        reached = await (MemberLevel.select()
                         .where((MemberLevel.shop_id == shop_id) & (MemberLevel.threshold_fen <= spent))
                         .order_by(MemberLevel.threshold_fen.desc()).aio_first())
        changes["level_id"] = reached.id if reached else None
    await Member.update(**changes).where((Member.shop_id == shop_id) & (Member.id == member_id)).aio_execute()


# ---------------------------------------------------------------- referral and commission columns (分销)
async def set_parent(shop_id: int, member_id: int, referrer_id: int) -> bool:
    """Bind the member to its referrer, once (False: it already has one)."""
    return bool(await Member.update(parent_id=referrer_id).where(
        (Member.shop_id == shop_id) & (Member.id == member_id) & Member.parent_id.is_null()).aio_execute())


async def remember_referrer(member_id: int, referrer_id: int) -> None:
    """The referral to bind at the member's first order (while it has no parent yet)."""
    await Member.update(referred_by_id=referrer_id).where(
        (Member.id == member_id) & Member.parent_id.is_null()).aio_execute()


async def move_frozen_commission(member_id: int, delta_fen: int) -> None:
    """Commission earned but not yet withdrawable (frozen until the order's refund window ends)."""
    await Member.update(commission_frozen_fen=Member.commission_frozen_fen + delta_fen).where(
        Member.id == member_id).aio_execute()
