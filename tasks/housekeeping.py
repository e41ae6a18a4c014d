"""Housekeeping: display counters tallied in memory, the published outbox, closed days' statistics."""
import datetime

import events
from models.base import utcnow
from services import counters, dashboard

KEEP_PUBLISHED = datetime.timedelta(days=1)  # published outbox rows are kept a day for inspection


async def flush_counters(runtime) -> None:
    await counters.flush()


async def purge_published_outbox(runtime) -> None:
    await events.purge_published(before=utcnow() - KEEP_PUBLISHED)


async def rollup_stats(runtime) -> None:
    await dashboard.rollup_days()


JOBS = [("flush_counters", flush_counters), ("purge_published_outbox", purge_published_outbox),
        ("rollup_stats", rollup_stats)]
