"""Promotions (sale): coupon templates and the coupons members hold. Shop-wide rules (满减 tiers,
free-shipping threshold, points deduction, recharge bonus) live in the shop settings document."""
import peewee

from models.base import ShopScoped, utcnow

KIND_AMOUNT, KIND_PERCENT = "amount", "percent"
SCOPE_ALL, SCOPE_GOODS, SCOPE_CATEGORIES = "all", "goods", "categories"
COUPON_UNUSED, COUPON_USED, COUPON_EXPIRED = "unused", "used", "expired"


class CouponTemplate(ShopScoped):
    name = peewee.CharField(max_length=100)
    kind = peewee.CharField(max_length=8)  # amount: amount_fen off; percent: percent_off % off, capped
    amount_fen = peewee.BigIntegerField(default=0)
    percent_off = peewee.SmallIntegerField(default=0)  # 1..99
    max_discount_fen = peewee.BigIntegerField(default=0)  # cap for percent coupons; 0 = none
    min_spend_fen = peewee.BigIntegerField(default=0)  # over the lines the coupon applies to
    scope = peewee.CharField(max_length=12, default=SCOPE_ALL)
    scope_ids = peewee.TextField(default="[]")  # JSON goods or category ids
    valid_from = peewee.DateTimeField(null=True)  # fixed window ...
    valid_until = peewee.DateTimeField(null=True)
    valid_days = peewee.SmallIntegerField(default=0)  # ... or N days from claim (when > 0)
    total_quantity = peewee.IntegerField(default=0)  # 0 = unlimited
    per_member_limit = peewee.SmallIntegerField(default=1)  # 0 = unlimited
    claimable = peewee.BooleanField(default=True)  # shown in the claim centre; else issued by the merchant only
    stackable = peewee.BooleanField(default=False)  # may be combined with other coupons on one order
    enabled = peewee.BooleanField(default=True)
    deleted = peewee.BooleanField(default=False)
    claimed_count = peewee.IntegerField(default=0)  # never above total_quantity (conditional UPDATE)
    used_count = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)


class MemberCoupon(ShopScoped):
    template_id = peewee.IntegerField()
    member_id = peewee.IntegerField()
    status = peewee.CharField(max_length=8, default=COUPON_UNUSED)
    valid_from = peewee.DateTimeField(null=True)
    valid_until = peewee.DateTimeField(null=True)
    order_id = peewee.IntegerField(null=True)  # the order it is used on
    discount_fen = peewee.BigIntegerField(default=0)  # what it took off that order
    source = peewee.CharField(max_length=8, default="claim")  # claim | issue
    claimed_at = peewee.DateTimeField(default=utcnow)
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("member_id", "status"), False), (("template_id", "member_id"), False), (("order_id",), False),
                   (("status", "valid_until"), False))
