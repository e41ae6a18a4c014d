"""Shipping addresses: at most MAX_ADDRESSES per member, exactly one default while any exist."""
from __future__ import annotations

import events
from lib.errors import conflict, not_found
from models.base import paginate
from models.locks import lock_member
from models.member import Address

MAX_ADDRESSES = 20
FIELDS = ("name", "mobile", "province", "city", "district", "detail")


def render_address(address: Address) -> dict:
    return {"id": address.id, **{f: getattr(address, f) for f in FIELDS}, "is_default": address.is_default}


def _mine(shop_id: int, member_id: int):
    return (Address.shop_id == shop_id) & (Address.member_id == member_id)


async def get_address(shop_id: int, member_id: int, address_id: int) -> Address:
    address = await Address.aio_get_or_none(_mine(shop_id, member_id) & (Address.id == address_id))
    if address is None:
        raise not_found("address")
    return address


async def list_addresses(shop_id: int, member_id: int, page: int, page_size: int) -> dict:
    query = Address.select().where(_mine(shop_id, member_id)).order_by(Address.is_default.desc(), Address.id.desc())
    return await paginate(query, page, page_size, render_address)


async def create_address(shop_id: int, member_id: int, fields: dict) -> dict:
    async with events.atomic():
        await lock_member(member_id)  # one default, at most 20
        count = await Address.select().where(_mine(shop_id, member_id)).aio_count()
        if count >= MAX_ADDRESSES:
            raise conflict("too_many_addresses", f"at most {MAX_ADDRESSES} addresses per member")
        make_default = fields.get("is_default") or count == 0
        if make_default:
            await Address.update(is_default=False).where(_mine(shop_id, member_id)).aio_execute()
        address = await Address.aio_create(shop_id=shop_id, member_id=member_id,
                                           **{**fields, "is_default": bool(make_default)})
    return render_address(address)


async def update_address(shop_id: int, member_id: int, address_id: int, changes: dict) -> dict:
    async with events.atomic():
        await lock_member(member_id)  # one default, at most 20
        address = await get_address(shop_id, member_id, address_id)
        if changes.get("is_default") is False and address.is_default:
            changes.pop("is_default")  # there is always one default; choose another one instead
        if changes.get("is_default"):
            await Address.update(is_default=False).where(_mine(shop_id, member_id)).aio_execute()
        if changes:
            await Address.update(**changes).where(Address.id == address.id).aio_execute()
    return render_address(await get_address(shop_id, member_id, address_id))


async def delete_address(shop_id: int, member_id: int, address_id: int) -> None:
    async with events.atomic():
        await lock_member(member_id)  # one default, at most 20
        address = await get_address(shop_id, member_id, address_id)
        await Address.delete().where(Address.id == address.id).aio_execute()
        if address.is_default:
            newest = await Address.select().where(_mine(shop_id, member_id)).order_by(Address.id.desc()).aio_first()
            if newest is not None:
                await Address.update(is_default=True).where(Address.id == newest.id).aio_execute()
