"""What an import from another shop system brought in: source row -> our row, so a second run
updates instead of duplicating, and the source facts of historic orders we keep but do not model."""
import peewee

from models.base import ShopScoped, utcnow


class ImportMap(ShopScoped):
    """One source row (table + id) and the row it became here. `value` remembers what was last
    imported where a re-run must apply only the difference (opening balances)."""

    source_table = peewee.CharField(max_length=64)
    source_id = peewee.CharField(max_length=64)
    target_id = peewee.IntegerField()
    value = peewee.CharField(max_length=255, default="")
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "source_table", "source_id"), True),)


class ImportedOrder(ShopScoped):
    """A historic order's source facts: how it was paid (ewei paytype), the payment's transaction id."""

    order_id = peewee.IntegerField(unique=True)
    source_table = peewee.CharField(max_length=32, default="order")  # ewei_shop_<this>: order | groups_order
    source_id = peewee.IntegerField()
    ordersn = peewee.CharField(max_length=64)
    paytype = peewee.SmallIntegerField(default=0)
    source_status = peewee.SmallIntegerField(default=0)
    transaction_id = peewee.CharField(max_length=64, default="")
