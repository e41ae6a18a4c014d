"""Distribution (分销): distributors, and the commission each paid order earns up the referral chain."""
import peewee

from models.base import ShopScoped, utcnow

DIST_PENDING, DIST_APPROVED, DIST_REJECTED = "pending", "approved", "rejected"
COMMISSION_FROZEN, COMMISSION_SETTLED, COMMISSION_REVERSED = "frozen", "settled", "reversed"


class Distributor(ShopScoped):
    member_id = peewee.IntegerField(unique=True)
    status = peewee.CharField(max_length=8, default=DIST_PENDING)
    real_name = peewee.CharField(max_length=32, default="")
    mobile = peewee.CharField(max_length=20, default="")
    reject_reason = peewee.CharField(max_length=255, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    approved_at = peewee.DateTimeField(null=True)


class Commission(ShopScoped):
    """One distributor's share of one order, at one level of the chain (1 = the buyer's referrer)."""

    order_id = peewee.IntegerField()
    order_no = peewee.CharField(max_length=32)
    buyer_id = peewee.IntegerField()
    member_id = peewee.IntegerField()  # the distributor who earns it
    level = peewee.SmallIntegerField()
    base_fen = peewee.BigIntegerField()  # what the rates applied to
    amount_fen = peewee.BigIntegerField()
    reversed_fen = peewee.BigIntegerField(default=0)  # taken back by partial refunds (all of it once reversed)
    # JSON {order_item_id: [base_fen, amount_fen, refunded_fen]}: each line's part, so a refund of a line
    # takes back that line's commission (None: rows frozen before lines were stored)
    lines = peewee.TextField(null=True)
    status = peewee.CharField(max_length=8, default=COMMISSION_FROZEN)
    created_at = peewee.DateTimeField(default=utcnow)
    settled_at = peewee.DateTimeField(null=True)
    reversed_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("order_id", "level"), True), (("member_id", "status"), False), (("status", "order_id"), False))
