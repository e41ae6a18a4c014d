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
from lib.errors import conflict, field_error, not_found, unauthorized
from models.base import iso, paginate
from models.member import Member, MemberLevel
from services import account
from services.runtime import current


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
    token = account.issue_token("member", member.id, member.token_version, shop_id=member.shop_id)
    return {"token": token, "member": render_member(member)}


async def register(shop_id: int, mobile: str, password: str, nickname: str | None, ip: str | None = None) -> dict:
    """A new member; `ip` (the client's address) is held to the registrations-per-hour limit."""
    limiter = current().registrations
    async with limiter.slot(ip) if limiter is not None else contextlib.nullcontext():
        password_hash = await account.hash_password(password)
        try:
            member = await Member.aio_create(shop_id=shop_id, mobile=mobile, password_hash=password_hash,
                                             nickname=nickname or f"用户{mobile[-4:]}")
        except peewee.IntegrityError:
            raise conflict("mobile_taken", "that mobile number is already registered") from None
    return session(member)


async def login(shop_id: int, mobile: str, password: str, ip: str) -> dict:
    member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.mobile == mobile))
    await account.check_login("member", f"{shop_id}:{mobile}", ip, member and member.password_hash,
                              password, active=bool(member and member.is_active))
    return session(member)


async def member_for_token(claims: account.Claims) -> Member:
    member = await Member.aio_get_or_none((Member.id == claims.subject_id) & (Member.shop_id == claims.shop_id))
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


async def bind_mobile(member: Member, mobile: str, password: str | None) -> dict:
    """Give a WeChat member a mobile (and optionally a password for mobile login)."""
    if member.mobile and member.mobile != mobile:
        raise conflict("mobile_already_bound", "this member already has a mobile number")
    changes = {"mobile": mobile}
    if password:
        changes["password_hash"] = await account.hash_password(password)
    try:
        await Member.update(**changes).where(Member.id == member.id).aio_execute()
    except peewee.IntegrityError:
        raise conflict("mobile_taken", "that mobile number belongs to another member") from None
    return render_member(await get_member(member.shop_id, member.id))


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


async def lock_member(member_id: int) -> None:
    """Inside a transaction: take the member's row lock, so rules that count the member's own
    rows (purchase limits, one unpaid group order, coupon claim limits) hold under concurrency."""
    await Member.update(token_version=Member.token_version).where(Member.id == member_id).aio_execute()
