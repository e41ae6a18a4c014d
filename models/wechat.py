"""A shop's WeChat apps. Secrets are stored for server-side calls and never returned by any API."""
import peewee

from models.base import BaseModel, ShopScoped, utcnow


class ShopWechat(BaseModel):
    shop_id = peewee.IntegerField(unique=True)
    mini_app_id = peewee.CharField(max_length=64, default="")
    mini_app_secret = peewee.CharField(max_length=128, default="")
    oa_app_id = peewee.CharField(max_length=64, default="")
    oa_app_secret = peewee.CharField(max_length=128, default="")
    updated_at = peewee.DateTimeField(default=utcnow)


class StaffWechat(ShopScoped):
    """A staff member's openid on the shop's official account (bound by OAuth), for the new-order
    and after-sale alerts (template messages). Tied to the app it was bound on: a shop that changes
    its official account has its staff bind again."""

    staff_id = peewee.IntegerField(unique=True)
    app_id = peewee.CharField(max_length=64)
    openid = peewee.CharField(max_length=64)
    bound_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "app_id", "openid"), True),)  # one WeChat account alerts one staff member
