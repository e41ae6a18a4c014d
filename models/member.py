"""Shoppers. A member belongs to one shop; the same phone in two shops is two members."""
import peewee

from models.base import ShopScoped, utcnow


class Member(ShopScoped):
    mobile = peewee.CharField(max_length=20, null=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    nickname = peewee.CharField(max_length=64, default="")
    avatar = peewee.CharField(max_length=512, default="")
    openid = peewee.CharField(max_length=64, null=True)
    unionid = peewee.CharField(max_length=64, null=True)
    balance_fen = peewee.BigIntegerField(default=0)
    points = peewee.BigIntegerField(default=0)
    level_id = peewee.IntegerField(null=True)
    is_active = peewee.BooleanField(default=True)
    token_version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("shop_id", "mobile"), True),
            (("shop_id", "openid"), True),
        )
