"""Outbox housekeeping: published rows are kept a day for inspection, then deleted in batches."""
import datetime

from models.base import utcnow
from models.events import OutboxEvent
from tasks import JOBS

KEEP_PUBLISHED = datetime.timedelta(days=1)
DELETE_BATCH = 5000


async def purge_published_outbox(runtime) -> None:
    cutoff = utcnow() - KEEP_PUBLISHED
    old = (OutboxEvent.select(OutboxEvent.id)
           .where(OutboxEvent.published_at.is_null(False) & (OutboxEvent.published_at < cutoff))
           .order_by(OutboxEvent.id).limit(DELETE_BATCH))
    ids = [row.id for row in await old.aio_execute()]
    if ids:
        await OutboxEvent.delete().where(OutboxEvent.id.in_(ids)).aio_execute()


JOBS.append(("purge_published_outbox", purge_published_outbox))
