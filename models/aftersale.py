"""After-sales (售后): a member's request about some units of an order's lines — refund only,
return and refund, or exchange — with its lines and the log of every step."""
import peewee

from models.base import ShopScoped, utcnow

REFUND, RETURN, EXCHANGE = "refund", "return", "exchange"
TYPES = (REFUND, RETURN, EXCHANGE)
REQUESTED, APPROVED, RETURNED, RECEIVED = "requested", "approved", "returned", "received"
REFUNDED, EXCHANGED, REJECTED, CANCELLED = "refunded", "exchanged", "rejected", "cancelled"
OPEN = (REQUESTED, APPROVED, RETURNED, RECEIVED)  # still holding its units
# an after-sale whose units count against what may still be asked for (open, or refunded)
HOLDING = OPEN + (REFUNDED,)


class AfterSale(ShopScoped):
    order_id = peewee.IntegerField(index=True)
    member_id = peewee.IntegerField()
    aftersale_no = peewee.CharField(max_length=32, unique=True)  # also the WeChat refund number
    type = peewee.CharField(max_length=8)
    status = peewee.CharField(max_length=10, default=REQUESTED)
    reason = peewee.CharField(max_length=255, default="")
    images = peewee.TextField(default="[]")  # JSON list of URLs
    goods_fen = peewee.BigIntegerField(default=0)  # the lines' paid share of the units asked for
    shipping_fen = peewee.BigIntegerField(default=0)  # shipping refunded with it: set when its refund empties the order
    amount_fen = peewee.BigIntegerField(default=0)  # what is (to be) refunded: <= goods_fen (+ shipping_fen once paid)
    points = peewee.BigIntegerField(default=0)  # points spent at checkout on these units, given back
    refund_method = peewee.CharField(max_length=8, default="")  # balance | wechat
    return_address = peewee.TextField(default="{}")  # JSON, where the buyer sends the parcel
    express_company = peewee.CharField(max_length=64, default="")  # the buyer's return parcel
    express_no = peewee.CharField(max_length=64, default="")
    reship_company = peewee.CharField(max_length=64, default="")  # an exchange's replacement
    reship_no = peewee.CharField(max_length=64, default="")
    reject_reason = peewee.CharField(max_length=255, default="")
    close_reason = peewee.CharField(max_length=32, default="")
    # approved by itself if the merchant is silent until then; None: the rule could not, left to the merchant
    approve_due_at = peewee.DateTimeField(null=True)
    return_due_at = peewee.DateTimeField(null=True)  # a return not shipped by then is cancelled
    approved_at = peewee.DateTimeField(null=True)
    returned_at = peewee.DateTimeField(null=True)
    received_at = peewee.DateTimeField(null=True)
    refunded_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("shop_id", "status", "id"), False),
            (("shop_id", "member_id", "id"), False),
            (("status", "approve_due_at"), False),
            (("status", "return_due_at"), False),
        )


class AfterSaleItem(ShopScoped):
    aftersale_id = peewee.IntegerField(index=True)
    order_id = peewee.IntegerField()
    order_item_id = peewee.IntegerField(index=True)
    quantity = peewee.IntegerField()
    amount_fen = peewee.BigIntegerField()  # these units' share of what the line was paid
    points = peewee.BigIntegerField(default=0)  # these units' share of the points the line spent


class AfterSaleLog(ShopScoped):
    aftersale_id = peewee.IntegerField(index=True)
    action = peewee.CharField(max_length=32)
    from_status = peewee.CharField(max_length=10, null=True)
    to_status = peewee.CharField(max_length=10)
    actor = peewee.CharField(max_length=32)  # member:7 | staff:3 | system
    note = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
