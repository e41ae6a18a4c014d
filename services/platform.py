"""Platform administration: the platform's admin users and its settings document."""
from __future__ import annotations

import json

import peewee
import pydantic

from lib.errors import conflict, invalid, not_found, unauthorized
from models.base import iso, paginate, utcnow
from models.system import AdminUser, PlatformSettings
from services import credentials


async def create_or_update_admin(username: str, password: str) -> tuple[AdminUser, bool]:
    """Create the admin, or set a new password (and revoke old tokens) if it exists."""
    password_hash = await credentials.hash_password(password)
    admin = await AdminUser.aio_get_or_none(AdminUser.username == username)
    if admin is None:
        return await AdminUser.aio_create(username=username, password_hash=password_hash), True
    await AdminUser.update(
        password_hash=password_hash, token_version=AdminUser.token_version + 1, is_active=True
    ).where(AdminUser.id == admin.id).aio_execute()
    return admin, False


async def login_admin(username: str, password: str, ip: str) -> dict:
    admin = await AdminUser.aio_get_or_none(AdminUser.username == username)
    await credentials.check_login("admin", username, ip, admin and admin.password_hash, password,
                              active=bool(admin and admin.is_active))
    return {"token": credentials.issue_token("admin", admin.id, admin.token_version)}


async def admin_for_token(claims: credentials.Claims) -> AdminUser:
    admin = await AdminUser.aio_get_or_none(AdminUser.id == claims.subject_id)
    if admin is None or not admin.is_active or admin.token_version != claims.token_version:
        raise unauthorized("token_revoked", "token is no longer valid")
    return admin


# ---------------------------------------------------------------- platform users
def render_admin(admin: AdminUser) -> dict:
    return {"id": admin.id, "username": admin.username, "is_active": admin.is_active,
            "created_at": iso(admin.created_at)}


async def list_admins(page: int, page_size: int) -> dict:
    return await paginate(AdminUser.select().order_by(AdminUser.id), page, page_size, render_admin)


async def create_admin(username: str, password: str) -> dict:
    password_hash = await credentials.hash_password(password)
    try:
        admin = await AdminUser.aio_create(username=username, password_hash=password_hash)
    except peewee.IntegrityError:
        raise conflict("username_taken", "that username is already in use") from None
    return render_admin(admin)


async def update_admin(acting: AdminUser, admin_id: int, changes: dict, ip: str) -> dict:
    """Password or active flag; either revokes the admin's tokens. Nobody disables themselves
    (so the platform always keeps someone who can sign in). Changing one's own password needs
    the current one; the answer then carries a fresh `token`."""
    admin = await AdminUser.aio_get_or_none(AdminUser.id == admin_id)
    if admin is None:
        raise not_found("admin")
    if admin.id == acting.id and changes.get("is_active") is False:
        raise conflict("cannot_disable_self", "you cannot disable your own account")
    own_password = admin.id == acting.id and bool(changes.get("password"))
    if own_password:
        await credentials.check_current_password("admin", admin.username, ip, admin.password_hash,
                                             changes.get("current_password"))
    columns: dict = {}
    if changes.get("password"):
        columns["password_hash"] = await credentials.hash_password(changes["password"])
    if "is_active" in changes:
        columns["is_active"] = changes["is_active"]
    if columns:
        columns["token_version"] = AdminUser.token_version + 1
        await AdminUser.update(**columns).where(AdminUser.id == admin_id).aio_execute()
    admin = await AdminUser.aio_get(AdminUser.id == admin_id)
    rendered = render_admin(admin)
    if own_password:
        rendered["token"] = credentials.issue_token("admin", admin.id, admin.token_version)
    return rendered


# ---------------------------------------------------------------- platform settings
class PlatformDoc(pydantic.BaseModel):
    """Platform-wide settings, one validated document (PATCH merges)."""
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    platform_name: str = pydantic.Field("mall", max_length=100)
    allow_shop_registration: bool = False  # shops are created by platform admins only
    max_shops: int = pydantic.Field(0, ge=0)  # 0 = unlimited
    support_contact: str = pydantic.Field("", max_length=100)


async def get_platform_settings() -> dict:
    row = await PlatformSettings.aio_get_or_none(PlatformSettings.id == 1)
    return PlatformDoc.model_validate({**PlatformDoc().model_dump(), **(json.loads(row.data) if row else {})}).model_dump()


async def update_platform_settings(changes: dict) -> dict:
    try:
        updated = PlatformDoc.model_validate({**await get_platform_settings(), **changes})
    except pydantic.ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in exc.errors(include_url=False, include_input=False)]
        raise invalid("settings are invalid", {"fields": fields}) from None
    data = updated.model_dump_json()
    if not await PlatformSettings.update(data=data, updated_at=utcnow()).where(PlatformSettings.id == 1).aio_execute():
        try:
            await PlatformSettings.insert(id=1, data=data).aio_execute()  # the one row
        except peewee.IntegrityError:  # another request created it first
            await PlatformSettings.update(data=data, updated_at=utcnow()).where(PlatformSettings.id == 1).aio_execute()
    return updated.model_dump()
