"""Daily rollups for the dashboard: one row per shop per closed UTC day (and per goods), written
once by the rollup job, so a 30-day dashboard reads 30 small rows instead of every order."""
import peewee

from models.base import BaseModel, ShopScoped, utcnow


class DailyStat(ShopScoped):
    day = peewee.DateField()
    orders = peewee.IntegerField(default=0)  # paid that day
    gmv_fen = peewee.BigIntegerField(default=0)
    new_members = peewee.IntegerField(default=0)
    teams_succeeded = peewee.IntegerField(default=0)
    teams_failed = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("shop_id", "day"), True),)


class DailyGoodsStat(ShopScoped):
    day = peewee.DateField()
    goods_id = peewee.IntegerField()
    title = peewee.CharField(max_length=100, default="")
    quantity = peewee.IntegerField(default=0)
    sales_fen = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("shop_id", "day", "goods_id"), True),)


class RollupDay(BaseModel):
    """A UTC day whose rollup is complete for every shop (days are rolled up in order)."""

    day = peewee.DateField(primary_key=True)
    done_at = peewee.DateTimeField(default=utcnow)
