"""Merchant staff: back-office users, each bound to exactly one shop."""
import peewee

from models.base import ShopScoped, utcnow


class Staff(ShopScoped):
    # Login is by username alone (API.md), so usernames are unique across the platform.
    username = peewee.CharField(max_length=64, unique=True)
    password_hash = peewee.CharField(max_length=255)
    name = peewee.CharField(max_length=32, default="")  # shown in the operation log
    is_owner = peewee.BooleanField(default=False)
    role_id = peewee.IntegerField(null=True)  # its keys add to `permissions`
    is_active = peewee.BooleanField(default=True)
    # JSON list of permission keys for non-owners; owners hold every permission
    permissions = peewee.TextField(default="[]")
    token_version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField(default=utcnow)


class Role(ShopScoped):
    """A named set of permission keys (店长, 客服, 仓管...) given to staff."""

    name = peewee.CharField(max_length=32)
    permissions = peewee.TextField(default="[]")  # JSON list of keys from services.perm.CATALOGUE
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "name"), True),)
