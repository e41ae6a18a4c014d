"""Catalog: two-level categories, goods, SKUs generated from spec groups, and the stock ledger."""
import peewee

from models.base import ShopScoped, utcnow

ON_SALE, OFF_SALE = "on_sale", "off_sale"


class Category(ShopScoped):
    parent_id = peewee.IntegerField(null=True)  # None: top level; otherwise a top-level category
    name = peewee.CharField(max_length=64)
    sort = peewee.IntegerField(default=0)
    enabled = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)


class Goods(ShopScoped):
    category_id = peewee.IntegerField(null=True)
    title = peewee.CharField(max_length=200)
    subtitle = peewee.CharField(max_length=255, default="")
    images = peewee.TextField(default="[]")  # JSON list of URLs; the first is the cover
    description = peewee.TextField(default="")  # rich text (HTML) as the merchant wrote it
    # With SKUs, price_fen is the lowest SKU price and stock the sum of SKU stock.
    price_fen = peewee.BigIntegerField()
    market_price_fen = peewee.BigIntegerField(default=0)
    stock = peewee.IntegerField(default=0)
    sales = peewee.IntegerField(default=0)
    weight_g = peewee.IntegerField(default=0)
    status = peewee.CharField(max_length=16, default=OFF_SALE)
    sort = peewee.IntegerField(default=0)
    is_virtual = peewee.BooleanField(default=False)
    purchase_limit = peewee.IntegerField(default=0)  # per member, 0 = unlimited
    # distribution: per-level commission rates in basis points ([1000, 500] = 10%, 5%); null = the shop's
    commission_rates_bp = peewee.CharField(max_length=64, null=True)
    specs = peewee.TextField(default="[]")  # JSON [{"name": "颜色", "values": ["红", "蓝"]}]
    has_skus = peewee.BooleanField(default=False)
    deleted_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "status", "deleted_at", "sort"), False),)


class Sku(ShopScoped):
    goods_id = peewee.IntegerField(index=True)
    title = peewee.CharField(max_length=200)
    spec_values = peewee.TextField(default="[]")  # JSON list, one value per spec group, in order
    price_fen = peewee.BigIntegerField()
    stock = peewee.IntegerField(default=0)
    code = peewee.CharField(max_length=64, default="")
    sort = peewee.IntegerField(default=0)
    # SKUs are never hard-deleted: orders keep pointing at them
    deleted_at = peewee.DateTimeField(null=True)


class StockLedger(ShopScoped):
    goods_id = peewee.IntegerField(index=True)
    sku_id = peewee.IntegerField(null=True)
    delta = peewee.IntegerField()
    stock_after = peewee.IntegerField()
    reason = peewee.CharField(max_length=32)  # adjust | order | release | ...
    remark = peewee.CharField(max_length=255, default="")
    staff_id = peewee.IntegerField(null=True)
    reference = peewee.CharField(max_length=64, default="")
    created_at = peewee.DateTimeField(default=utcnow)
