"""Banners: merchant CRUD; shoppers see the enabled ones inside their time window."""
from __future__ import annotations

from lib.errors import field_error, not_found
from models.adv import Banner
from models.base import iso, naive_utc, paginate, utcnow


def render_banner(banner: Banner) -> dict:
    return {"id": banner.id, "title": banner.title, "image": banner.image, "link": banner.link,
            "sort": banner.sort, "enabled": banner.enabled,
            "starts_at": iso(banner.starts_at), "ends_at": iso(banner.ends_at)}



def _columns(fields: dict) -> dict:
    columns = dict(fields)
    for key in ("starts_at", "ends_at"):
        if key in columns:
            columns[key] = naive_utc(columns[key])
    return columns


def _check_window(starts_at, ends_at) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise field_error("ends_at", "must be after starts_at")


async def get_banner(shop_id: int, banner_id: int) -> Banner:
    banner = await Banner.aio_get_or_none((Banner.shop_id == shop_id) & (Banner.id == banner_id))
    if banner is None:
        raise not_found("banner")
    return banner


async def create_banner(shop_id: int, fields: dict) -> dict:
    columns = _columns(fields)
    _check_window(columns.get("starts_at"), columns.get("ends_at"))
    return render_banner(await Banner.aio_create(shop_id=shop_id, **columns))


async def update_banner(shop_id: int, banner_id: int, changes: dict) -> dict:
    banner = await get_banner(shop_id, banner_id)
    columns = _columns(changes)
    _check_window(columns.get("starts_at", banner.starts_at), columns.get("ends_at", banner.ends_at))
    if columns:
        await Banner.update(**columns).where((Banner.shop_id == shop_id) & (Banner.id == banner_id)).aio_execute()
    return render_banner(await get_banner(shop_id, banner_id))


async def delete_banner(shop_id: int, banner_id: int) -> None:
    await get_banner(shop_id, banner_id)
    await Banner.delete().where((Banner.shop_id == shop_id) & (Banner.id == banner_id)).aio_execute()


async def list_banners(shop_id: int, page: int, page_size: int) -> dict:
    query = Banner.select().where(Banner.shop_id == shop_id).order_by(Banner.sort.desc(), Banner.id)
    return await paginate(query, page, page_size, render_banner)


async def live_banners(shop_id: int) -> list[dict]:
    now = utcnow()
    query = Banner.select().where(
        (Banner.shop_id == shop_id) & (Banner.enabled == True)  # noqa: E712
        & (Banner.starts_at.is_null() | (Banner.starts_at <= now))
        & (Banner.ends_at.is_null() | (Banner.ends_at > now))
    ).order_by(Banner.sort.desc(), Banner.id).limit(50)
    return [render_banner(b) for b in await query.aio_execute()]
