"""Merchant staff accounts: login, token checks, and staff management by the shop.

A staff member's tokens stop working the moment they are disabled or their password changes
(`token_version` bump, checked on every request and WebSocket auth), and their open WebSocket
connections are closed through the `control` bus message in every process; a change of what
staff hold (their keys, their role, a role's keys) sends `access.changed`, so every process
re-checks their live subscriptions.

Managing staff never reaches beyond the manager's own authority: a non-owner can only hand out
keys they hold, and can only change (password, keys, role, active, name) a colleague who holds
nothing they lack — otherwise resetting a stronger colleague's password and signing in as them
would be an escalation. A role is edited only by someone holding every key of the role and of
each of its holders. Nobody but the owner touches the owner's credentials.
"""
from __future__ import annotations

import json

import peewee

import events
from events.control import CONTROL_CHANNEL
from lib.errors import conflict, forbidden, not_found, unauthorized
from models.base import iso, paginate
from models.user import Role, Staff
from services import audit, credentials, perm
from services import shop as shop_service


def render_staff(staff: Staff) -> dict:
    return {"id": staff.id, "username": staff.username, "name": staff.name, "is_owner": staff.is_owner,
            "is_active": staff.is_active, "role_id": staff.role_id,
            "permissions": ["*"] if staff.is_owner else json.loads(staff.permissions),
            "effective_permissions": sorted(getattr(staff, "permission_set", None) or perm.effective(staff, None)),
            "created_at": iso(staff.created_at)}


async def login_staff(username: str, password: str, ip: str) -> dict:
    staff = await Staff.aio_get_or_none(Staff.username == username)
    await credentials.check_login("merchant", username, ip, staff and staff.password_hash, password,
                              active=bool(staff and staff.is_active))
    await shop_service.active_shop(staff.shop_id)
    token = credentials.issue_token("merchant", staff.id, staff.token_version, shop_id=staff.shop_id)
    await _load_permissions(staff)
    return {"token": token, "shop_id": staff.shop_id, "staff": render_staff(staff)}


async def _load_permissions(staff: Staff) -> Staff:
    role = await Role.aio_get_or_none(Role.id == staff.role_id) if staff.role_id and not staff.is_owner else None
    staff.permission_set = perm.effective(staff, role)
    return staff


async def staff_for_token(claims: credentials.Claims) -> Staff:
    staff = await Staff.aio_get_or_none((Staff.id == claims.subject_id) & (Staff.shop_id == claims.shop_id))
    if staff is None or not staff.is_active or staff.token_version != claims.token_version:
        raise unauthorized("token_revoked", "token is no longer valid")
    return await _load_permissions(staff)


def has_permission(staff: Staff, permission: str) -> bool:
    granted = getattr(staff, "permission_set", None)
    return staff.is_owner or permission in (granted if granted is not None else json.loads(staff.permissions))


# ---------------------------------------------------------------- management
async def get_staff(shop_id: int, staff_id: int) -> Staff:
    staff = await Staff.aio_get_or_none((Staff.shop_id == shop_id) & (Staff.id == staff_id))
    if staff is None:
        raise not_found("staff")
    return await _load_permissions(staff)


async def list_staff(shop_id: int, page: int, page_size: int) -> dict:
    return await paginate(Staff.select().where(Staff.shop_id == shop_id).order_by(Staff.id), page, page_size,
                          render_staff)


def _check_grant(actor: Staff, keys: list[str]) -> list[str]:
    keys = perm.check_keys(keys)
    if not actor.is_owner:
        beyond = sorted(set(keys) - actor.permission_set)
        if beyond:
            raise forbidden("permission_denied", f"you cannot grant permissions you do not hold: {beyond}")
    return keys


async def _check_role(actor: Staff, shop_id: int, role_id: int | None) -> None:
    if role_id is not None:
        role = await perm.get_role(shop_id, role_id)
        _check_grant(actor, json.loads(role.permissions))


async def create_staff(actor: Staff, fields: dict) -> dict:
    keys = _check_grant(actor, fields.get("permissions", []))
    await _check_role(actor, actor.shop_id, fields.get("role_id"))
    password_hash = await credentials.hash_password(fields["password"])
    try:
        async with events.atomic():
            staff = await Staff.aio_create(shop_id=actor.shop_id, username=fields["username"], name=fields.get("name", ""),
                                           password_hash=password_hash, permissions=json.dumps(keys),
                                           role_id=fields.get("role_id"))
            await audit.record(actor.shop_id, "staff.create", "staff", staff.id, after={
                "username": staff.username, "permissions": keys, "role_id": staff.role_id})
    except peewee.IntegrityError:
        raise conflict("username_taken", "that username is already in use") from None
    return render_staff(await get_staff(actor.shop_id, staff.id))


def _check_manage(actor: Staff, target: Staff) -> None:
    """`actor` may change `target`'s account only if `target` holds nothing `actor` lacks."""
    if target.is_owner and not actor.is_owner:
        raise forbidden("permission_denied", "only the owner can change the owner's account")
    if actor.is_owner or target.id == actor.id:
        return
    beyond = sorted(target.permission_set - actor.permission_set)
    if beyond:
        raise forbidden("permission_denied", f"this colleague holds permissions you do not hold: {beyond}")


async def update_staff(actor: Staff, staff_id: int, changes: dict, ip: str) -> dict:
    """Name, role, permissions, password, active. Disabling or a new password revokes the
    staff member's tokens and closes their live connections at once. Changing one's own password
    needs the current one; the answer then carries a fresh `token` (the old ones are revoked)."""
    target = await get_staff(actor.shop_id, staff_id)
    _check_manage(actor, target)
    if target.is_owner and changes.get("is_active") is False:
        raise conflict("owner_required", "the owner cannot be disabled")
    if target.id == actor.id and ("permissions" in changes or "role_id" in changes) and not actor.is_owner:
        raise forbidden("permission_denied", "you cannot change your own permissions")
    own_password = target.id == actor.id and bool(changes.get("password"))
    if own_password:
        await credentials.check_current_password("merchant", target.username, ip, target.password_hash,
                                             changes.get("current_password"))
    columns: dict = {}
    if "name" in changes:
        columns["name"] = changes["name"]
    if "permissions" in changes:
        columns["permissions"] = json.dumps(_check_grant(actor, changes["permissions"]))
    if "role_id" in changes:
        await _check_role(actor, actor.shop_id, changes["role_id"])
        columns["role_id"] = changes["role_id"]
    revoke = False
    if changes.get("password"):
        columns["password_hash"] = await credentials.hash_password(changes["password"])
        revoke = True
    if "is_active" in changes and changes["is_active"] != target.is_active:
        columns["is_active"] = changes["is_active"]
        revoke = revoke or not changes["is_active"]
    if not columns:
        return render_staff(target)
    if revoke:
        columns["token_version"] = Staff.token_version + 1
    before = {k: getattr(target, k) for k in ("name", "permissions", "role_id", "is_active")}
    async with events.atomic():
        await Staff.update(**columns).where((Staff.shop_id == actor.shop_id) & (Staff.id == staff_id)).aio_execute()
        after = await get_staff(actor.shop_id, staff_id)
        await audit.record(actor.shop_id, "staff.update", "staff", staff_id, before,
                           {**{k: getattr(after, k) for k in before}, **({"password": "x"} if changes.get("password") else {})})
        if revoke:
            await events.record(CONTROL_CHANNEL, "access.revoked", {"staff_id": staff_id})
        if "permissions" in columns or "role_id" in columns:
            await events.record(CONTROL_CHANNEL, "access.changed", {"shop_id": actor.shop_id})
    rendered = render_staff(after)
    if own_password:
        rendered["token"] = credentials.issue_token("merchant", after.id, after.token_version, shop_id=after.shop_id)
    return rendered


# ---------------------------------------------------------------- roles (audited)
async def _check_role_edit(actor: Staff, shop_id: int, role_id: int) -> None:
    """Editing a role edits everyone holding it: the actor must hold the role's keys and every
    key of each holder."""
    role = await perm.get_role(shop_id, role_id)
    if actor.is_owner:
        return
    _check_grant(actor, json.loads(role.permissions))
    holders = await Staff.select().where((Staff.shop_id == shop_id) & (Staff.role_id == role_id)).aio_execute()
    for holder in holders:
        holder.permission_set = perm.effective(holder, role)
        _check_manage(actor, holder)


async def create_role(shop_id: int, name: str, permissions: list[str], actor: Staff) -> dict:
    _check_grant(actor, permissions)
    async with events.atomic():
        role = await perm.create_role(shop_id, name, permissions)
        await audit.record(shop_id, "role.create", "role", role["id"], after=role)
    return role


async def update_role(shop_id: int, role_id: int, changes: dict, actor: Staff) -> dict:
    await _check_role_edit(actor, shop_id, role_id)
    if "permissions" in changes:
        _check_grant(actor, changes["permissions"])
    async with events.atomic():
        before, after = await perm.update_role(shop_id, role_id, changes)
        await audit.record(shop_id, "role.update", "role", role_id, before, after)
        if before["permissions"] != after["permissions"]:
            await events.record(CONTROL_CHANNEL, "access.changed", {"shop_id": shop_id})
    return after


async def delete_role(shop_id: int, role_id: int, actor: Staff) -> None:
    await _check_role_edit(actor, shop_id, role_id)
    async with events.atomic():
        before = perm.render_role(await perm.get_role(shop_id, role_id))
        await perm.delete_role(shop_id, role_id)
        await audit.record(shop_id, "role.delete", "role", role_id, before)
