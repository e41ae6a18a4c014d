"""Banners (adv): the carousel on the shop's home page."""
import peewee

from models.base import ShopScoped, utcnow


class Banner(ShopScoped):
    title = peewee.CharField(max_length=100, default="")
    image = peewee.CharField(max_length=512)
    link = peewee.CharField(max_length=512, default="")
    sort = peewee.IntegerField(default=0)
    enabled = peewee.BooleanField(default=True)
    starts_at = peewee.DateTimeField(null=True)
    ends_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
