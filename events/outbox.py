"""The service-facing API: record an event inside the caller's transaction.

    async with events.atomic():
        ... conditional update ...
        await events.record(f"team:{team.id}", "team.progress", {...})

`atomic()` is the database transaction plus a wake-up of the relay once it commits, so the
event reaches subscribers within milliseconds; if the process dies before the relay runs, the
committed row is published by whichever process's relay polls next.

Events recorded in a transaction are written in one multi-row INSERT just before it commits
(one round trip, however many events), still inside the transaction and after every row lock
it took: two changes of one row therefore get outbox ids in commit order. Events recorded
inside a nested block that rolls back are dropped with it.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import secrets
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from lib.runtime import current
from models.db import database, retry_on_deadlock
from models.events import OutboxEvent
from models.prepared import insert_rows

_pending: contextvars.ContextVar[list | None] = contextvars.ContextVar("outbox_pending", default=None)
T = TypeVar("T")


def _row(channel: str, type_: str, data: dict[str, Any]) -> dict:
    return {"channel": channel, "type": type_, "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            "token": secrets.token_hex(8)}


async def record(channel: str, type_: str, data: dict[str, Any]) -> None:
    pending = _pending.get()
    if pending is not None:
        pending.append(_row(channel, type_, data))
    else:  # outside atomic(): a transaction of its own
        await OutboxEvent.insert(**_row(channel, type_, data)).aio_execute()


@contextlib.asynccontextmanager
async def atomic() -> AsyncIterator[None]:
    pending = _pending.get()
    if pending is not None:  # nested: a savepoint; its events go if it rolls back
        mark = len(pending)
        try:
            async with database.aio_atomic():
                yield
        except BaseException:
            del pending[mark:]
            raise
        return
    pending = []
    token = _pending.set(pending)
    try:
        async with database.aio_atomic():
            yield
            if pending:
                await insert_rows(OutboxEvent, pending)
    finally:
        _pending.reset(token)
    relay = current().relay
    if relay is not None:
        relay.wake()


def in_transaction() -> bool:
    return _pending.get() is not None


async def transaction(operation: Callable[[], Awaitable[T]]) -> T:
    """Run `operation` in a transaction owned by the outermost caller: opened here with its
    deadlock retry when none is open; inside another transaction, a savepoint of it with no retry
    of its own (MySQL rolled the whole transaction back, so only its owner can run it again)."""
    async def attempt() -> T:
        async with atomic():
            return await operation()
    if in_transaction():
        return await attempt()
    return await retry_on_deadlock(attempt)


PURGE_BATCH = 5000  # rows deleted per run: a backlog drains over several runs without long locks


async def purge_published(before) -> None:
    """Delete outbox rows published before `before`, a batch at a time."""
    old = (OutboxEvent.select(OutboxEvent.id)
           .where(OutboxEvent.published_at.is_null(False) & (OutboxEvent.published_at < before))
           .order_by(OutboxEvent.id).limit(PURGE_BATCH))
    ids = [row.id for row in await old.aio_execute()]
    if ids:
        await OutboxEvent.delete().where(OutboxEvent.id.in_(ids)).aio_execute()
