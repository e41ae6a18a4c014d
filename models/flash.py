"""Flash sales (秒杀): a sale with its time window, and the items it sells from their own pools."""
import peewee

from models.base import ShopScoped, utcnow


class FlashSale(ShopScoped):
    title = peewee.CharField(max_length=100)
    starts_at = peewee.DateTimeField()  # whole seconds, UTC: the sale runs over [starts_at, ends_at)
    ends_at = peewee.DateTimeField()
    deleted = peewee.BooleanField(default=False)  # hidden everywhere; its orders keep their history
    started_announced = peewee.BooleanField(default=False)  # `flash.started` recorded (once)
    settled_at = peewee.DateTimeField(null=True)  # pools given back to the goods and `flash.ended` recorded
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "deleted", "ends_at"), False), (("settled_at", "ends_at"), False))


class FlashItem(ShopScoped):
    sale_id = peewee.IntegerField(index=True)
    goods_id = peewee.IntegerField()
    sku_id = peewee.IntegerField(null=True)
    price_fen = peewee.BigIntegerField()
    stock = peewee.IntegerField()  # units carved out of the goods for this sale (added to while it runs)
    remaining = peewee.IntegerField()  # the pool: never below zero (conditional UPDATE)
    per_member_limit = peewee.IntegerField(default=1)  # units one member may hold in non-cancelled orders
    settled = peewee.BooleanField(default=False)  # the pool went back to the goods; units come back there now
    # `flash.sold_out` recorded for the pool's current emptiness (cleared when units come back), so
    # it is said once per time the pool empties, whichever process or transaction gets there
    sold_out_announced = peewee.BooleanField(default=False)
    # refusals by reason, buffered through services.counters (display figures for the stats page)
    refused_not_started = peewee.BigIntegerField(default=0)
    refused_ended = peewee.BigIntegerField(default=0)
    refused_sold_out = peewee.BigIntegerField(default=0)
    refused_limit_reached = peewee.BigIntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)
