"""Money ledgers: every change of a member's balance (余额) or points (积分) leaves a row here,
written in the same transaction as the change; rows are never updated or deleted."""
import peewee

from models.base import BaseModel, ShopScoped, utcnow

BALANCE, POINTS, COMMISSION = "balance", "points", "commission"  # commission: a distributor's withdrawable


class CreditLedger(ShopScoped):
    member_id = peewee.IntegerField()
    currency = peewee.CharField(max_length=10)  # balance (fen) | points | commission (fen, withdrawable)
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


RECHARGE_PENDING, RECHARGE_PAID = "pending", "paid"
WITHDRAW_PENDING, WITHDRAW_APPROVED, WITHDRAW_PAID, WITHDRAW_REJECTED = "pending", "approved", "paid", "rejected"


class Recharge(ShopScoped):
    """A balance top-up paid with WeChat Pay; credited once, when WeChat reports it paid."""

    member_id = peewee.IntegerField()
    out_trade_no = peewee.CharField(max_length=32, unique=True)  # "RC" + digits: told apart from orders
    amount_fen = peewee.BigIntegerField()
    bonus_fen = peewee.BigIntegerField(default=0)  # 充值满送, fixed when the recharge is created
    status = peewee.CharField(max_length=8, default=RECHARGE_PENDING)
    transaction_id = peewee.CharField(max_length=64, null=True, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    paid_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "created_at"), False),)


class Withdrawal(ShopScoped):
    """A member takes money out of their balance or commission. The amount leaves the source at
    request (frozen here) and comes back if rejected; approved ones are paid to WeChat or balance."""

    member_id = peewee.IntegerField()
    source = peewee.CharField(max_length=10)  # balance | commission
    target = peewee.CharField(max_length=8)  # wechat | balance (commission only)
    amount_fen = peewee.BigIntegerField()
    status = peewee.CharField(max_length=8, default=WITHDRAW_PENDING)
    reject_reason = peewee.CharField(max_length=255, default="")
    reviewed_by = peewee.IntegerField(null=True)  # staff id
    transfer_no = peewee.CharField(max_length=32, default="")  # our id for the WeChat transfer (fixed: retries are safe)
    created_at = peewee.DateTimeField(default=utcnow)
    reviewed_at = peewee.DateTimeField(null=True)
    paid_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("shop_id", "status", "id"), False), (("member_id", "created_at"), False))
