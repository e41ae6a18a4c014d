"""Response models of the REST API: what an operation answers, for the OpenAPI document (and so
for generated clients). A handler method names its model with `@returns(Model)` (`paged=True`: the
list envelope `{items: [Model], total, page, page_size}`); handlers/openapi.py reads the mark and
the test suite checks every answer it receives from a marked operation against the model.

Models describe what the services render; `extra="forbid"` makes the documented field list the
whole list (the suite's check fails on a field nobody documented)."""
from __future__ import annotations

import functools
from typing import Literal

import pydantic
from pydantic import Field


def returns(model: type[pydantic.BaseModel], paged: bool = False):
    """Mark a handler method with the model of its success answer."""
    def mark(function):
        function.response_model, function.response_paged = model, paged
        return function
    return mark


class Answer(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class Position(Answer):
    """A channel's position as of a read: subscribe with `since`=`seq` and `epoch` and no event
    after the read is missed (both null when the bus was unavailable)."""
    channel: str = Field(description="the channel, e.g. goods:7", examples=["goods:7"])
    seq: int | None = Field(description="the channel's last event number")
    epoch: str | None = Field(description="the channel history's identity")


class Member(Answer):
    """A shopper as the shopper sees themself."""
    id: int = Field(description="member id")
    shop_id: int = Field(description="the shop the member belongs to")
    mobile: str | None = Field(description="mobile number (null for a WeChat-only member)", examples=["13900000001"])
    nickname: str = Field(description="display name", examples=["小明"])
    avatar: str = Field(description="avatar URL (may be empty)")
    gender: int = Field(description="0 unknown, 1 male, 2 female (WeChat's values)")
    balance_fen: int = Field(description="stored balance, in fen", examples=[10000])
    points: int = Field(description="loyalty points")
    level: int | None = Field(description="membership level id; null for the default level")
    wechat_bound: bool = Field(description="whether a WeChat account is bound")
    created_at: str = Field(description="ISO 8601 UTC")


class MemberWithChannel(Member):
    """The member, with the position of their private `member:{id}` channel."""
    channel: Position = Field(description="position of the member's channel")


class Session(Answer):
    """A signed-in shopper."""
    token: str = Field(description="member bearer JWT (audience member)")
    member: Member


class GoodsSummary(Answer):
    """Goods as a list shows them."""
    id: int = Field(description="goods id")
    title: str = Field(examples=["拼团茶"], description="title")
    subtitle: str = Field(description="subtitle (may be empty)")
    cover: str = Field(description="first image URL (may be empty)")
    category_id: int | None = Field(description="category, if any")
    price_fen: int = Field(description="price in fen; with SKUs the lowest SKU price", examples=[5900])
    market_price_fen: int = Field(description="crossed-out reference price in fen (0: none)")
    sales: int = Field(description="units sold")
    stock: int = Field(description="units in stock; with SKUs their total")


class Spec(Answer):
    name: str = Field(description="spec group, e.g. 颜色", examples=["颜色"])
    values: list[str] = Field(description="its values", examples=[["红", "蓝"]])


class Sku(Answer):
    """One purchasable combination of spec values."""
    id: int = Field(description="SKU id")
    title: str = Field(description="its values joined, e.g. 红 / M", examples=["红 / M"])
    spec_values: list[str] = Field(description="one value per spec group, in order")
    price_fen: int = Field(description="price in fen")
    stock: int = Field(description="units in stock")
    code: str = Field(description="merchant's SKU code (may be empty)")


class GoodsDetail(GoodsSummary):
    """Goods as the goods page shows them, with the position of `goods:{id}` (stock events)."""
    images: list[str] = Field(description="image URLs")
    description: str = Field(description="rich-text description (HTML)")
    weight_g: int = Field(description="weight in grams (shipping)")
    is_virtual: bool = Field(description="virtual goods need no address")
    purchase_limit: int = Field(description="most units one member may buy (0: no limit)")
    specs: list[Spec] = Field(description="spec groups; empty for goods without SKUs")
    skus: list[Sku] = Field(description="SKUs; empty for goods without specs")
    channel: Position = Field(description="position of the goods' channel")


class TeamMember(Answer):
    nickname: str = Field(description="display name")
    avatar: str = Field(description="avatar URL")
    is_leader: bool = Field(description="whether this member opened the team")


class Team(Answer):
    """A group-buy team (拼团) as shoppers see it."""
    id: int = Field(description="team id")
    activity_id: int = Field(description="its campaign")
    status: str = Field(description="pending (leader not paid yet), open, success or failed", examples=["open"])
    team_size: int = Field(description="members the team needs")
    price_fen: int = Field(description="the tier's price, in fen")
    paid_count: int = Field(description="members who have paid")
    seats_left: int = Field(description="seats not yet taken")
    expires_at: str = Field(description="when an unfilled team fails (ISO 8601 UTC)")


class TeamDetail(Team):
    """The team with who has paid and the position of `team:{id}` (top-level and as `channel`)."""
    members: list[TeamMember] = Field(description="members who have paid, in joining order")
    seq: int | None = Field(description="the team channel's position (same as channel.seq)")
    epoch: str | None = Field(description="the team channel's epoch (same as channel.epoch)")
    channel: Position = Field(description="position of the team's channel")


class Health(Answer):
    """Whether this process reaches its dependencies (503 with the same shape when one is down)."""
    status: Literal["ok", "degraded"] = Field(description="degraded when a dependency is down")
    database: Literal["ok", "down"] = Field(description="the database answers")
    bus: Literal["ok", "down"] = Field(description="the event bus (Redis, or in-process) answers")


@functools.cache
def paged(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """The list envelope of `model` (models/base.py `paginate`)."""
    return pydantic.create_model(
        f"{model.__name__}Page", __base__=Answer,
        items=(list[model], Field(description="this page's items")),
        total=(int, Field(description="items in all pages")),
        page=(int, Field(description="this page's number, from 1")),
        page_size=(int, Field(description="items per page")))
