"""WeChat Pay: a shop's merchant keys and the payments WeChat reported."""
import peewee

from models.base import BaseModel, ShopScoped, utcnow

PAID, REFUND_PENDING, REFUNDED = "paid", "refund_pending", "refunded"
NOT_AN_ORDER = 0  # Payment.order_id of money for a recharge that could not be credited (refunded)


class ShopPayConfig(BaseModel):
    """APIv3 (public-key mode) or, for shops that only hold v2 keys, APIv2. Keys are secrets:
    stored for signing, never returned by an API."""

    shop_id = peewee.IntegerField(unique=True)
    api_version = peewee.CharField(max_length=4, default="v3")
    mch_id = peewee.CharField(max_length=32)
    app_id = peewee.CharField(max_length=64)  # the app that pays (mini-program)
    cert_serial_no = peewee.CharField(max_length=64, default="")
    private_key = peewee.TextField(default="")  # v3: merchant API private key, PEM
    apiv3_key = peewee.CharField(max_length=64, default="")
    public_key = peewee.TextField(default="")  # v3: WeChat Pay platform public key, PEM
    public_key_id = peewee.CharField(max_length=64, default="")
    v2_api_key = peewee.CharField(max_length=64, default="")
    v2_cert_pem = peewee.TextField(default="")  # v2 refunds need the merchant TLS certificate
    v2_key_pem = peewee.TextField(default="")
    updated_at = peewee.DateTimeField(default=utcnow)


class Payment(ShopScoped):
    """One successful WeChat payment. transaction_id is unique: a replayed notification finds
    its payment already recorded and changes nothing. Money that could not be applied is
    recorded `refund_pending` and refunded once."""

    order_id = peewee.IntegerField(index=True)
    out_trade_no = peewee.CharField(max_length=32)
    transaction_id = peewee.CharField(max_length=64, unique=True)
    amount_fen = peewee.BigIntegerField()
    status = peewee.CharField(max_length=16, default=PAID)
    created_at = peewee.DateTimeField(default=utcnow)


REFUND_OWED, REFUND_SENT, REFUND_SUCCESS = "owed", "sent", "success"


class PaymentRefund(ShopScoped):
    """Part (or all) of a WeChat payment given back for an after-sale: its own refund number
    (unique: WeChat deduplicates by it, so resending is safe), owed inside the refunding
    transaction, sent after commit or by the job, settled by WeChat's refund notification or a query."""

    out_trade_no = peewee.CharField(max_length=32)
    refund_no = peewee.CharField(max_length=32, unique=True)
    total_fen = peewee.BigIntegerField()  # the original payment
    amount_fen = peewee.BigIntegerField()
    reason = peewee.CharField(max_length=80, default="")
    status = peewee.CharField(max_length=8, default=REFUND_OWED)
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)
    succeeded_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "id"), False),)
