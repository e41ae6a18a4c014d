"""The transactional outbox: events written in the same transaction as the change they describe."""
import peewee

from models.base import BaseModel, utcnow


class OutboxEvent(BaseModel):
    channel = peewee.CharField(max_length=128)
    type = peewee.CharField(max_length=64)
    data = peewee.TextField()  # JSON text, encoded once at record time
    created_at = peewee.DateTimeField(default=utcnow)
    published_at = peewee.DateTimeField(null=True, index=True)
