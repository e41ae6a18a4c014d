"""The relay: publishes committed outbox rows in id order, then marks them sent.

It runs in every process: woken right after a local commit (low latency) and on a poll
(rows committed by a process that died before its relay ran). Across processes a bus lock lets
one relay publish at a time; a relay that finds the lock taken retries shortly, so its rows go
out either with the holder's batch or its own. Publishing is idempotent per outbox row (the
Redis bus remembers each published row by id and random token), so dying between publish and
mark never duplicates. Consumers registered with `consume()` (WeChat notifications) are handed
each batch after it is published and before it is marked, so a committed row reaches them at
least once; they make that idempotent themselves (unique keys). Rows the bus skips as already
published are logged and counted: a relay that silently skipped everything is how live push once
died unnoticed.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable

from events.bus import OutgoingEvent
from events.metrics import counters
from models.base import utcnow
from models.events import OutboxEvent

log = logging.getLogger("mall.relay")

BATCH_SIZE = 200
POLL_INTERVAL_S = 1.0  # upper bound on delivery delay for rows whose own relay never ran
LOCK_RETRY_S = 0.02  # another process's relay is publishing; try again this soon
ERROR_BACKOFF_S = 1.0

# called with each published batch of outbox rows; registered once at start-up (services/wiring.py)
CONSUMERS: list[Callable[[list[OutboxEvent]], Awaitable[None]]] = []


def consume(consumer: Callable[[list[OutboxEvent]], Awaitable[None]]) -> None:
    if consumer not in CONSUMERS:
        CONSUMERS.append(consumer)


def outgoing(row: OutboxEvent) -> OutgoingEvent:
    # a row written by a process older than the token column has none: its id stands in
    return OutgoingEvent(row.id, row.channel, row.type, row.data, row.token or f"id{row.id}")


class Relay:
    def __init__(self, bus) -> None:
        self.bus = bus
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.paused = False  # tests freeze the relay to simulate a crash before publishing
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            # the poll is a timer that sets the wake event, not a timeout around the wait: on
            # Python 3.11 both wait_for and asyncio.timeout were seen to swallow this task's
            # cancellation at shutdown when it coincided with the timeout, hanging stop()
            timer = loop.call_later(POLL_INTERVAL_S, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
            self._wake.clear()
            if self._stopping:
                return
            if self.paused:
                continue
            try:
                if not await self.publish_pending():
                    await asyncio.sleep(LOCK_RETRY_S)
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or bus down: rows stay pending, retried later
                counters.relay_errors += 1
                log.warning("relay could not publish (%r); retrying", exc)
                await asyncio.sleep(ERROR_BACKOFF_S)

    async def publish_pending(self) -> bool:
        """Publish everything pending. False if another process's relay holds the lock."""
        async with self.bus.relay_lock() as acquired:
            if not acquired:
                return False
            while True:
                rows = await (OutboxEvent.select()
                              .where(OutboxEvent.published_at.is_null())
                              .order_by(OutboxEvent.id).limit(BATCH_SIZE).aio_execute())
                if not rows:
                    return True
                result = await self.bus.publish([outgoing(row) for row in rows])
                counters.events_published += result.published
                if result.skipped:
                    counters.events_skipped_as_published += len(result.skipped)
                    log.warning("outbox rows %s were already published (a relay stopped before marking "
                                "them sent); not sent again", _ids(result.skipped))
                if result.reused:
                    counters.events_id_reused += len(result.reused)
                    log.warning("outbox ids %s were published before by other rows: the database was "
                                "restored from a backup or its ids went back; published them anyway",
                                _ids(result.reused))
                for consumer in CONSUMERS:
                    try:
                        await consumer(rows)
                    except Exception as exc:  # a consumer's failure must not stop live push
                        counters.relay_consumer_errors += 1
                        log.warning("outbox consumer %s failed on rows %s (%r)", consumer.__qualname__,
                                    _ids([row.id for row in rows]), exc)
                await (OutboxEvent.update(published_at=utcnow())
                       .where(OutboxEvent.id.in_([row.id for row in rows])).aio_execute())

    async def lag(self) -> dict:
        """Pending rows and the age of the oldest, for metrics."""
        oldest = await (OutboxEvent.select(OutboxEvent.created_at)
                        .where(OutboxEvent.published_at.is_null())
                        .order_by(OutboxEvent.id).aio_first())
        pending = await OutboxEvent.select().where(OutboxEvent.published_at.is_null()).aio_count()
        age = (utcnow() - oldest.created_at).total_seconds() if oldest else 0.0
        return {"pending": pending, "oldest_age_seconds": age}


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20])) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
