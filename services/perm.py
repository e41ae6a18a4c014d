"""Staff permissions (perm): the catalogue of permission keys, roles, and what a staff member may do.

Every merchant endpoint declares the key it needs per HTTP method (`permissions` on its handler
class, checked once in `MerchantHandler.prepare`); a test walks the route table and fails if a
merchant endpoint has a method without a declared key or `any_staff`. Owners hold every key.
A staff member's keys are their role's keys plus any given to them directly.
"""
from __future__ import annotations

import json

import peewee

from lib.errors import conflict, field_error, not_found
from models.base import iso, paginate
from models.user import Role, Staff

# key -> what it allows, grouped by module; the merchant back-office shows these labels
CATALOGUE: dict[str, str] = {
    "goods.view": "see goods, categories and stock",
    "goods.edit": "create, edit, shelve and delete goods and categories",
    "goods.stock": "change stock",
    "orders.view": "see orders and receive live order alerts",
    "orders.edit": "close orders, change prices and remarks",
    "orders.ship": "ship orders",
    "orders.refund": "approve or reject refunds",
    "members.view": "see members and levels",
    "members.edit": "edit members, levels and WeChat login settings",
    "finance.view": "see ledgers, withdrawals and daily reports",
    "finance.balance": "adjust members' balance and points",
    "finance.withdraw.review": "approve or reject withdrawals",
    "finance.export": "export ledgers as CSV",
    "distribution.view": "see distributors",
    "distribution.review": "approve or reject distributor applications",
    "groups.view": "see group-buy campaigns and teams",
    "groups.edit": "create and edit group-buy campaigns",
    "groups.force": "end a group-buy team early",
    "groups.redeem": "redeem pick-up codes",
    "flash.view": "see flash sales and their figures",
    "flash.edit": "create, edit and end flash sales",
    "sale.view": "see coupons",
    "sale.edit": "create and edit coupons",
    "sale.issue": "issue coupons to members",
    "adv.view": "see banners",
    "adv.edit": "edit banners",
    "settings.view": "see shop settings",
    "settings.edit": "change shop settings and payment configuration",
    "staff.view": "see staff, roles and the operation log",
    "staff.edit": "manage staff accounts and roles",
    "dashboard.view": "see the dashboard",
}


def check_keys(keys: list[str], field: str = "permissions") -> list[str]:
    unknown = sorted(set(keys) - set(CATALOGUE))
    if unknown:
        raise field_error(field, f"unknown permissions: {unknown}")
    return sorted(set(keys))


def effective(staff: Staff, role: Role | None) -> set[str]:
    if staff.is_owner:
        return set(CATALOGUE)
    return set(json.loads(staff.permissions)) | (set(json.loads(role.permissions)) if role else set())


def render_role(role: Role) -> dict:
    return {"id": role.id, "name": role.name, "permissions": json.loads(role.permissions),
            "created_at": iso(role.created_at)}


async def get_role(shop_id: int, role_id: int) -> Role:
    role = await Role.aio_get_or_none((Role.shop_id == shop_id) & (Role.id == role_id))
    if role is None:
        raise not_found("role")
    return role


async def list_roles(shop_id: int, page: int, page_size: int) -> dict:
    return await paginate(Role.select().where(Role.shop_id == shop_id).order_by(Role.id), page, page_size, render_role)


async def create_role(shop_id: int, name: str, permissions: list[str]) -> dict:
    try:
        role = await Role.aio_create(shop_id=shop_id, name=name, permissions=json.dumps(check_keys(permissions)))
    except peewee.IntegrityError:
        raise conflict("role_exists", "a role with this name exists") from None
    return render_role(role)


async def update_role(shop_id: int, role_id: int, changes: dict) -> tuple[dict, dict]:
    """Returns (before, after). Staff holding the role get the new keys at their next request."""
    role = await get_role(shop_id, role_id)
    before = render_role(role)
    columns = {}
    if "name" in changes:
        columns["name"] = changes["name"]
    if "permissions" in changes:
        columns["permissions"] = json.dumps(check_keys(changes["permissions"]))
    if columns:
        try:
            await Role.update(**columns).where(Role.id == role_id).aio_execute()
        except peewee.IntegrityError:
            raise conflict("role_exists", "a role with this name exists") from None
    return before, render_role(await get_role(shop_id, role_id))


async def delete_role(shop_id: int, role_id: int) -> None:
    await get_role(shop_id, role_id)
    if await Staff.select().where((Staff.shop_id == shop_id) & (Staff.role_id == role_id)).aio_exists():
        raise conflict("role_in_use", "staff still hold this role; move them first")
    await Role.delete().where((Role.shop_id == shop_id) & (Role.id == role_id)).aio_execute()
