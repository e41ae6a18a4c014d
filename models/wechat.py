"""A shop's WeChat apps. Secrets are stored for server-side calls and never returned by any API."""
import peewee

from models.base import BaseModel, utcnow


class ShopWechat(BaseModel):
    shop_id = peewee.IntegerField(unique=True)
    mini_app_id = peewee.CharField(max_length=64, default="")
    mini_app_secret = peewee.CharField(max_length=128, default="")
    oa_app_id = peewee.CharField(max_length=64, default="")
    oa_app_secret = peewee.CharField(max_length=128, default="")
    updated_at = peewee.DateTimeField(default=utcnow)
