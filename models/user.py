"""Merchant staff: back-office users, each bound to exactly one shop."""
import peewee

from models.base import ShopScoped, utcnow


class Staff(ShopScoped):
    # Login is by username alone (API.md), so usernames are unique across the platform.
    username = peewee.CharField(max_length=64, unique=True)
    password_hash = peewee.CharField(max_length=255)
    is_owner = peewee.BooleanField(default=False)
    is_active = peewee.BooleanField(default=True)
    # JSON list of permission keys for non-owners; owners hold every permission
    permissions = peewee.TextField(default="[]")
    token_version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField(default=utcnow)
