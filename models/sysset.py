"""Per-shop settings, stored as one validated JSON document (services/sysset.py owns its shape)."""
import peewee

from models.base import BaseModel, utcnow


class ShopSettings(BaseModel):
    shop_id = peewee.IntegerField(unique=True)
    data = peewee.TextField(default="{}")
    updated_at = peewee.DateTimeField(default=utcnow)
