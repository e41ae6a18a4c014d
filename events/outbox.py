"""The service-facing API: record an event inside the caller's transaction.

    async with events.atomic():
        ... conditional update ...
        await events.record(f"team:{team.id}", "team.progress", {...})

`atomic()` is the database transaction plus a wake-up of the relay once it commits, so the
event reaches subscribers within milliseconds; if the process dies before the relay runs, the
committed row is published by whichever process's relay polls next. Record events after the
conditional update that takes the row lock: then two changes of one row get outbox ids in the
order they committed, and subscribers see them in that order.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator

from models.db import database
from models.events import OutboxEvent
from services.runtime import current


async def record(channel: str, type_: str, data: dict[str, Any]) -> None:
    await OutboxEvent.aio_create(channel=channel, type=type_,
                                 data=json.dumps(data, ensure_ascii=False, separators=(",", ":")))


@contextlib.asynccontextmanager
async def atomic() -> AsyncIterator[None]:
    async with database.aio_atomic():
        yield
    relay = current().relay
    if relay is not None:
        relay.wake()
