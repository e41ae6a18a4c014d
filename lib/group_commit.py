"""Group commit: concurrent requests for the same kind of write share one transaction.

A request submits its item and waits for its own answer. When no batch is being written, the
item's batch starts at once (no timer, so a lone request waits for nothing); items that arrive
while a batch is being written form the next one, up to `max_batch`. Under load the batches
grow by themselves, and the round trips and row locks of one transaction serve them all.

`write_batch(items)` runs the batch in one transaction of its own and answers per item: its
result, or the exception that item alone would have raised. If it raises instead (a failure
that is nobody's in particular: a deadlock that outlived its retries, a lost connection, a
reaction refusing one of the items), every item of the batch is written again on its own with
`write_one`, so one item's trouble is never another's.

State is per event loop (tests run servers on several loops in one process).
"""
from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("mall.group_commit")

T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass
class _Loop(Generic[T]):
    queue: list[tuple[T, asyncio.Future]] = dataclasses.field(default_factory=list)
    task: asyncio.Task | None = None


class GroupCommit(Generic[T, R]):
    def __init__(self, name: str, write_batch: Callable[[list[T]], Awaitable[list[R | BaseException]]],
                 write_one: Callable[[T], Awaitable[R]], max_batch: int = 64):
        self.name = name
        self.write_batch, self.write_one, self.max_batch = write_batch, write_one, max_batch
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop[T]] = weakref.WeakKeyDictionary()
        self.batches = self.items = 0  # written so far (the mean batch size tells how much sharing happened)

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        state = self._loops.setdefault(loop, _Loop())
        future = loop.create_future()
        state.queue.append((item, future))
        if state.task is None:
            # a fresh context: not the submitting request's (its connection or transaction)
            state.task = loop.create_task(self._drain(state), context=contextvars.Context())
        return await future

    async def _drain(self, state: _Loop[T]) -> None:
        try:
            while state.queue:
                batch, state.queue = state.queue[:self.max_batch], state.queue[self.max_batch:]
                await self._write(batch)
        finally:
            state.task = None

    async def _write(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        self.batches += 1
        self.items += len(batch)
        if len(batch) > 1:
            try:
                answers = await self.write_batch([item for item, _ in batch])
            except Exception:
                log.warning("%s: a batch of %d failed; writing each on its own", self.name, len(batch), exc_info=True)
            else:
                for (_, future), answer in zip(batch, answers):
                    _settle(future, answer)
                return
        await asyncio.gather(*(self._alone(item, future) for item, future in batch))

    async def _alone(self, item: T, future: asyncio.Future) -> None:
        try:
            answer = await self.write_one(item)
        except Exception as exc:
            answer = exc
        _settle(future, answer)


def _settle(future: asyncio.Future, answer) -> None:
    if future.done():  # the waiting request went away
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)
