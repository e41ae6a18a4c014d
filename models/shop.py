import peewee

from models.base import BaseModel, utcnow

SHOP_ACTIVE = "active"
SHOP_SUSPENDED = "suspended"
SHOP_STATUSES = (SHOP_ACTIVE, SHOP_SUSPENDED)


class Shop(BaseModel):
    name = peewee.CharField(max_length=100)
    status = peewee.CharField(max_length=16, default=SHOP_ACTIVE)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
