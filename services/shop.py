"""Shops (tenants): created by the platform together with their owner credentials."""
from __future__ import annotations

import peewee

import events
from events.control import CONTROL_CHANNEL, on_control
from lib.cache import TTLCache
from lib.errors import conflict, forbidden, not_found
from models.base import iso, paginate, utcnow
from models.db import database
from models.shop import SHOP_ACTIVE, SHOP_SUSPENDED, Shop
from models.user import Staff
from services import audit, credentials, sysset


def render_shop(shop: Shop) -> dict:
    return {"id": shop.id, "name": shop.name, "status": shop.status,
            "created_at": iso(shop.created_at), "updated_at": iso(shop.updated_at)}


async def create_shop(name: str, owner_username: str, owner_password: str) -> dict:
    """The shop and its owner staff account, in one transaction: both or neither."""
    password_hash = await credentials.hash_password(owner_password)
    try:
        async with database.aio_atomic():
            shop = await Shop.aio_create(name=name)
            owner = await Staff.aio_create(shop_id=shop.id, username=owner_username,
                                           password_hash=password_hash, is_owner=True)
    except peewee.IntegrityError:
        raise conflict("username_taken", "that username is already in use") from None
    return {**render_shop(shop), "owner": {"id": owner.id, "username": owner.username}}


async def list_shops(page: int, page_size: int, status: str | None = None) -> dict:
    query = Shop.select().order_by(Shop.id.desc())
    if status:
        query = query.where(Shop.status == status)
    return await paginate(query, page, page_size, render_shop)


async def get_shop(shop_id: int) -> Shop:
    shop = await Shop.aio_get_or_none(Shop.id == shop_id)
    if shop is None:
        raise not_found("shop")
    return shop


async def update_shop(shop_id: int, changes: dict) -> dict:
    """Rename, suspend or resume (audited). Suspending answers 403 `shop_suspended` to every API
    of the shop from the next request, and closes its signed-in WebSocket connections."""
    before = render_shop(await get_shop(shop_id))
    if changes:
        async with events.atomic():
            await Shop.update(**changes, updated_at=utcnow()).where(Shop.id == shop_id).aio_execute()
            await audit.record(shop_id, "shop.update", "shop", shop_id, before, changes)
            await events.record(CONTROL_CHANNEL, "shop.changed", {"shop_id": shop_id})
            if changes.get("status") == SHOP_SUSPENDED and before["status"] != SHOP_SUSPENDED:
                await events.record(CONTROL_CHANNEL, "access.revoked", {"shop_id": shop_id})
        forget_shop(shop_id)
        sysset.forget_settings(shop_id)  # the settings carry the shop's name
    return render_shop(await get_shop(shop_id))


# Every shop-scoped request checks its shop; the answer is kept 5 s per process. A change drops it
# here at once and in every other process when the `shop.changed` control message arrives, so a
# suspension bites on the next request; the expiry only bounds how long a lost message could matter.
_shops = TTLCache(ttl_seconds=5)


def forget_shop(shop_id: int) -> None:
    _shops.drop(shop_id)


on_control("shop.changed", lambda data: forget_shop(data["shop_id"]))


async def active_shop(shop_id: int) -> Shop:
    """The shop for a shop-scoped request: 404 if missing, 403 `shop_suspended` if suspended."""
    async def load() -> tuple[Shop, bool]:
        return await get_shop(shop_id), True

    shop = await _shops.get_or_load(shop_id, load)  # one read when the entry expires under load
    if shop.status != SHOP_ACTIVE:
        raise forbidden("shop_suspended", "this shop is suspended")
    return shop
