"""Shoppers. A member belongs to one shop; the same phone in two shops is two members."""
import peewee

from models.base import ShopScoped, utcnow


class Member(ShopScoped):
    mobile = peewee.CharField(max_length=20, null=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    nickname = peewee.CharField(max_length=64, default="")
    avatar = peewee.CharField(max_length=512, default="")
    openid = peewee.CharField(max_length=64, null=True)  # mini-program openid
    oa_openid = peewee.CharField(max_length=64, null=True)  # official-account openid (another app id)
    unionid = peewee.CharField(max_length=64, null=True)  # the same person across the shop's apps
    gender = peewee.SmallIntegerField(default=0)  # 0 unknown, 1 male, 2 female (WeChat's values)
    balance_fen = peewee.BigIntegerField(default=0)
    points = peewee.BigIntegerField(default=0)
    level_id = peewee.IntegerField(null=True)
    # completed-order spending; drives automatic level upgrades
    total_spent_fen = peewee.BigIntegerField(default=0)
    # distribution (分销): who referred this member (set once), and their commission as a distributor
    parent_id = peewee.IntegerField(null=True)
    referred_by_id = peewee.IntegerField(null=True)  # a referral waiting for the first order (bind on first order)
    commission_fen = peewee.BigIntegerField(default=0)  # settled, withdrawable
    commission_frozen_fen = peewee.BigIntegerField(default=0)  # earned on orders not yet settled
    last_paid_at = peewee.DateTimeField(null=True)  # the dashboard's "paid members in a window"
    is_blacklisted = peewee.BooleanField(default=False)  # may browse and log in, may not order
    tags = peewee.TextField(default="[]")  # JSON list of merchant-defined tags
    is_active = peewee.BooleanField(default=True)
    token_version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("shop_id", "mobile"), True),
            (("shop_id", "openid"), True),
            (("shop_id", "oa_openid"), True),
            (("shop_id", "unionid"), False),
            (("parent_id",), False),
            (("shop_id", "created_at"), False),  # new members per day
            (("created_at",), False),  # the daily rollup
            (("shop_id", "last_paid_at"), False),
        )


class Address(ShopScoped):
    member_id = peewee.IntegerField(index=True)
    name = peewee.CharField(max_length=32)
    mobile = peewee.CharField(max_length=20)
    province = peewee.CharField(max_length=32)
    city = peewee.CharField(max_length=32)
    district = peewee.CharField(max_length=32)
    detail = peewee.CharField(max_length=255)
    is_default = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)


class MemberLevel(ShopScoped):
    name = peewee.CharField(max_length=32)
    # completed-order spending (fen) at which members reach this level
    threshold_fen = peewee.BigIntegerField(default=0)
    discount_percent = peewee.SmallIntegerField(default=100)  # 95 = pay 95%
    created_at = peewee.DateTimeField(default=utcnow)
