"""The channels of `/ws` and the events each carries: the one registry the WebSocket's access check
(`CHANNEL`, `Channel.audience`), the AsyncAPI document (handlers/asyncapi.py) and the events
catalogue in docs/websocket.md are made from, so none of them can drift from the others.

A service records an event as `events.record(f"team:{id}", "team.progress", {...})`; the payload it
writes is described here by a pydantic model (tests check every recorded event against it).
`member:` and `shop:…:orders` are private; the rest are public. The `control` channel of
events.control is not here: no client can subscribe to it."""
from __future__ import annotations

import dataclasses
import re

import pydantic
from pydantic import Field

ANYONE, THAT_MEMBER, ORDERS_STAFF = "anyone", "that member", "staff with orders.view"


class Payload(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


# ---------------------------------------------------------------- payloads
class TeamState(Payload):
    """A group-buy team as it is now."""
    team_id: int = Field(description="the team")
    status: str = Field(description="pending (leader not paid yet), open, success or failed",
                        examples=["open"])
    paid_count: int = Field(description="members who have paid", examples=[2])
    seats_left: int = Field(description="seats not yet taken (paid or being paid)", examples=[1])
    team_size: int = Field(description="members the team needs", examples=[3])
    expires_at: str = Field(description="when an unfilled team fails (ISO 8601 UTC)",
                            examples=["2026-01-01T12:00:00Z"])


class ActivityJoined(Payload):
    """Someone paid a seat in one of the campaign's teams (the "just joined" bullet stream, 弹幕)."""
    team_id: int = Field(description="the team joined")
    nickname: str = Field(description="the member's nickname", examples=["小明"])
    avatar: str = Field(description="the member's avatar URL (may be empty)")


class GoodsStock(Payload):
    """The stock of goods (and of one SKU) changed."""
    goods_id: int = Field(description="the goods")
    sku_id: int | None = Field(description="the SKU whose stock changed; null for goods without SKUs")
    stock: int = Field(description="the goods' total stock now", examples=[17])
    sku_stock: int | None = Field(description="that SKU's stock now; null for goods without SKUs")


class FlashStarted(Payload):
    """The flash sale's start time has come."""
    sale_id: int = Field(description="the flash sale")
    starts_at: str = Field(description="start (ISO 8601 UTC)")
    ends_at: str = Field(description="end (ISO 8601 UTC)")


class FlashStock(Payload):
    """An item's remaining pool (coalesced: at most a few per second per item)."""
    item_id: int = Field(description="the flash-sale item")
    remaining: int = Field(description="units left in its pool", examples=[42])


class FlashSoldOut(Payload):
    """An item's pool reached zero (once)."""
    item_id: int = Field(description="the flash-sale item")


class FlashEnded(Payload):
    """The flash sale ended; pools went back to the goods."""
    sale_id: int = Field(description="the flash sale")


class OrderStatus(Payload):
    """One of the member's orders moved."""
    order_id: int = Field(description="the order")
    order_no: str = Field(description="the order number shown to people")
    status: int = Field(description="-1 cancelled, 0 unpaid, 1 paid, 2 shipped, 3 completed", examples=[1])
    previous_status: int | None = Field(description="the status before; null for a new order")
    refund_status: str = Field(description="none, partial or full", examples=["none"])


class AfterSaleStatus(Payload):
    """One of the member's after-sale requests moved."""
    aftersale_id: int = Field(description="the after-sale request")
    order_id: int = Field(description="its order")
    status: str = Field(description="requested, approved, returned, refunded, exchanged, rejected or cancelled")
    type: str = Field(description="refund, return or exchange")


class RechargePaid(Payload):
    """A balance recharge was paid and credited."""
    recharge_id: int = Field(description="the recharge")
    amount_fen: int = Field(description="credited, in fen")
    bonus_fen: int = Field(description="bonus credited on top, in fen")


class CommissionCreated(Payload):
    """A distribution commission was earned (frozen until the order completes)."""
    order_no: str = Field(description="the order that earned it")
    level: int = Field(description="distribution level (1 = direct)", examples=[1])
    amount_fen: int = Field(description="commission, in fen")


class WithdrawalReviewed(Payload):
    """The merchant approved or rejected one of the member's withdrawals, or its money was paid out."""
    withdrawal_id: int = Field(description="the withdrawal")
    status: str = Field(description="approved (paid out next), rejected (the amount is back in its source) "
                                    "or paid", examples=["paid"])
    previous_status: str = Field(description="pending, or approved for a payout after approval", examples=["pending"])
    amount_fen: int = Field(description="amount, in fen")
    source: str = Field(description="balance or commission: where the money came from")
    target: str = Field(description="wechat (the member's WeChat wallet) or balance")
    reject_reason: str = Field(description="the merchant's reason when rejected, else empty")


class ShopOrder(Payload):
    """An order of the shop as the order board needs it."""
    order_id: int = Field(description="the order")
    order_no: str = Field(description="the order number shown to people")
    member_id: int = Field(description="the buyer")
    total_fen: int = Field(description="order total, in fen")
    status: int = Field(description="-1 cancelled, 0 unpaid, 1 paid, 2 shipped, 3 completed")


class RefundRequested(ShopOrder):
    """The buyer asked for the order's money back."""
    reason: str = Field(description="the buyer's reason")
    aftersale_id: int = Field(description="the after-sale request it opened")


class TeamSucceeded(Payload):
    """A team of the shop filled up."""
    team_id: int = Field(description="the team")
    activity_id: int = Field(description="its campaign")
    team_size: int = Field(description="members it had")


class AfterSaleRequested(Payload):
    """A buyer opened an after-sale request."""
    aftersale_id: int = Field(description="the after-sale request")
    order_id: int = Field(description="its order")
    order_no: str = Field(description="the order number")
    type: str = Field(description="refund, return or exchange")
    amount_fen: int = Field(description="money asked back, in fen")
    member_id: int = Field(description="the buyer")


class AfterSaleReturned(Payload):
    """The buyer shipped the goods of a return or exchange back."""
    aftersale_id: int = Field(description="the after-sale request")
    order_id: int = Field(description="its order")
    order_no: str = Field(description="the order number")
    type: str = Field(description="return or exchange")
    express_company: str = Field(description="carrier")
    express_no: str = Field(description="tracking number")


class SystemTest(pydantic.BaseModel):
    """`POST /api/admin/events/test`: whatever object the operator sent (any channel)."""
    model_config = pydantic.ConfigDict(extra="allow")


# ---------------------------------------------------------------- channels
@dataclasses.dataclass(frozen=True)
class Channel:
    name: str  # the pattern as clients write it, e.g. "team:{team_id}"
    audience: str  # ANYONE, THAT_MEMBER or ORDERS_STAFF
    description: str
    events: dict[str, type[pydantic.BaseModel]]

    @property
    def regex(self) -> str:
        return re.sub(r"\{\w+\}", r"\\d{1,18}", self.name)


CHANNELS: list[Channel] = [
    Channel("team:{team_id}", ANYONE, "A group-buy team filling up.",
            {"team.progress": TeamState, "team.success": TeamState, "team.failed": TeamState}),
    Channel("activity:{activity_id}", ANYONE, "A group-buy campaign: who just joined.",
            {"activity.joined": ActivityJoined}),
    Channel("goods:{goods_id}", ANYONE, "Stock of goods.", {"goods.stock": GoodsStock}),
    Channel("flash:{sale_id}", ANYONE, "A flash sale (秒杀): start, remaining stock, sold out, end.",
            {"flash.started": FlashStarted, "flash.stock": FlashStock, "flash.sold_out": FlashSoldOut,
             "flash.ended": FlashEnded}),
    Channel("member:{member_id}", THAT_MEMBER,
            "A member's own orders, after-sales, recharges, commissions, withdrawals.",
            {"order.status": OrderStatus, "aftersale.status": AfterSaleStatus, "recharge.paid": RechargePaid,
             "commission.created": CommissionCreated, "withdrawal.reviewed": WithdrawalReviewed}),
    Channel("shop:{shop_id}:orders", ORDERS_STAFF, "The shop's order board: what staff wait for.",
            {"order.created": ShopOrder, "order.paid": ShopOrder, "refund.requested": RefundRequested,
             "team.success": TeamSucceeded, "aftersale.requested": AfterSaleRequested,
             "aftersale.returned": AfterSaleReturned}),
]
SYSTEM_TEST = "system.test"  # any channel, from the operators' test push

_PUBLIC = "|".join(c.regex for c in CHANNELS if c.audience == ANYONE)
# group 1: the member id of `member:{id}`, group 2: the shop id of `shop:{id}:orders`
CHANNEL = re.compile(rf"^(?:{_PUBLIC}|member:(\d{{1,18}})|shop:(\d{{1,18}}):orders)$")
assert {c.name for c in CHANNELS if c.audience != ANYONE} == {"member:{member_id}", "shop:{shop_id}:orders"}


def channel_of(name: str) -> Channel | None:
    """The registry entry of a concrete channel name such as `team:42`."""
    return next((c for c in CHANNELS if re.fullmatch(c.regex, name)), None)
