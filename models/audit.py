"""Operation log (audit): who did what to which object, with before/after for sensitive changes."""
import peewee

from models.base import ShopScoped, utcnow


class AuditLog(ShopScoped):
    actor = peewee.CharField(max_length=32)  # "staff:7", "admin:1", "system"
    action = peewee.CharField(max_length=64)  # "groups.team.force_success", "order.change_price", ...
    object_type = peewee.CharField(max_length=32)
    object_id = peewee.BigIntegerField()
    before = peewee.TextField(default="{}")  # JSON
    after = peewee.TextField(default="{}")  # JSON
    note = peewee.CharField(max_length=255, default="")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "object_type", "object_id"), False), (("shop_id", "created_at"), False))
