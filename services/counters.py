"""Display counters (campaign visits, shares) bumped on hot read paths without a row write each.

A view adds to an in-process tally; a timed job (and shutdown) turns each tally into one
`UPDATE t SET col = col + n` per row. Under 1,000 views a second that is one UPDATE per
campaign per flush instead of 1,000 row locks on one row. Every process keeps its own tally, so
N processes stay correct without Redis. What a `kill -9` loses is at most one interval of views
on that process — acceptable for a display counter, never used for money or stock.
"""
from __future__ import annotations

import asyncio
import collections

import peewee

_tally: collections.Counter = collections.Counter()  # (model, field name, row id) -> pending increment
_flushing = asyncio.Lock()  # one flush at a time: when flush() returns, every earlier bump is written


def bump(field: peewee.Field, row_id: int, amount: int = 1) -> None:
    _tally[(field.model, field.name, row_id)] += amount


def pending(field: peewee.Field, row_id: int) -> int:
    """Increments this process holds but has not written yet (added to what a read returns)."""
    return _tally.get((field.model, field.name, row_id), 0)


async def flush() -> int:
    """Write every pending tally; what fails to write is kept for the next flush."""
    global _tally
    async with _flushing:
        taken, _tally = _tally, collections.Counter()
        written = 0
        for key, amount in taken.items():
            model, name, row_id = key
            field = model._meta.fields[name]
            try:
                await model.update({field: field + amount}).where(model.id == row_id).aio_execute()
            except Exception:
                for unwritten in list(taken)[written:]:
                    _tally[unwritten] += taken[unwritten]
                raise
            written += 1
        return written
