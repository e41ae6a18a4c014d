"""WeChat Pay: a shop's merchant keys and the payments WeChat reported."""
import peewee

from models.base import BaseModel, ShopScoped, utcnow

PAID, REFUND_PENDING, REFUNDED = "paid", "refund_pending", "refunded"


class ShopPayConfig(BaseModel):
    """APIv3 in public-key mode. Keys are secrets: stored for signing, never returned by an API."""

    shop_id = peewee.IntegerField(unique=True)
    mch_id = peewee.CharField(max_length=32)
    app_id = peewee.CharField(max_length=64)  # the app that pays (mini-program)
    cert_serial_no = peewee.CharField(max_length=64)
    private_key = peewee.TextField()  # merchant API private key, PEM
    apiv3_key = peewee.CharField(max_length=64)
    public_key = peewee.TextField()  # WeChat Pay platform public key, PEM
    public_key_id = peewee.CharField(max_length=64)
    updated_at = peewee.DateTimeField(default=utcnow)


class Payment(ShopScoped):
    """One successful WeChat payment. transaction_id is unique: a replayed notification finds
    its payment already recorded and changes nothing."""

    order_id = peewee.IntegerField(index=True)
    out_trade_no = peewee.CharField(max_length=32)
    transaction_id = peewee.CharField(max_length=64, unique=True)
    amount_fen = peewee.BigIntegerField()
    status = peewee.CharField(max_length=16, default=PAID)
    created_at = peewee.DateTimeField(default=utcnow)
