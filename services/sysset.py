"""Per-shop settings: one JSON document with defaults, validated as a whole on every change.

Merchants PATCH any subset (nested objects merge); the stored document is always complete and
valid, so readers (order jobs, pricing, group-buy) never handle a missing key. Shoppers see the
`public` subset only.
"""
from __future__ import annotations

import json
from typing import Any, Literal

import peewee
import pydantic

import events
from events.control import CONTROL_CHANNEL, on_control
from lib.cache import TTLCache
from lib.errors import invalid
from models.base import utcnow
from models.shop import Shop
from models.sysset import ShopSettings
from services import audit


class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class ShopInfo(_Section):
    name: str = pydantic.Field("", max_length=100)
    logo: str = pydantic.Field("", max_length=512)
    notice: str = pydantic.Field("", max_length=1000)
    service_phone: str = pydantic.Field("", max_length=32)


class OrderRules(_Section):
    unpaid_cancel_minutes: int = pydantic.Field(30, ge=5, le=7 * 24 * 60)
    auto_confirm_days: int = pydantic.Field(7, ge=1, le=60)
    refund_window_days: int = pydantic.Field(7, ge=0, le=60)
    shipping_fee_fen: int = pydantic.Field(0, ge=0, le=100_000_00)
    # put refunded goods back on sale (off for perishables that cannot be resold)
    restock_on_refund: bool = True
    # a parcel the tracking provider reports delivered is confirmed this many days after its
    # delivery (if that is sooner than auto_confirm_days after shipping); null = only auto_confirm_days
    confirm_days_after_delivered: int | None = pydantic.Field(None, ge=0, le=60)


class ReturnAddress(_Section):
    name: str = pydantic.Field("", max_length=64)
    mobile: str = pydantic.Field("", max_length=20)
    province: str = pydantic.Field("", max_length=32)
    city: str = pydantic.Field("", max_length=32)
    district: str = pydantic.Field("", max_length=32)
    detail: str = pydantic.Field("", max_length=255)


class AfterSaleRules(_Section):
    # after-sales may be asked for until order.refund_window_days after completion
    auto_approve_days: int = pydantic.Field(3, ge=1, le=30)  # a request the merchant ignores is approved then
    return_ship_days: int = pydantic.Field(7, ge=1, le=30)  # an approved return the buyer never ships closes then
    return_address: ReturnAddress = ReturnAddress()  # where returns go unless an approval names another


class GroupRules(_Section):
    default_duration_hours: int = pydantic.Field(24, ge=1, le=30 * 24)
    default_team_size: int = pydantic.Field(2, ge=2, le=100)


class FlashRules(_Section):
    # a flash-sale order holds a unit that other buyers are waiting for: it must be paid soon
    unpaid_cancel_minutes: int = pydantic.Field(5, ge=1, le=60)


class PointsRules(_Section):
    enabled: bool = True
    points_per_yuan: int = pydantic.Field(1, ge=0, le=1000)  # earned per ¥1 paid on completion
    deduct_enabled: bool = False
    points_per_yuan_deduct: int = pydantic.Field(100, ge=1, le=100_000)  # points worth ¥1 at checkout
    deduct_max_percent: int = pydantic.Field(20, ge=0, le=100)
    # a completed order that is refunded takes back the points it earned; when the member has
    # spent some of them meanwhile: "forgive" takes back what is left (the ledger row says how many
    # could not be), "refuse" answers the refund approval 409 `reward_points_spent` instead
    refund_spent_rewards: Literal["forgive", "refuse"] = "forgive"


class BalanceRules(_Section):
    recharge_enabled: bool = True
    min_recharge_fen: int = pydantic.Field(100, ge=1)
    withdraw_enabled: bool = True
    min_withdraw_fen: int = pydantic.Field(100, ge=1)
    withdraw_daily_count: int = pydantic.Field(3, ge=0, le=100)


class ReductionTier(_Section):
    min_fen: int = pydantic.Field(ge=1, le=10**10)  # spend at least this (after the level discount) ...
    off_fen: int = pydantic.Field(ge=1, le=10**10)  # ... and this much comes off

    @pydantic.model_validator(mode="after")
    def _below_threshold(self):
        if self.off_fen >= self.min_fen:
            raise ValueError("off_fen must be below min_fen")
        return self


class BonusTier(_Section):
    min_fen: int = pydantic.Field(ge=1, le=10**10)  # recharge at least this ...
    bonus_fen: int = pydantic.Field(ge=1, le=10**10)  # ... and get this much on top (充值满送)


class SaleRules(_Section):
    full_reduction: list[ReductionTier] = pydantic.Field(default_factory=list, max_length=10)  # 满减; best tier applies
    free_shipping_min_fen: int = pydantic.Field(0, ge=0, le=10**10)  # 满额包邮; 0 = off
    return_coupon_on_refund: bool = True  # a refunded order gives its coupons back (a cancelled one always does)
    recharge_bonus: list[BonusTier] = pydantic.Field(default_factory=list, max_length=10)


class DistributionRules(_Section):
    enabled: bool = False
    levels: int = pydantic.Field(1, ge=1, le=3)  # how far up the referral chain commission goes
    rates_bp: list[pydantic.conint(ge=0, le=5000)] = pydantic.Field(
        default_factory=lambda: [1000, 500, 200], min_length=1, max_length=3)  # per level, basis points (1000 = 10%)
    auto_approve: bool = False  # applications become distributors at once
    self_purchase: bool = False  # 内购: a distributor's own orders earn them level-1 commission
    bind_on: Literal["link", "first_order"] = "link"  # when a share link's referrer becomes the parent
    settle_days: int = pydantic.Field(7, ge=0, le=365)  # after completion, commission becomes withdrawable


class TrackingRules(_Section):
    """Parcel tracking (services/tracking): the provider and the shop's account with it. The key
    is a secret: it goes in, and answers only say whether one is set (`key_set`)."""
    provider: Literal["kuaidi100"] = "kuaidi100"
    customer: str = pydantic.Field("", max_length=64)  # kuaidi100's `customer` id
    key: str = pydantic.Field("", max_length=64)  # kuaidi100's authorization key (signs every query)
    cache_minutes: int = pydantic.Field(30, ge=1, le=24 * 60)  # a route is asked for again after this


class NotifyRules(_Section):
    """WeChat messages (services/notify). `miniprogram_state` is passed on every subscription
    message: which version of the mini-program a tap opens — `formal` (released), `trial` (体验版)
    or `developer` (开发版), so a shop testing its pages can point the messages at them."""
    miniprogram_state: Literal["formal", "trial", "developer"] = "formal"


class Settings(_Section):
    shop: ShopInfo = ShopInfo()
    order: OrderRules = OrderRules()
    aftersale: AfterSaleRules = AfterSaleRules()
    groups: GroupRules = GroupRules()
    flash: FlashRules = FlashRules()
    points: PointsRules = PointsRules()
    balance: BalanceRules = BalanceRules()
    sale: SaleRules = SaleRules()
    distribution: DistributionRules = DistributionRules()
    tracking: TrackingRules = TrackingRules()
    notify: NotifyRules = NotifyRules()

    @pydantic.model_validator(mode="after")
    def _settle_after_refunds(self):
        # commission must not become withdrawable while its order can still be refunded
        if self.distribution.enabled and self.distribution.settle_days < self.order.refund_window_days:
            raise ValueError("distribution.settle_days must be at least order.refund_window_days")
        return self


def _merge(base: dict, changes: dict) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


# Settings are read by most shopper requests (every order prices with them) and change rarely:
# each process keeps them 5 s. A change drops them here at once and in every other process via the
# `shop.changed` control message (as the shop's status cache); the expiry only bounds how long a
# lost message could matter. Callers get a shared object and must not change it.
_settings = TTLCache(ttl_seconds=5)


def forget_settings(shop_id: int) -> None:
    _settings.drop(shop_id)


on_control("shop.changed", lambda data: forget_settings(data["shop_id"]))


async def get_settings(shop_id: int) -> Settings:
    cached = _settings.get(shop_id)
    if cached is not None:
        return cached
    row = await ShopSettings.aio_get_or_none(ShopSettings.shop_id == shop_id)
    stored = json.loads(row.data) if row else {}
    settings = Settings.model_validate(_merge(Settings().model_dump(), stored))
    if not settings.shop.name:
        shop = await Shop.aio_get_or_none(Shop.id == shop_id)
        settings.shop.name = shop.name if shop else ""
    _settings.put(shop_id, settings)
    return settings


async def update_settings(shop_id: int, changes: dict[str, Any]) -> dict:
    current = await get_settings(shop_id)
    try:
        updated = Settings.model_validate(_merge(current.model_dump(), changes))
    except pydantic.ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                  for e in exc.errors(include_url=False, include_input=False)]
        raise invalid("settings are invalid", {"fields": fields}) from None
    data = updated.model_dump_json()
    old, new = current.model_dump(), updated.model_dump()
    changed = [section for section in new if new[section] != old[section]]
    async with events.atomic():
        if not await _write(shop_id, data):
            try:
                await ShopSettings.insert(shop_id=shop_id, data=data).aio_execute()
            except peewee.IntegrityError:  # another request created the row first
                await _write(shop_id, data)
        if changed:
            old, new = redacted(old), redacted(new)
            await audit.record(shop_id, "settings.update", "settings", shop_id, {k: old[k] for k in changed},
                               {k: new[k] for k in changed})
            await events.record(CONTROL_CHANNEL, "shop.changed", {"shop_id": shop_id})  # other processes forget
    forget_settings(shop_id)
    return redacted(updated.model_dump())


def redacted(document: dict) -> dict:
    """The settings as answers and the audit log show them: secrets replaced by whether one is set."""
    tracking = dict(document["tracking"])
    tracking["key_set"] = bool(tracking.pop("key"))
    return {**document, "tracking": tracking}


async def _write(shop_id: int, data: str) -> int:
    return await ShopSettings.update(data=data, updated_at=utcnow()).where(ShopSettings.shop_id == shop_id).aio_execute()


def public_settings(settings: Settings) -> dict:
    """What a shopper may see: the shop card and the rules that affect their orders."""
    return {
        "shop": settings.shop.model_dump(),
        "order": {"refund_window_days": settings.order.refund_window_days,
                  "auto_confirm_days": settings.order.auto_confirm_days,
                  "unpaid_cancel_minutes": settings.order.unpaid_cancel_minutes,
                  "shipping_fee_fen": settings.order.shipping_fee_fen},
        "aftersale": {"auto_approve_days": settings.aftersale.auto_approve_days,
                      "return_ship_days": settings.aftersale.return_ship_days},
        "points": {"enabled": settings.points.enabled, "deduct_enabled": settings.points.deduct_enabled,
                   "points_per_yuan_deduct": settings.points.points_per_yuan_deduct,
                   "deduct_max_percent": settings.points.deduct_max_percent},
        "balance": {"recharge_enabled": settings.balance.recharge_enabled},
        "sale": {"full_reduction": [t.model_dump() for t in settings.sale.full_reduction],
                 "free_shipping_min_fen": settings.sale.free_shipping_min_fen,
                 "recharge_bonus": [t.model_dump() for t in settings.sale.recharge_bonus]},
    }
