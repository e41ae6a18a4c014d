"""Orders: the order with its price breakdown and snapshots, its lines, its audit log, and carts."""
import peewee

from models.base import ShopScoped, utcnow

# API.md's order statuses, as in the original system
CANCELLED, UNPAID, PAID, SHIPPED, COMPLETED = -1, 0, 1, 2, 3
STATUS_NAMES = {CANCELLED: "cancelled", UNPAID: "unpaid", PAID: "paid", SHIPPED: "shipped", COMPLETED: "completed"}
# how much of a paid order has been refunded (after-sales), separate from status; a request's
# own state lives on its after-sale (models/aftersale.py)
REFUND_NONE, REFUND_PARTIAL, REFUND_FULL = "none", "partial", "full"


class Order(ShopScoped):
    member_id = peewee.IntegerField()
    order_no = peewee.CharField(max_length=32, unique=True)
    status = peewee.SmallIntegerField(default=UNPAID)
    refund_status = peewee.CharField(max_length=16, default=REFUND_NONE)
    goods_total_fen = peewee.BigIntegerField()
    level_discount_fen = peewee.BigIntegerField(default=0)
    coupon_discount_fen = peewee.BigIntegerField(default=0)
    full_reduction_fen = peewee.BigIntegerField(default=0)  # 满减
    points_deduction_fen = peewee.BigIntegerField(default=0)  # 积分抵扣
    points_used = peewee.BigIntegerField(default=0)
    discounts = peewee.TextField(default="[]")  # JSON: the itemised breakdown, as the preview showed it
    shipping_fee_fen = peewee.BigIntegerField(default=0)
    price_adjustment_fen = peewee.BigIntegerField(default=0)  # merchant's change before payment
    total_fen = peewee.BigIntegerField()  # what the member pays
    refunded_fen = peewee.BigIntegerField(default=0)  # given back by after-sales, never above total_fen
    completed_fen = peewee.BigIntegerField(null=True)  # what completion counted (paid minus refunded then)
    coupon_id = peewee.IntegerField(null=True)
    team_id = peewee.IntegerField(null=True, index=True)  # a group-buy team's order
    activity_id = peewee.IntegerField(null=True)  # the group-buy campaign (team or buy-alone order)
    flash_item_id = peewee.IntegerField(null=True)  # a flash-sale order: its units came from that item's pool
    pickup_code = peewee.CharField(max_length=16, null=True)  # redeemed in store instead of shipped (核销)
    # brought over by `server.py import-ewei`: history, read-only (its source facts: models/importer.ImportedOrder)
    imported = peewee.BooleanField(default=False)
    pay_method = peewee.CharField(max_length=16, default="")
    address = peewee.TextField(default="{}")  # JSON snapshot at purchase
    remark = peewee.CharField(max_length=255, default="")
    merchant_remark = peewee.CharField(max_length=255, default="")
    express_company = peewee.CharField(max_length=64, default="")
    express_no = peewee.CharField(max_length=64, default="")
    refund_reason = peewee.CharField(max_length=255, default="")
    refund_reject_reason = peewee.CharField(max_length=255, default="")
    cancel_reason = peewee.CharField(max_length=64, default="")
    expires_at = peewee.DateTimeField()  # unpaid orders are cancelled after this
    prepaid_at = peewee.DateTimeField(null=True)  # a WeChat prepay was made: the query job may settle it
    auto_confirm_at = peewee.DateTimeField(null=True)
    paid_at = peewee.DateTimeField(null=True)
    shipped_at = peewee.DateTimeField(null=True)
    completed_at = peewee.DateTimeField(null=True)
    cancelled_at = peewee.DateTimeField(null=True)
    refunded_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("shop_id", "status", "id"), False),
            (("shop_id", "member_id", "status"), False),
            (("status", "expires_at"), False),
            (("status", "auto_confirm_at"), False),
            (("activity_id", "member_id"), False),
            (("flash_item_id", "member_id"), False),
            (("shop_id", "pickup_code"), True),
            # dashboard: counts, sums and distinct buyers of a window read from the index alone
            (("shop_id", "paid_at", "member_id", "total_fen"), False),
            (("paid_at",), False),  # the daily rollup reads one day across shops
        )


class OrderItem(ShopScoped):
    order_id = peewee.IntegerField(index=True)
    goods_id = peewee.IntegerField()
    sku_id = peewee.IntegerField(null=True)
    title = peewee.CharField(max_length=200)
    sku_title = peewee.CharField(max_length=200, default="")
    image = peewee.CharField(max_length=512, default="")
    price_fen = peewee.BigIntegerField()
    quantity = peewee.IntegerField()
    total_fen = peewee.BigIntegerField()
    # the line's share of what the order was paid for goods (every discount allocated to the fen,
    # services/orders/shares.py); NULL on lines placed before it was stored: derived then
    paid_fen = peewee.BigIntegerField(null=True)
    points_used = peewee.BigIntegerField(default=0)  # the line's share of the points spent at checkout
    aftersale_quantity = peewee.IntegerField(default=0)  # units held by open or refunded after-sales
    refunded_quantity = peewee.IntegerField(default=0)
    restocked_quantity = peewee.IntegerField(default=0)  # units put back into stock (cancel, refund, return)


class OrderLog(ShopScoped):
    order_id = peewee.IntegerField(index=True)
    action = peewee.CharField(max_length=32)
    from_status = peewee.SmallIntegerField(null=True)
    to_status = peewee.SmallIntegerField(null=True)
    actor = peewee.CharField(max_length=32)  # member:7 | staff:3 | system
    note = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)


class CartItem(ShopScoped):
    member_id = peewee.IntegerField()
    goods_id = peewee.IntegerField()
    sku_id = peewee.IntegerField(default=0)  # 0: goods without SKUs (0, not NULL, so the key is unique)
    quantity = peewee.IntegerField()
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member_id", "goods_id", "sku_id"), True),)
