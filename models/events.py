"""The transactional outbox: events written in the same transaction as the change they describe."""
import secrets

import peewee

from models.base import BaseModel, utcnow


class OutboxEvent(BaseModel):
    channel = peewee.CharField(max_length=128)
    type = peewee.CharField(max_length=64)
    data = peewee.TextField()  # JSON text, encoded once at record time
    created_at = peewee.DateTimeField(default=utcnow)
    published_at = peewee.DateTimeField(null=True, index=True)
    # random per row: the bus's "already published" marker must tell this row from another row
    # that had the same id in an earlier history of the database (restored from a backup)
    token = peewee.CharField(max_length=16, null=True, default=lambda: secrets.token_hex(8))
