"""Merchant staff accounts: login and token checks. Roles and staff management grow in perm/user."""
from __future__ import annotations

import json

from lib.errors import unauthorized
from models.user import Staff
from services import account
from services import shop as shop_service


def render_staff(staff: Staff) -> dict:
    return {"id": staff.id, "username": staff.username, "is_owner": staff.is_owner,
            "permissions": ["*"] if staff.is_owner else json.loads(staff.permissions)}


async def login_staff(username: str, password: str, ip: str) -> dict:
    staff = await Staff.aio_get_or_none(Staff.username == username)
    await account.check_login("merchant", username, ip, staff and staff.password_hash, password,
                              active=bool(staff and staff.is_active))
    await shop_service.active_shop(staff.shop_id)
    token = account.issue_token("merchant", staff.id, staff.token_version, shop_id=staff.shop_id)
    return {"token": token, "shop_id": staff.shop_id, "staff": render_staff(staff)}


async def staff_for_token(claims: account.Claims) -> Staff:
    staff = await Staff.aio_get_or_none((Staff.id == claims.subject_id) & (Staff.shop_id == claims.shop_id))
    if staff is None or not staff.is_active or staff.token_version != claims.token_version:
        raise unauthorized("token_revoked", "token is no longer valid")
    return staff


def has_permission(staff: Staff, permission: str) -> bool:
    return staff.is_owner or permission in json.loads(staff.permissions)
