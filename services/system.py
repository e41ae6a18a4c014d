"""Platform administration: the platform's own admin users."""
from __future__ import annotations

from lib.errors import unauthorized
from models.system import AdminUser
from services import account


async def create_or_update_admin(username: str, password: str) -> tuple[AdminUser, bool]:
    """Create the admin, or set a new password (and revoke old tokens) if it exists."""
    password_hash = await account.hash_password(password)
    admin = await AdminUser.aio_get_or_none(AdminUser.username == username)
    if admin is None:
        return await AdminUser.aio_create(username=username, password_hash=password_hash), True
    await AdminUser.update(
        password_hash=password_hash, token_version=AdminUser.token_version + 1, is_active=True
    ).where(AdminUser.id == admin.id).aio_execute()
    return admin, False


async def login_admin(username: str, password: str, ip: str) -> dict:
    admin = await AdminUser.aio_get_or_none(AdminUser.username == username)
    await account.check_login("admin", username, ip, admin and admin.password_hash, password,
                              active=bool(admin and admin.is_active))
    return {"token": account.issue_token("admin", admin.id, admin.token_version)}


async def admin_for_token(claims: account.Claims) -> AdminUser:
    admin = await AdminUser.aio_get_or_none(AdminUser.id == claims.subject_id)
    if admin is None or not admin.is_active or admin.token_version != claims.token_version:
        raise unauthorized("token_revoked", "token is no longer valid")
    return admin
