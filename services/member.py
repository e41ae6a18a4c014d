"""Shoppers: registration and login by mobile, profile reads, merchant listings."""
from __future__ import annotations

import peewee

from lib.errors import conflict, not_found, unauthorized
from models.base import iso, paginate
from models.member import Member
from services import account


def render_member(member: Member) -> dict:
    return {"id": member.id, "shop_id": member.shop_id, "mobile": member.mobile,
            "nickname": member.nickname, "avatar": member.avatar,
            "balance_fen": member.balance_fen, "points": member.points,
            "level": member.level_id, "created_at": iso(member.created_at)}


async def register(shop_id: int, mobile: str, password: str, nickname: str | None) -> dict:
    password_hash = await account.hash_password(password)
    try:
        member = await Member.aio_create(shop_id=shop_id, mobile=mobile, password_hash=password_hash,
                                         nickname=nickname or f"用户{mobile[-4:]}")
    except peewee.IntegrityError:
        raise conflict("mobile_taken", "that mobile number is already registered") from None
    token = account.issue_token("member", member.id, member.token_version, shop_id=shop_id)
    return {"token": token, "member": render_member(member)}


async def login(shop_id: int, mobile: str, password: str, ip: str) -> dict:
    member = await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.mobile == mobile))
    await account.check_login("member", f"{shop_id}:{mobile}", ip, member and member.password_hash,
                              password, active=bool(member and member.is_active))
    token = account.issue_token("member", member.id, member.token_version, shop_id=shop_id)
    return {"token": token, "member": render_member(member)}


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


async def list_members(shop_id: int, page: int, page_size: int, q: str | None = None) -> dict:
    query = Member.select().where(Member.shop_id == shop_id).order_by(Member.id.desc())
    if q:
        query = query.where((Member.mobile.contains(q)) | (Member.nickname.contains(q)))
    return await paginate(query, page, page_size, render_member)
