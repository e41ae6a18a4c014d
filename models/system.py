"""Platform-level rows: platform admins and the schema version."""
import peewee

from models.base import BaseModel, utcnow


class AdminUser(BaseModel):
    username = peewee.CharField(max_length=64, unique=True)
    password_hash = peewee.CharField(max_length=255)
    # bumped to revoke every token issued before (password change, disable)
    token_version = peewee.IntegerField(default=1)
    is_active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=128)
    applied_at = peewee.DateTimeField(default=utcnow)


class PlatformSettings(BaseModel):
    """The platform's own settings document (one row), validated by services.platform."""

    data = peewee.TextField(default="{}")
    updated_at = peewee.DateTimeField(default=utcnow)


class DatabaseIdentity(BaseModel):
    """One row: a random id drawn when the schema is created. Whatever is kept outside the
    database about its rows (Redis keys: channel seqs and epochs, publish markers, login counts)
    is namespaced by it, so a database dropped and created again never inherits them."""

    value = peewee.CharField(max_length=32)
    created_at = peewee.DateTimeField(default=utcnow)
