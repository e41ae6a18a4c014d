"""Parcel routes from a tracking provider, cached per tracking number (ewei's `express_cache`).

The row is also the refresher's claim: a process refreshes a route only after a conditional
UPDATE of `claim`/`claimed_until` succeeded, so however many processes and shoppers look, the
provider is asked once per TTL."""
import peewee

from models.base import ShopScoped, utcnow


class ExpressCache(ShopScoped):
    company = peewee.CharField(max_length=32)  # the provider's company code (kuaidi100 `com`)
    express_no = peewee.CharField(max_length=64)
    provider = peewee.CharField(max_length=16, default="")
    state = peewee.SmallIntegerField(null=True)  # the provider's state (kuaidi100: 3 = delivered)
    delivered_at = peewee.DateTimeField(null=True)  # naive UTC, the delivery event's time
    route = peewee.TextField(default="[]")  # JSON [{time, context}], newest first
    fetched_at = peewee.DateTimeField(null=True)  # last successful answer; NULL = nothing cached yet
    refresh_at = peewee.DateTimeField(default=utcnow)  # when the next look may ask the provider again
    claim = peewee.CharField(max_length=16, default="")
    claimed_until = peewee.DateTimeField(null=True)
    error = peewee.CharField(max_length=255, default="")  # why the last refresh failed ("" = it did not)

    class Meta:
        table_name = "express_cache"
        indexes = ((("shop_id", "company", "express_no"), True),)
