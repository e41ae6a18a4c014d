from __future__ import annotations

import datetime

import peewee
from peewee_async import AioModel

from models.db import database


def utcnow() -> datetime.datetime:
    """Naive UTC, second precision: what both SQLite and MySQL DATETIME store alike."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def naive_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """An aware time from a request as the naive UTC the database stores; naive ones are taken as UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def iso(moment: datetime.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


class BaseModel(AioModel):
    class Meta:
        database = database
        legacy_table_names = False


class ShopScoped(BaseModel):
    """A row that belongs to one shop; every query on it filters by shop_id first."""

    shop_id = peewee.IntegerField(index=True)


async def paginate(query, page: int, page_size: int, render) -> dict:
    """API.md's list shape for any select: items rendered by `render`, total, page, page_size."""
    total = await query.aio_count()
    rows = await query.paginate(page, page_size).aio_execute()
    return {"items": [render(row) for row in rows], "total": total, "page": page, "page_size": page_size}
