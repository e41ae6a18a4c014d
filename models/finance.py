"""Money ledgers: every change of a member's balance (余额) or points (积分) leaves a row here,
written in the same transaction as the change; rows are never updated or deleted."""
import peewee

from models.base import BaseModel, ShopScoped, utcnow

BALANCE, POINTS = "balance", "points"


class CreditLedger(ShopScoped):
    member_id = peewee.IntegerField()
    currency = peewee.CharField(max_length=8)  # balance (fen) | points
    type = peewee.CharField(max_length=32)  # adjust | order_pay | refund | recharge | withdraw | ...
    amount = peewee.BigIntegerField()  # signed
    balance_after = peewee.BigIntegerField()
    reference = peewee.CharField(max_length=64, default="")
    operator_id = peewee.IntegerField(null=True)  # staff who made a manual change
    remark = peewee.CharField(max_length=255, default="")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "member_id", "currency", "id"), False),)


class IdempotencyKey(BaseModel):
    """A money-moving write done under an Idempotency-Key, with the answer it gave."""

    scope = peewee.CharField(max_length=64)  # who sent it: "merchant:12", "member:7"
    key = peewee.CharField(max_length=128)
    request_hash = peewee.CharField(max_length=64)
    status = peewee.SmallIntegerField()
    response = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("scope", "key"), True),)
