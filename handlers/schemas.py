"""Response models of the REST API: what an operation answers, for the OpenAPI document (and so
for generated clients). A handler method names its model with `@returns(Model)` (`paged=True`: the
list envelope `{items: [Model], total, page, page_size}`); handlers/openapi.py reads the mark and
the test suite checks every answer it receives from a marked operation against the model.

Models describe what the services render; `extra="forbid"` makes the documented field list the
whole list (the suite's check fails on a field nobody documented)."""
from __future__ import annotations

import functools
from typing import Any, Literal

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
    member: Member = Field(description="the member signed in")


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


class MerchantTeam(Team):
    """A team as the merchant lists it: with who opened it and how it ended."""
    closed_by: str | None = Field(description="how it ended early: null, simulated or forced")
    leader_member_id: int = Field(description="the member who opened it")
    created_at: str = Field(description="ISO 8601 UTC")
    succeeded_at: str | None = Field(description="when it filled (ISO 8601 UTC)")
    failed_at: str | None = Field(description="when it failed (ISO 8601 UTC)")


class MyTeam(Team):
    """One of the member's teams, with the member's order in it."""
    order_id: int = Field(description="the member's order in this team")


class Tier(Answer):
    team_size: int = Field(description="members a team of this tier needs", examples=[3])
    price_fen: int = Field(description="price per member, in fen", examples=[3900])


class SkuPrice(Tier):
    sku_id: int = Field(description="the SKU")


class Share(Answer):
    title: str = Field(description="share card title (the campaign title unless set)")
    image: str = Field(description="share card image URL (may be empty)")
    description: str = Field(description="share card text (may be empty)")


class Activity(Answer):
    """A group-buy campaign (拼团活动)."""
    id: int = Field(description="campaign id")
    title: str = Field(description="title", examples=["好茶拼团"])
    goods_id: int = Field(description="the goods it sells")
    tiers: list[Tier] = Field(description="team sizes and their prices")
    sku_prices: list[SkuPrice] = Field(description="SKU prices per team size (a SKU not listed pays the tier's price)")
    single_price_fen: int | None = Field(description="price when buying alone, in fen (null: the goods' price)")
    duration_seconds: int = Field(description="how long a team has to fill")
    purchase_limit: int = Field(description="most units one member may buy in this campaign (0: no limit)")
    starts_at: str | None = Field(description="start (ISO 8601 UTC); null: already running")
    ends_at: str | None = Field(description="end (ISO 8601 UTC); null: open-ended")
    enabled: bool = Field(description="switched on by the merchant")
    simulate_min_paid: int = Field(description="a team with this many paid members succeeds when it expires "
                                               "(0: never simulated)")
    pickup: bool = Field(description="orders are picked up in store (pickup code) rather than shipped")
    share: Share = Field(description="the share card")
    service_contact: str = Field(description="customer-service contact shown on the page (may be empty)")
    content: str = Field(description="rich-text page content (HTML, may be empty)")
    visits: int = Field(description="page views")
    shares: int = Field(description="times shared")


class RecentBuyer(Answer):
    nickname: str = Field(description="display name")
    avatar: str = Field(description="avatar URL")
    paid_at: str | None = Field(description="when they paid (ISO 8601 UTC)")


class ActivityDetail(Activity):
    """The campaign page: open teams to join, recent buyers, the position of `activity:{id}`."""
    sales: int = Field(description="orders paid in this campaign")
    open_teams: list[Team] = Field(description="up to 10 open teams, the closest to filling first")
    recent_buyers: list[RecentBuyer] = Field(description="the latest paying members")
    channel: Position = Field(description="position of the campaign's channel")


class OrderItem(Answer):
    id: int = Field(description="order item id")
    goods_id: int = Field(description="the goods bought")
    sku_id: int | None = Field(description="the SKU bought (null for goods without specs)")
    title: str = Field(description="the goods' title when ordered")
    sku_title: str = Field(description="the SKU's values when ordered (may be empty)")
    image: str = Field(description="image URL when ordered")
    price_fen: int = Field(description="unit price, in fen")
    quantity: int = Field(description="units")
    total_fen: int = Field(description="price_fen × quantity")
    paid_fen: int = Field(description="this line's share of what was paid, after discounts, in fen")
    refunded_quantity: int = Field(description="units refunded through after-sales")


class Discount(Answer):
    type: Literal["level", "coupon", "full_reduction", "points"] = Field(description="which rule took it off")
    label: str = Field(description="what the shopper sees, e.g. the coupon's name")
    amount_fen: int = Field(description="fen taken off")
    coupon_id: int = Field(None, description="the coupon (type coupon)")
    points: int = Field(None, description="points spent (type points)")


class OrderLog(Answer):
    action: str = Field(description="what happened, e.g. pay, ship", examples=["pay"])
    from_status: int | None = Field(description="status before")
    to_status: int | None = Field(description="status after")
    actor: str = Field(description="who did it, e.g. member:7, staff:2, system")
    note: str = Field(description="free text (may be empty)")
    created_at: str = Field(description="ISO 8601 UTC")


class OrderAfterSale(Answer):
    id: int = Field(description="after-sale id")
    type: str = Field(description="refund, return or exchange")
    status: str = Field(description="its state")
    amount_fen: int = Field(description="amount asked, in fen")
    reason: str = Field(description="the shopper's reason")
    reject_reason: str = Field(description="the merchant's reason when rejected (may be empty)")


class ImportedFacts(Answer):
    """A historic order brought over from ewei_shopv2 (人人商城) by `server.py import-ewei`: read-only,
    with how the old shop recorded its payment."""
    source: Literal["ewei_shopv2"] = Field(description="the system it came from")
    source_order_no: str = Field(description="its order number there (ordersn / orderno)")
    paytype: int = Field(description="ewei paytype: 1 balance, 11 paid by admin, 21 WeChat, 22 Alipay, 23 UnionPay, "
                                     "3 cash on delivery, 4 cashier; 0 unpaid", examples=[21])
    paytype_name: str = Field(description="the paytype as a word (balance, admin, wechat, alipay, unionpay, cod, "
                                          "cashier; unknown for 0 or any other)")
    transaction_id: str = Field(description="the payment's transaction id at WeChat Pay / Alipay (may be empty)")
    source_status: int = Field(description="its status there (-1 cancelled, 0 unpaid, 1 paid, 2 shipped, 3 completed)")


class Order(Answer):
    """An order. Money in fen: total_fen = goods_total_fen − discounts + shipping_fee_fen +
    price_adjustment_fen."""
    id: int = Field(description="order id")
    order_no: str = Field(description="order number shown to people and to WeChat Pay")
    member_id: int = Field(description="the buyer")
    status: Literal[-1, 0, 1, 2, 3] = Field(description="-1 cancelled, 0 unpaid, 1 paid, 2 shipped, 3 completed",
                                           examples=[1])
    status_name: Literal["cancelled", "unpaid", "paid", "shipped", "completed"] = Field(description="the status as a word")
    refund_status: str = Field(description="none, partial or full: how much has been refunded")
    refunded_fen: int = Field(description="refunded so far, in fen")
    goods_total_fen: int = Field(description="sum of the items, in fen")
    level_discount_fen: int = Field(description="membership level discount, in fen")
    coupon_discount_fen: int = Field(description="coupon discount, in fen")
    full_reduction_fen: int = Field(description="spend-and-save discount, in fen")
    points_deduction_fen: int = Field(description="paid with points, in fen")
    points_used: int = Field(description="points spent")
    discounts: list[Discount] = Field(description="every discount, as shown to the shopper")
    shipping_fee_fen: int = Field(description="shipping, in fen")
    price_adjustment_fen: int = Field(description="merchant's price change of an unpaid order (negative: cheaper)")
    total_fen: int = Field(description="amount to pay, in fen", examples=[3900])
    pay_method: str = Field(description="balance or wechat once paid (empty before)")
    address: dict[str, Any] = Field(description="the delivery address as it was when ordered")
    remark: str = Field(description="the shopper's note (may be empty)")
    express_company: str | None = Field(description="carrier, once shipped")
    express_no: str | None = Field(description="tracking number, once shipped")
    refund_reason: str | None = Field(description="the shopper's refund reason")
    refund_reject_reason: str | None = Field(description="the merchant's reason for refusing the refund")
    cancel_reason: str | None = Field(description="why it was cancelled")
    expires_at: str | None = Field(description="an unpaid order is cancelled then (ISO 8601 UTC)")
    auto_confirm_at: str | None = Field(description="a shipped order completes itself then (ISO 8601 UTC)")
    paid_at: str | None = Field(description="ISO 8601 UTC")
    shipped_at: str | None = Field(description="ISO 8601 UTC")
    completed_at: str | None = Field(description="ISO 8601 UTC")
    created_at: str = Field(description="ISO 8601 UTC")
    team_id: int | None = Field(description="its group-buy team, if any")
    activity_id: int | None = Field(description="its group-buy campaign, if any")
    flash_item_id: int | None = Field(description="its flash-sale item, if any")
    imported: ImportedFacts | None = Field(description="set on a historic order imported from the previous shop "
                                                       "system: read-only (every change answers 409 order_imported)")
    pickup_code: str | None = Field(description="code to show in store (paid pickup orders only)")
    items: list[OrderItem] = Field(description="what was bought")
    aftersales: list[OrderAfterSale] = Field(None, description="its after-sale requests (reads of one order)")


class MerchantOrder(Order):
    """An order as the merchant sees it: with the merchant's remark and, on a read, its log."""
    merchant_remark: str = Field(description="the merchant's own note (may be empty)")
    logs: list[OrderLog] = Field(None, description="every move of the order (reads of one order)")
    wechat_shipping: dict[str, Any] | None = Field(None, description="state of the shipping-info upload to WeChat "
                                                                      "(reads of one order)")


class Prepay(Answer):
    """What the mini program needs to open WeChat Pay for the order (wx.requestPayment)."""
    order_id: int = Field(description="the order")
    pay_params: dict[str, Any] = Field(description="the wx.requestPayment parameters, signed")


class PayAnswer(pydantic.RootModel[Order | Prepay]):
    """The paid order (balance), or the parameters to pay it with WeChat Pay (method wechat)."""


class TeamPlaced(Answer):
    """A team opened or joined: the team and the member's (unpaid) order in it."""
    team: TeamDetail = Field(description="the team, with the member's seat")
    order: Order = Field(description="the member's order in it, unpaid: pay it before the team's deadline")


class AfterSaleLine(Answer):
    order_item_id: int = Field(description="the order line")
    quantity: int = Field(description="units of that line")
    amount_fen: int = Field(description="their share of what was paid, in fen")


class AfterSaleLog(Answer):
    action: str = Field(description="what happened, e.g. approve, receive")
    from_status: str | None = Field(description="state before")
    to_status: str | None = Field(description="state after")
    actor: str = Field(description="who did it, e.g. member:7, staff:2, system")
    note: str = Field(description="free text (may be empty)")
    created_at: str = Field(description="ISO 8601 UTC")


class AfterSale(Answer):
    """An after-sale request (售后): refund only, return and refund, or exchange of some units."""
    id: int = Field(description="after-sale id")
    aftersale_no: str = Field(description="its number, also the WeChat Pay refund number")
    order_id: int = Field(description="the order")
    member_id: int = Field(description="the member who asked")
    type: Literal["refund", "return", "exchange"] = Field(description="refund only, return and refund, or exchange")
    status: Literal["requested", "approved", "returned", "received", "refunded", "exchanged", "rejected",
                    "cancelled"] = Field(description="where it stands")
    reason: str = Field(description="the shopper's reason")
    images: list[str] = Field(description="photos the shopper attached")
    items: list[AfterSaleLine] = Field(description="the units asked about")
    goods_fen: int = Field(description="refund for the goods, in fen")
    shipping_fen: int = Field(description="refund of shipping, in fen")
    amount_fen: int = Field(description="the whole refund, in fen (0 for an exchange)")
    points: int = Field(description="points given back")
    refund_method: str = Field(description="balance or wechat: where the money goes back (empty for an exchange)")
    refund_state: str | None = Field(description="WeChat Pay's refund state (reads of one WeChat refund)")
    return_address: dict[str, Any] = Field(description="where to send the goods back (return, exchange)")
    express_company: str = Field(description="carrier of the goods sent back")
    express_no: str = Field(description="tracking number of the goods sent back")
    reship_company: str = Field(description="carrier of the replacement (exchange)")
    reship_no: str = Field(description="tracking number of the replacement (exchange)")
    reject_reason: str = Field(description="the merchant's reason when rejected")
    close_reason: str = Field(description="why it closed without the merchant (cancelled, timed out)")
    approve_due_at: str | None = Field(description="approved by itself then unless the merchant acts (ISO 8601 UTC)")
    return_due_at: str | None = Field(description="closes then unless the goods are sent back (ISO 8601 UTC)")
    approved_at: str | None = Field(description="ISO 8601 UTC")
    returned_at: str | None = Field(description="when the shopper sent the goods back (ISO 8601 UTC)")
    received_at: str | None = Field(description="when the merchant received them (ISO 8601 UTC)")
    refunded_at: str | None = Field(description="ISO 8601 UTC")
    closed_at: str | None = Field(description="ISO 8601 UTC")
    created_at: str = Field(description="ISO 8601 UTC")
    logs: list[AfterSaleLog] = Field(description="every step (empty in lists)")


class MerchantFlashItem(Answer):
    """One item of a flash sale: its pool and price (what the merchant set up)."""
    id: int = Field(description="flash item id (what a buyer names)")
    goods_id: int = Field(description="the goods")
    sku_id: int | None = Field(description="the SKU, for goods with specs")
    price_fen: int = Field(description="the flash price, in fen")
    stock: int = Field(description="units put up for the sale")
    remaining: int = Field(description="units not yet sold")
    per_member_limit: int = Field(description="most units one member may buy")


class FlashItem(MerchantFlashItem):
    """An item as shoppers see it: with the goods' title, SKU and image, and the usual price."""
    title: str = Field(description="the goods' title")
    sku_title: str = Field(description="the SKU's values (may be empty)")
    image: str = Field(description="first image URL (may be empty)")
    original_price_fen: int | None = Field(description="the usual price, in fen")


class MerchantFlashSale(Answer):
    """A flash sale as the merchant sets it up."""
    id: int = Field(description="flash sale id")
    title: str = Field(description="title")
    starts_at: str = Field(description="ISO 8601 UTC")
    ends_at: str = Field(description="ISO 8601 UTC")
    status: Literal["upcoming", "running", "ended"] = Field(description="as of the read")
    items: list[MerchantFlashItem] = Field(description="what it sells")


class FlashSale(MerchantFlashSale):
    """A flash sale (秒杀) as shoppers see it."""
    items: list[FlashItem] = Field(description="what it sells")


class FlashSaleDetail(FlashSale):
    """One sale, with the server's clock (for the countdown) and the position of `flash:{id}`."""
    server_time: str = Field(description="the server's time to the millisecond (ISO 8601 UTC)")
    channel: Position = Field(description="position of the sale's channel")


class FlashSalePage(Answer):
    """Running and upcoming sales, soonest first, with the server's clock."""
    items: list[FlashSale] = Field(description="this page's sales")
    total: int = Field(description="items in all pages")
    page: int = Field(description="this page's number, from 1")
    page_size: int = Field(description="items per page")
    server_time: str = Field(description="the server's time to the millisecond (ISO 8601 UTC)")


class Address(Answer):
    """A delivery address of the member."""
    id: int = Field(description="address id")
    name: str = Field(description="recipient", examples=["王五"])
    mobile: str = Field(description="recipient's mobile", examples=["13912345678"])
    province: str = Field(description="province", examples=["上海市"])
    city: str = Field(description="city", examples=["上海市"])
    district: str = Field(description="district", examples=["浦东新区"])
    detail: str = Field(description="street and number", examples=["世纪大道 100 号"])
    is_default: bool = Field(description="used when an order names no address")


class MerchantMember(Member):
    """A member as the merchant sees them: with spending, tags and the blacklist flag."""
    total_spent_fen: int = Field(description="paid orders' total, in fen (drives the level)")
    is_blacklisted: bool = Field(description="blacklisted members may not order")
    tags: list[str] = Field(description="the merchant's tags, sorted", examples=[["vip"]])


class LedgerEntry(Answer):
    """One movement of a member's balance or points."""
    id: int = Field(description="entry id")
    currency: Literal["balance", "points", "commission"] = Field(description="which one moved (commission: a "
                                                                          "distributor's earnings)")
    type: str = Field(description="why, e.g. adjust, order_pay, refund, recharge, withdraw", examples=["order_pay"])
    amount: int = Field(description="signed change (fen for balance and commission)", examples=[-3900])
    balance_after: int = Field(description="the balance or points after it")
    reference: str = Field(description="what it belongs to, e.g. an order number (may be empty)")
    operator_id: int | None = Field(description="the staff member who made an adjustment")
    remark: str = Field(description="note (may be empty)")
    created_at: str = Field(description="ISO 8601 UTC")


class Level(Answer):
    """A membership level: reached by spending, gives a discount."""
    id: int = Field(description="level id")
    name: str = Field(description="name", examples=["金卡"])
    threshold_fen: int = Field(description="total spending that reaches it, in fen")
    discount_percent: int = Field(description="price paid in percent (95: 5% off)", examples=[95])


class MerchantGoodsSummary(GoodsSummary):
    """Goods as the merchant's list shows them."""
    status: Literal["on_sale", "off_sale"] = Field(description="on sale or off the shelf")
    sort: int = Field(description="position in lists (higher first)")


class MerchantGoods(Answer):
    """Goods as the merchant edits them."""
    id: int = Field(description="goods id")
    title: str = Field(description="title")
    subtitle: str = Field(description="subtitle (may be empty)")
    cover: str = Field(description="first image URL (may be empty)")
    category_id: int | None = Field(description="category, if any")
    price_fen: int = Field(description="price in fen; with SKUs the lowest SKU price")
    market_price_fen: int = Field(description="crossed-out reference price in fen (0: none)")
    sales: int = Field(description="units sold")
    stock: int = Field(description="units in stock; with SKUs their total")
    images: list[str] = Field(description="image URLs")
    description: str = Field(description="rich-text description (HTML)")
    weight_g: int = Field(description="weight in grams (shipping)")
    is_virtual: bool = Field(description="virtual goods need no address")
    purchase_limit: int = Field(description="most units one member may buy (0: no limit)")
    specs: list[Spec] = Field(description="spec groups; empty for goods without SKUs")
    skus: list[Sku] = Field(description="SKUs; empty for goods without specs")
    status: Literal["on_sale", "off_sale"] = Field(description="on sale or off the shelf")
    sort: int = Field(description="position in lists (higher first)")
    created_at: str = Field(description="ISO 8601 UTC")
    updated_at: str = Field(description="ISO 8601 UTC")
    deleted: bool = Field(description="deleted goods stay readable for their orders")
    commission_rates_bp: list[int] | None = Field(description="distribution commission per level, in basis points "
                                                              "(null: the shop's rates)")


class Category(Answer):
    id: int = Field(description="category id")
    parent_id: int | None = Field(description="parent category (null: top level)")
    name: str = Field(description="name", examples=["茶叶"])
    sort: int = Field(description="position (higher first)")
    enabled: bool = Field(description="shown to shoppers")


class CouponTemplate(Answer):
    """A coupon as the merchant defines it and the claim centre shows it."""
    id: int = Field(description="template id")
    name: str = Field(description="name", examples=["茶券"])
    kind: str = Field(description="amount (fixed fen off) or percent")
    amount_fen: int = Field(description="fen off (kind amount)")
    percent_off: int = Field(description="percent off (kind percent)")
    max_discount_fen: int = Field(description="cap of a percent coupon, in fen (0: none)")
    min_spend_fen: int = Field(description="least spend it applies to, in fen")
    scope: str = Field(description="all, goods or category: what it applies to")
    scope_ids: list[int] = Field(description="the goods or categories of its scope")
    valid_from: str | None = Field(description="ISO 8601 UTC (null with valid_days)")
    valid_until: str | None = Field(description="ISO 8601 UTC (null with valid_days)")
    valid_days: int = Field(description="days a claimed coupon stays valid (0: the fixed dates)")
    total_quantity: int = Field(description="coupons that may be handed out (0: unlimited)")
    per_member_limit: int = Field(description="most one member may hold")
    claimable: bool = Field(description="shown in the claim centre")
    stackable: bool = Field(description="may be used with other coupons")
    enabled: bool = Field(description="switched on")
    remaining: int | None = Field(description="left to hand out (null: unlimited)")
    claimed_count: int = Field(description="handed out")
    used_count: int = Field(description="used on paid orders")


class CouponStats(Answer):
    claimed: int = Field(description="handed out")
    used: int = Field(description="used")
    expired: int = Field(description="expired unused")
    gmv_fen: int = Field(description="paid order value of the orders that used it, in fen")


class CouponTemplateDetail(CouponTemplate):
    """The template with its figures."""
    stats: CouponStats = Field(description="claimed, used, expired and the order value it drove")


class MemberCoupon(Answer):
    """A coupon a member holds."""
    id: int = Field(description="coupon id (what an order names)")
    template_id: int = Field(description="its template")
    name: str = Field(description="name")
    kind: str = Field(description="amount or percent")
    amount_fen: int = Field(description="fen off (kind amount)")
    percent_off: int = Field(description="percent off (kind percent)")
    max_discount_fen: int = Field(description="cap of a percent coupon, in fen (0: none)")
    min_spend_fen: int = Field(description="least spend it applies to, in fen")
    scope: str = Field(description="all, goods or category")
    scope_ids: list[int] = Field(description="the goods or categories of its scope")
    stackable: bool = Field(description="may be used with other coupons")
    status: str = Field(description="unused, used or expired")
    valid_from: str | None = Field(description="ISO 8601 UTC")
    valid_until: str | None = Field(description="ISO 8601 UTC")
    order_id: int | None = Field(description="the order it was used on")
    discount_fen: int = Field(description="what it took off that order, in fen")
    source: str = Field(description="claim or issue: how the member got it")
    claimed_at: str | None = Field(description="ISO 8601 UTC")
    used_at: str | None = Field(description="ISO 8601 UTC")


class Banner(Answer):
    """A banner of the shop's home page."""
    id: int = Field(description="banner id")
    title: str = Field(description="title (may be empty)")
    image: str = Field(description="image URL")
    link: str = Field(description="where a tap goes (may be empty)")
    sort: int = Field(description="position (higher first)")
    enabled: bool = Field(description="shown to shoppers (within its dates)")
    starts_at: str | None = Field(description="shown from (ISO 8601 UTC; null: now)")
    ends_at: str | None = Field(description="shown until (ISO 8601 UTC; null: open-ended)")


class Withdrawal(Answer):
    """A member's request to take money out of their balance or commission."""
    id: int = Field(description="withdrawal id")
    member_id: int = Field(description="the member")
    source: Literal["balance", "commission"] = Field(description="where the money comes from")
    target: Literal["wechat", "balance"] = Field(description="where it goes (balance: commission only)")
    amount_fen: int = Field(description="amount, in fen (left the source when asked)")
    status: Literal["pending", "approved", "paid", "rejected"] = Field(description="where it stands")
    reject_reason: str = Field(description="the merchant's reason when rejected (returned to the source)")
    created_at: str = Field(description="ISO 8601 UTC")
    reviewed_at: str | None = Field(description="ISO 8601 UTC")
    paid_at: str | None = Field(description="ISO 8601 UTC")


class Commission(Answer):
    """A distributor's commission on an order of their downline."""
    id: int = Field(description="commission id")
    order_id: int = Field(description="the order")
    order_no: str = Field(description="its number")
    buyer_id: int = Field(description="the member who bought")
    level: int = Field(description="1: the buyer's referrer, 2: theirs, 3: theirs")
    base_fen: int = Field(description="the amount it is computed on, in fen")
    amount_fen: int = Field(description="the commission, in fen")
    status: Literal["frozen", "settled", "reversed"] = Field(description="frozen until the order is past "
                                                                          "after-sales, then settled; reversed on refund")
    created_at: str = Field(description="ISO 8601 UTC")
    settled_at: str | None = Field(description="ISO 8601 UTC")
    reversed_at: str | None = Field(description="ISO 8601 UTC")


class Distributor(Answer):
    """A distributor (分销商) or an application to become one."""
    id: int = Field(description="distributor id")
    member_id: int = Field(description="the member")
    status: Literal["pending", "approved", "rejected"] = Field(description="the application's state")
    real_name: str = Field(description="name given when applying")
    mobile: str = Field(description="mobile given when applying")
    reject_reason: str = Field(description="the merchant's reason when rejected")
    created_at: str = Field(description="ISO 8601 UTC")
    approved_at: str | None = Field(description="ISO 8601 UTC")
    nickname: str = Field(None, description="the member's display name (merchant lists)")
    avatar: str = Field(None, description="the member's avatar URL (merchant lists)")
    commission_fen: int = Field(None, description="withdrawable commission, in fen (merchant lists)")
    commission_frozen_fen: int = Field(None, description="commission not yet settled, in fen (merchant lists)")


class Role(Answer):
    """A staff role: a named set of permissions."""
    id: int = Field(description="role id")
    name: str = Field(description="name", examples=["客服"])
    permissions: list[str] = Field(description="permission keys, e.g. orders.view", examples=[["orders.view"]])
    created_at: str = Field(description="ISO 8601 UTC")


class Staff(Answer):
    """A staff member of the shop."""
    id: int = Field(description="staff id")
    username: str = Field(description="login name")
    name: str = Field(description="display name")
    is_owner: bool = Field(description="the shop's owner has every permission")
    is_active: bool = Field(description="disabled staff cannot sign in")
    role_id: int | None = Field(description="their role, if any")
    permissions: list[str] = Field(description="permissions granted directly ([\"*\"] for the owner)")
    effective_permissions: list[str] = Field(description="everything they may do: their own and their role's")
    created_at: str = Field(description="ISO 8601 UTC")
    token: str = Field(None, description="a fresh merchant token, when one changed their own password")


class CategoryNode(Category):
    """A top-level category with its subcategories."""
    children: list[Category] = Field(description="its subcategories")


@functools.cache
def paged(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """The list envelope of `model` (models/base.py `paginate`)."""
    return pydantic.create_model(
        f"{model.__name__}Page", __base__=Answer,
        items=(list[model], Field(description="this page's items")),
        total=(int, Field(description="items in all pages")),
        page=(int, Field(description="this page's number, from 1")),
        page_size=(int, Field(description="items per page")))


@functools.cache
def listed(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """`{items: [model]}`: a whole list, not paged (short lists such as categories or levels)."""
    return pydantic.create_model(f"{model.__name__}List", __base__=Answer,
                                 items=(list[model], Field(description="every item")))
