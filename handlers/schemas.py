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


def returns(model: type[pydantic.BaseModel] | str, paged: bool = False, media_type: str = "application/json",
            also: tuple[int, ...] = ()):
    """Mark a handler method with the model of its success answer. `model` may name a class
    attribute of the handler instead, for a method that subclasses share but answer differently
    (as `self.body(self.body_model)` does for bodies); `media_type` for an answer that is not JSON
    (the model then describes its structure, e.g. as XML); `also`: other statuses answered with
    the same model (health's 503) instead of the error shape."""
    def mark(function):
        function.response_model, function.response_paged, function.response_media = model, paged, media_type
        function.response_also = also
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


class OrderAddress(Answer):
    """The delivery address as it was when the order was placed (an order imported by
    `import-ewei` whose source kept no address has none of these fields)."""
    name: str = Field(None, description="recipient", examples=["王五"])
    mobile: str = Field(None, description="recipient's mobile", examples=["13912345678"])
    province: str = Field(None, description="province")
    city: str = Field(None, description="city")
    district: str = Field(None, description="district")
    detail: str = Field(None, description="street and number")


class PayParams(Answer):
    """The arguments of the mini program's wx.requestPayment, signed by the server."""
    appId: str = Field(description="the AppID the payment is made in")
    timeStamp: str = Field(description="seconds since the epoch, as a string", examples=["1714550400"])
    nonceStr: str = Field(description="a random string")
    package: str = Field(description="prepay_id=…", examples=["prepay_id=wx201410272009395522657a690389285100"])
    signType: Literal["RSA", "MD5"] = Field(description="RSA (APIv3) or MD5 (APIv2)")
    paySign: str = Field(description="the signature")


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
    address: OrderAddress = Field(description="the delivery address as it was when ordered")
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


class WechatShipping(Answer):
    """The report of the order's shipment to WeChat (发货信息录入), which WeChat Pay orders need."""
    status: Literal["pending", "failed", "uploaded"] = Field(description="failed uploads are retried")
    errcode: int | None = Field(description="WeChat's errcode of the last try")
    error: str | None = Field(description="what went wrong (may be empty)")
    attempts: int = Field(description="tries so far")
    uploaded_at: str | None = Field(description="ISO 8601 UTC")
    next_attempt_at: str | None = Field(description="when it is tried next (ISO 8601 UTC; null once uploaded)")


class MerchantOrder(Order):
    """An order as the merchant sees it: with the merchant's remark and, on a read, its log."""
    merchant_remark: str = Field(description="the merchant's own note (may be empty)")
    logs: list[OrderLog] = Field(None, description="every move of the order (reads of one order)")
    wechat_shipping: WechatShipping | None = Field(None, description="the shipment's report to WeChat (reads of one "
                                                                     "order; null when none is due)")


class Prepay(Answer):
    """What the mini program needs to open WeChat Pay for the order (wx.requestPayment)."""
    order_id: int = Field(description="the order")
    pay_params: PayParams = Field(description="the wx.requestPayment parameters, signed")


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


class StaffWechat(Answer):
    """The signed-in staff member's WeChat binding for new-order and after-sale alerts."""
    bound: bool = Field(description="whether a WeChat account is bound")
    app_id: str | None = Field(description="the official account it was bound on")
    openid: str | None = Field(description="the staff member's openid on that account")
    bound_at: str | None = Field(description="ISO 8601 UTC")
    receives_alerts: bool = Field(description="alerts reach them now: bound on the shop's current official account, "
                                              "active, holding orders.view")


class Notification(Answer):
    """One WeChat message of the send log."""
    id: int = Field(description="log entry id")
    event: str = Field(description="the kind, e.g. order_paid, team_success, staff_order_paid",
                       examples=["order_paid"])
    event_id: int = Field(description="the outbox event it was made from")
    member_id: int = Field(description="the member it is for, or (staff alerts) whose order it is about")
    staff_id: int | None = Field(description="the staff member an official-account alert is for; null for a member's")
    channel: Literal["mini_program", "official_account"] = Field(
        description="mini-program subscription message (a member) or official-account template message (staff)")
    template_id: str = Field(description="the WeChat template")
    status: Literal["pending", "sending", "sent", "refused", "config_error", "failed", "skipped", "unknown"] = Field(
        description="pending (retry due at next_attempt_at), sending, sent, refused (43101/43004: final), "
                    "config_error (the merchant's to fix, e.g. 40037/47003), failed, skipped (no consent, "
                    "no openid, or a staff member who no longer receives alerts), unknown (the sender died mid-send)")
    attempts: int = Field(description="sends tried")
    errcode: int | None = Field(description="WeChat's last errcode (0 when sent)")
    error: str = Field(description="why it is not sent, when it is not")
    data: dict[str, Any] | None = Field(description="the template fields as sent: {key: {value}}")
    created_at: str = Field(description="ISO 8601 UTC")
    sent_at: str | None = Field(description="ISO 8601 UTC")
    next_attempt_at: str | None = Field(description="when a pending message is tried again (ISO 8601 UTC)")


class NotifyTemplate(Answer):
    """Which WeChat template carries an event kind, and how its fields are filled."""
    event: str = Field(description="the event kind", examples=["order_paid"])
    template_id: str = Field(description="the WeChat template id")
    page: str = Field(description="mini-program page a subscription message opens; for the staff_* kinds the "
                                  "web address the official-account message opens")
    fields: dict[str, str] = Field(description="WeChat field key -> text with {placeholders}",
                                   examples=[{"thing1": "{goods_title}"}])


class NotifyTemplates(Answer):
    """The shop's templates and what can be mapped."""
    items: list[NotifyTemplate] = Field(description="the shop's templates, one per event kind")
    events: dict[str, list[str]] = Field(description="every event kind with the placeholders it offers")
    official_account_events: list[str] = Field(description="the kinds sent to staff as official-account template "
                                                           "messages (the others go to members as subscription messages)")


class CategoryNode(Category):
    """A top-level category with its subcategories."""
    children: list[Category] = Field(description="its subcategories")


class Token(Answer):
    """A signed-in platform administrator."""
    token: str = Field(description="admin bearer JWT (audience admin)")


class Shop(Answer):
    """A shop (tenant) of the platform."""
    id: int = Field(description="shop id (the {shop_id} of the shoppers' API)")
    name: str = Field(description="name", examples=["好茶小铺"])
    status: Literal["active", "suspended"] = Field(description="a suspended shop's APIs answer 403 shop_suspended")
    created_at: str = Field(description="ISO 8601 UTC")
    updated_at: str = Field(description="ISO 8601 UTC")


class ShopOwner(Answer):
    id: int = Field(description="the owner's staff id")
    username: str = Field(description="the owner's login name")


class ShopCreated(Shop):
    """A new shop with its owner's staff account."""
    owner: ShopOwner = Field(description="the owner, who may sign in to the merchant API")


class AuditEntry(Answer):
    """One entry of a shop's operation log."""
    id: int = Field(description="entry id")
    actor: str = Field(description="who did it: staff:7, admin:1, member:9 or system", examples=["staff:7"])
    action: str = Field(description="what, e.g. order.price, settings.update", examples=["settings.update"])
    object_type: str = Field(description="the kind of object, e.g. order, settings")
    object_id: int = Field(description="the object's id")
    before: dict[str, Any] = Field(description="the changed values before (secrets shown as \"(changed)\")")
    after: dict[str, Any] = Field(description="the changed values after")
    note: str = Field(description="the actor's note (may be empty)")
    created_at: str = Field(description="ISO 8601 UTC")


class Admin(Answer):
    """A platform administrator."""
    id: int = Field(description="admin id")
    username: str = Field(description="login name")
    is_active: bool = Field(description="disabled admins cannot sign in")
    created_at: str = Field(description="ISO 8601 UTC")
    token: str = Field(None, description="a fresh admin token, when one changed their own password")


class PlatformSettings(Answer):
    """The platform-wide settings."""
    platform_name: str = Field(description="the platform's name", examples=["mall"])
    allow_shop_registration: bool = Field(description="shops may sign up themselves (false: admins create them)")
    max_shops: int = Field(description="most shops on the platform (0: no limit)")
    support_contact: str = Field(description="who shops contact for help (may be empty)")


class ShopCount(Answer):
    active: int = Field(description="active shops")
    suspended: int = Field(description="suspended shops")


class TopShop(Answer):
    shop_id: int = Field(description="the shop")
    orders: int = Field(description="orders paid in the last 30 days")
    gmv_fen: int = Field(description="their value, in fen")


class PlatformWindow(Answer):
    orders: int = Field(description="orders paid, all shops")
    gmv_fen: int = Field(description="their value, in fen")
    top_shops: list[TopShop] = Field(description="the 10 shops with the highest value, highest first")


class PlatformStats(Answer):
    """Figures across shops: the last 30 UTC days from the daily rollups plus today live."""
    shops: ShopCount = Field(description="shops by status")
    members: int = Field(description="members of all shops")
    last_30d: PlatformWindow = Field(description="the last 30 days, today included")


class RelayLag(Answer):
    pending: int = Field(description="outbox events not yet published")
    oldest_age_seconds: float = Field(description="age of the oldest unpublished event (0: none)")


class GroupCommitCounts(Answer):
    """Orders placed through the group commit since start; orders / batches is how many shared
    one transaction on average."""
    batches: int = Field(description="transactions written")
    orders: int = Field(description="orders in them")


class RecentFanouts(Answer):
    fanouts: int = Field(description="fan-outs in the window (at most the last 1,024)")
    p50: float = Field(description="median seconds of those fan-outs (0: none yet)")
    p99: float = Field(description="99th percentile seconds of those fan-outs")
    max: float = Field(description="the slowest of them, in seconds")


class FanoutSeconds(Answer):
    """Seconds from the bus handing an event to this process's hub to the last local subscriber's
    frame handed to its socket, one observation per event that had local subscribers."""
    buckets: dict[str, int] = Field(description="cumulative counts by upper bound in seconds (Prometheus `le`), "
                                                "`+Inf` last", examples=[{"0.001": 3, "0.0025": 5, "+Inf": 5}])
    count: int = Field(description="fan-outs observed since start")
    sum: float = Field(description="their total seconds")
    frames: int = Field(description="frames they wrote: sum / frames is the server's cost per frame")
    recent: RecentFanouts = Field(description="percentiles over the most recent fan-outs")


class Metrics(Answer):
    """This process's live-push figures (counters since it started)."""
    ws_connections: int = Field(description="open WebSocket connections")
    ws_subscriptions: int = Field(description="channel subscriptions of those connections")
    ws_channels: int = Field(description="distinct channels subscribed")
    events_published: int = Field(description="outbox events this process's relay handed to the bus")
    events_received: int = Field(description="bus events this process fanned out")
    frames_delivered: int = Field(description="event frames written to local WebSockets")
    resyncs_sent: int = Field(description="resync frames sent (a client's history was lost)")
    slow_clients_dropped: int = Field(description="connections closed for not reading (1013)")
    relay_errors: int = Field(description="relay batches that failed (retried)")
    events_skipped_as_published: int = Field(description="outbox events the bus had already published")
    events_id_reused: int = Field(description="outbox ids the bus had seen on another event (database restored)")
    relay_consumer_errors: int = Field(description="batches an outbox consumer (WeChat notifications) failed on")
    relay: RelayLag = Field(description="the outbox backlog")
    bus: str = Field(description="the event bus in use", examples=["redis"])
    orders_group_commit: GroupCommitCounts = Field(description="plain orders placed together (group commit)")
    ws_fanout_seconds: FanoutSeconds = Field(description="how long one event takes to reach every local subscriber")


class PushAccepted(Answer):
    """The test event is in the outbox; the relay publishes it."""
    channel: str = Field(description="the channel it goes down", examples=["goods:7"])


class StaffSession(Answer):
    """A signed-in staff member."""
    token: str = Field(description="merchant bearer JWT (audience merchant)")
    shop_id: int = Field(description="the staff member's shop")
    staff: Staff = Field(description="the staff member, with their permissions")


class MerchantMe(Answer):
    """The signed-in staff member and their shop."""
    staff: Staff = Field(description="the staff member, with their permissions")
    shop: Shop = Field(description="their shop")


class BalanceAdjusted(Answer):
    """The member's balance after the adjustment."""
    member_id: int = Field(description="the member")
    balance_fen: int = Field(description="their balance now, in fen")


class PointsAdjusted(Answer):
    """The member's points after the adjustment."""
    member_id: int = Field(description="the member")
    points: int = Field(description="their points now")


class WechatConfig(Answer):
    """The shop's WeChat app ids; of the secrets only whether each is set."""
    mini_app_id: str = Field(description="mini-program AppID (may be empty)", examples=["wx1234567890abcdef"])
    mini_app_secret_set: bool = Field(description="the mini-program AppSecret is set")
    oa_app_id: str = Field(description="official-account (公众号) AppID (may be empty)")
    oa_app_secret_set: bool = Field(description="the official-account AppSecret is set")


class ShelfUpdated(Answer):
    """How many goods changed shelf (other shops' or deleted goods are not counted)."""
    updated: int = Field(description="goods updated")


class StockChanged(Answer):
    """The stock after the change."""
    goods_id: int = Field(description="the goods")
    sku_id: int | None = Field(description="the SKU changed (null: goods without specs)")
    stock: int = Field(description="units in stock now (of the SKU, if one was named)")


class StockMovement(Answer):
    """One change of stock, in the stock ledger."""
    id: int = Field(description="movement id")
    sku_id: int | None = Field(description="the SKU (null: goods without specs)")
    delta: int = Field(description="units added (negative: taken)", examples=[-2])
    stock_after: int = Field(description="units in stock after it")
    reason: str = Field(description="why, e.g. adjust (by staff), order, refund, return, exchange, flash_reserve, "
                                     "flash_return", examples=["order"])
    remark: str = Field(description="the staff member's note (may be empty)")
    staff_id: int | None = Field(description="who adjusted it (reason adjust)")
    reference: str = Field(description="what caused it, e.g. an order number (may be empty)")
    created_at: str = Field(description="ISO 8601 UTC")


# ---------------------------------------------------------------- shop settings (services/sysset.py)
class ShopInfo(Answer):
    name: str = Field(description="shop name shown to shoppers (the shop's name unless set)")
    logo: str = Field(description="logo URL (may be empty)")
    notice: str = Field(description="announcement shown on the home page (may be empty)")
    service_phone: str = Field(description="customer-service phone (may be empty)")


class OrderRules(Answer):
    unpaid_cancel_minutes: int = Field(description="an unpaid order is cancelled after this many minutes")
    auto_confirm_days: int = Field(description="a shipped order completes itself after this many days")
    refund_window_days: int = Field(description="after-sales may be asked for this many days after completion")
    shipping_fee_fen: int = Field(description="flat shipping fee per order, in fen")
    restock_on_refund: bool = Field(description="refunded goods go back on sale")
    confirm_days_after_delivered: int | None = Field(description="a parcel reported delivered completes this many days "
                                                                 "after delivery (null: only auto_confirm_days)")


class ReturnAddress(Answer):
    name: str = Field(description="recipient (may be empty until set)")
    mobile: str = Field(description="recipient's phone")
    province: str = Field(description="province")
    city: str = Field(description="city")
    district: str = Field(description="district")
    detail: str = Field(description="street and number")


class AfterSaleRules(Answer):
    auto_approve_days: int = Field(description="a request the merchant ignores is approved after this many days")
    return_ship_days: int = Field(description="an approved return the shopper never ships closes after this many days")
    return_address: ReturnAddress = Field(description="where returns go unless an approval names another address")


class GroupRules(Answer):
    default_duration_hours: int = Field(description="default time a team has to fill, in hours")
    default_team_size: int = Field(description="default team size")


class FlashRules(Answer):
    unpaid_cancel_minutes: int = Field(description="a flash-sale order unpaid this long is cancelled (its unit "
                                                   "goes back to the pool)")


class PointsRules(Answer):
    enabled: bool = Field(description="completed orders earn points")
    points_per_yuan: int = Field(description="points earned per ¥1 paid")
    deduct_enabled: bool = Field(description="points may pay part of an order")
    points_per_yuan_deduct: int = Field(description="points worth ¥1 at checkout")
    deduct_max_percent: int = Field(description="most of an order's price points may pay, in percent")
    refund_spent_rewards: Literal["forgive", "refuse"] = Field(description="refunding an order whose earned points "
                                                                         "were spent: take back what is left "
                                                                         "(forgive) or refuse the refund (409)")


class BalanceRules(Answer):
    recharge_enabled: bool = Field(description="members may top up their balance")
    min_recharge_fen: int = Field(description="smallest top-up, in fen")
    withdraw_enabled: bool = Field(description="members may withdraw")
    min_withdraw_fen: int = Field(description="smallest withdrawal, in fen")
    withdraw_daily_count: int = Field(description="most withdrawal requests per member per day")


class ReductionTier(Answer):
    min_fen: int = Field(description="spend at least this (after the level discount), in fen", examples=[10000])
    off_fen: int = Field(description="and this much comes off, in fen", examples=[1000])


class BonusTier(Answer):
    min_fen: int = Field(description="top up at least this, in fen", examples=[10000])
    bonus_fen: int = Field(description="and get this much on top, in fen", examples=[500])


class SaleRules(Answer):
    full_reduction: list[ReductionTier] = Field(description="spend-and-save tiers (满减); the best one applies")
    free_shipping_min_fen: int = Field(description="orders of at least this ship free, in fen (0: off)")
    return_coupon_on_refund: bool = Field(description="a refunded order gives its coupons back")
    recharge_bonus: list[BonusTier] = Field(description="top-up bonus tiers (充值满送); the best one applies")


class DistributionRules(Answer):
    enabled: bool = Field(description="distribution (分销) is on")
    levels: int = Field(description="how far up the referral chain commission goes (1 to 3)")
    rates_bp: list[int] = Field(description="commission per level, in basis points (1000: 10%)", examples=[[1000, 500]])
    auto_approve: bool = Field(description="applications become distributors at once")
    self_purchase: bool = Field(description="a distributor's own orders earn them level-1 commission (内购)")
    bind_on: Literal["link", "first_order"] = Field(description="when a share link's referrer becomes the parent")
    settle_days: int = Field(description="days after completion until commission becomes withdrawable")


class TrackingRules(Answer):
    provider: Literal["kuaidi100"] = Field(description="the parcel tracking provider")
    customer: str = Field(description="the shop's customer id with the provider")
    key_set: bool = Field(description="the provider's key is set (the key itself is never shown)")
    cache_minutes: int = Field(description="a route is asked for again after this many minutes")


class NotifyRules(Answer):
    miniprogram_state: Literal["formal", "trial", "developer"] = Field(
        description="which version of the mini-program a subscription message opens: formal (released), trial (体验版) "
                    "or developer (开发版)")


class ShopSettings(Answer):
    """The shop's settings document (secrets shown only as set or not)."""
    shop: ShopInfo = Field(description="the shop card")
    order: OrderRules = Field(description="order deadlines and shipping")
    aftersale: AfterSaleRules = Field(description="after-sale deadlines and the return address")
    groups: GroupRules = Field(description="group-buy defaults")
    flash: FlashRules = Field(description="flash-sale rules")
    points: PointsRules = Field(description="earning and spending points")
    balance: BalanceRules = Field(description="recharges and withdrawals")
    sale: SaleRules = Field(description="spend-and-save, free shipping, recharge bonuses")
    distribution: DistributionRules = Field(description="distribution (分销)")
    tracking: TrackingRules = Field(description="parcel tracking")
    notify: NotifyRules = Field(description="WeChat messages")


class PublicOrderRules(Answer):
    refund_window_days: int = Field(description="after-sales may be asked for this many days after completion")
    auto_confirm_days: int = Field(description="a shipped order completes itself after this many days")
    unpaid_cancel_minutes: int = Field(description="an unpaid order is cancelled after this many minutes")
    shipping_fee_fen: int = Field(description="flat shipping fee per order, in fen")


class PublicAfterSaleRules(Answer):
    auto_approve_days: int = Field(description="a request the shop does not answer is approved after this many days")
    return_ship_days: int = Field(description="an approved return must be sent back within this many days")


class PublicPointsRules(Answer):
    enabled: bool = Field(description="completed orders earn points")
    deduct_enabled: bool = Field(description="points may pay part of an order")
    points_per_yuan_deduct: int = Field(description="points worth ¥1 at checkout")
    deduct_max_percent: int = Field(description="most of an order's price points may pay, in percent")


class PublicBalanceRules(Answer):
    recharge_enabled: bool = Field(description="the balance may be topped up")


class PublicSaleRules(Answer):
    full_reduction: list[ReductionTier] = Field(description="spend-and-save tiers (满减); the best one applies")
    free_shipping_min_fen: int = Field(description="orders of at least this ship free, in fen (0: off)")
    recharge_bonus: list[BonusTier] = Field(description="top-up bonus tiers (充值满送)")


class PublicSettings(Answer):
    """What a shopper may see of the settings: the shop card and the rules of their orders."""
    shop: ShopInfo = Field(description="the shop card")
    order: PublicOrderRules = Field(description="order deadlines and shipping")
    aftersale: PublicAfterSaleRules = Field(description="after-sale deadlines")
    points: PublicPointsRules = Field(description="spending points")
    balance: PublicBalanceRules = Field(description="recharges")
    sale: PublicSaleRules = Field(description="spend-and-save, free shipping, recharge bonuses")


class WechatPayConfig(Answer):
    """The shop's WeChat Pay merchant account: ids only, never keys (only `configured` when none)."""
    configured: bool = Field(description="a WeChat Pay account is set")
    api_version: Literal["v3", "v2"] = Field(None, description="the API the shop's keys are for")
    mch_id: str = Field(None, description="merchant id (商户号)", examples=["1900000109"])
    app_id: str = Field(None, description="the AppID payments are made in")
    cert_serial_no: str = Field(None, description="serial number of the merchant's API certificate (APIv3)")
    public_key_id: str = Field(None, description="id of WeChat Pay's public key (APIv3, public-key mode)")
    v2_refund_cert_set: bool = Field(None, description="the APIv2 client certificate (needed for refunds) is set")


class MerchantTeamMember(TeamMember):
    member_id: int = Field(description="the member")
    order_id: int = Field(description="their order in the team")
    order_status: int = Field(description="its status: -1 cancelled, 0 unpaid, 1 paid, 2 shipped, 3 completed")


class MerchantTeamDetail(MerchantTeam):
    """A team as the merchant reads it: every seat (unpaid too) and the position of `team:{id}`."""
    members: list[MerchantTeamMember] = Field(description="every seat taken, paid or not, in joining order")
    seq: int | None = Field(description="the team channel's position (same as channel.seq)")
    epoch: str | None = Field(description="the team channel's epoch (same as channel.epoch)")
    channel: Position = Field(description="position of the team's channel")


class FlashRefusals(Answer):
    """Buy attempts refused, by reason."""
    not_started: int = Field(description="before the start")
    ended: int = Field(description="after the end")
    sold_out: int = Field(description="no units left")
    limit_reached: int = Field(description="the member's limit reached")


class FlashItemStats(Answer):
    item_id: int = Field(description="the flash item")
    stock: int = Field(description="units put up")
    remaining: int = Field(description="units not yet sold")
    sold: int = Field(description="units of paid orders not cancelled")
    awaiting_payment: int = Field(description="units held by unpaid orders")
    buyers: int = Field(description="members who bought")
    revenue_fen: int = Field(description="what those orders paid, in fen")
    refusals: FlashRefusals = Field(description="refused attempts")


class FlashSaleStats(Answer):
    """A flash sale's figures, per item and in all."""
    sale_id: int = Field(description="the sale")
    sold: int = Field(description="units of paid orders")
    awaiting_payment: int = Field(description="units held by unpaid orders")
    buyers: int = Field(description="distinct members who bought")
    revenue_fen: int = Field(description="what paid orders paid, in fen")
    refusals: FlashRefusals = Field(description="refused attempts, all items")
    items: list[FlashItemStats] = Field(description="per item")


class Permission(Answer):
    """A permission key a role or staff member may be given."""
    key: str = Field(description="the key", examples=["orders.view"])
    label: str = Field(description="what it allows, for the role editor", examples=["查看订单"])


class TopGoods(Answer):
    goods_id: int = Field(description="the goods")
    title: str = Field(description="its title when sold")
    quantity: int = Field(description="units sold")
    sales_fen: int = Field(description="their value, in fen")


class DashboardWindow(Answer):
    orders: int = Field(description="orders paid")
    gmv_fen: int = Field(description="their value, in fen (refunded later or not)")
    new_members: int = Field(description="members who joined")
    teams_succeeded: int = Field(description="group-buy teams that filled")
    teams_failed: int = Field(description="group-buy teams that failed")
    paid_members: int = Field(description="members who paid at least once")
    group_success_rate: float | None = Field(description="teams succeeded / teams ended (null: none ended)")
    top_goods: list[TopGoods] = Field(description="the 5 goods sold most, by units")


class Dashboard(Answer):
    """The shop's figures for today and the last 7 and 30 UTC days (today included)."""
    today: DashboardWindow = Field(description="since midnight UTC")
    last_7d: DashboardWindow = Field(alias="7d", description="the last 7 days")
    last_30d: DashboardWindow = Field(alias="30d", description="the last 30 days")


class ShopLedgerEntry(LedgerEntry):
    """One money movement of the shop, with its member."""
    member_id: int = Field(description="the member whose amount moved")


class DailyTotals(Answer):
    """One UTC day's money (days with no movement are left out)."""
    date: str = Field(description="the day (YYYY-MM-DD, UTC)", examples=["2024-05-01"])
    paid_fen: int = Field(description="orders paid, in fen")
    refunded_fen: int = Field(description="after-sales refunded, in fen")
    recharged_fen: int = Field(description="balance recharges paid, in fen")
    withdrawn_fen: int = Field(description="withdrawals paid out, in fen")
    commission_fen: int = Field(description="commission earned (not reversed), in fen")


class CouponsIssued(Answer):
    """How many members got the coupon."""
    issued: int = Field(description="coupons handed out")
    skipped: int = Field(description="members passed over: they already hold as many as the template allows")


class TrackingEvent(Answer):
    time: str | None = Field(description="when (ISO 8601 UTC; null when the provider's time is unreadable)")
    context: str = Field(description="what happened, in the carrier's words", examples=["【上海市】已签收"])


class Tracking(Answer):
    """The parcel's route, from the tracking provider (cached)."""
    order_id: int = Field(description="the order")
    express_company: str = Field(description="carrier, as the merchant entered it", examples=["顺丰速运"])
    express_no: str = Field(description="tracking number")
    provider: str = Field(description="the tracking provider", examples=["kuaidi100"])
    company_code: str = Field(description="the provider's code for the carrier", examples=["shunfeng"])
    state: int | None = Field(description="the provider's state code (kuaidi100: 3 delivered); null: no route yet")
    delivered: bool = Field(description="the parcel was delivered")
    delivered_at: str | None = Field(description="ISO 8601 UTC")
    events: list[TrackingEvent] = Field(description="the route, newest first")
    fetched_at: str = Field(description="when the provider was last asked (ISO 8601 UTC)")
    stale: bool = Field(description="the provider could not refresh it, or it is older than the cache time")
    error: str | None = Field(description="why the last refresh failed")


class SubscriptionCredit(Answer):
    template_id: str = Field(description="the WeChat template")
    credits: int = Field(description="messages the shop may still send with it (one per consent)")


class MemberWithToken(Member):
    """The member; with a fresh token when a password was set (their other tokens are revoked)."""
    token: str = Field(None, description="a new member token (when a password was set)")


class RechargeStarted(Answer):
    """A pending recharge and what wx.requestPayment needs to pay it."""
    id: int = Field(description="recharge id")
    out_trade_no: str = Field(description="the WeChat Pay trade number")
    amount_fen: int = Field(description="amount paid, in fen")
    bonus_fen: int = Field(description="credited on top when paid (the shop's recharge bonus), in fen")
    status: str = Field(description="pending until WeChat Pay reports it paid", examples=["pending"])
    created_at: str = Field(description="ISO 8601 UTC")
    paid_at: str | None = Field(description="ISO 8601 UTC")
    pay_params: PayParams = Field(description="the wx.requestPayment parameters, signed")


class DownlineCount(Answer):
    level1: int = Field(description="members the distributor referred")
    level2: int = Field(description="members those referred")


class CommissionTotals(Answer):
    frozen_fen: int = Field(description="not yet settled, in fen")
    withdrawable_fen: int = Field(description="settled and not withdrawn, in fen")
    withdrawn_fen: int = Field(description="withdrawn so far, in fen")


class DistributionCentre(Answer):
    """The member's distributor centre."""
    distributor: Distributor | None = Field(description="their application or distributor record (null: never applied)")
    parent_id: int | None = Field(description="the distributor who referred them")
    team: DownlineCount = Field(description="their downline")
    commission: CommissionTotals = Field(description="their commission")


class Referral(Answer):
    """Who referred the member now (with bind_on first_order, set by the member's first order)."""
    parent_id: int | None = Field(description="the referring distributor's member id (null: not bound yet)")


class Downline(Answer):
    """A member of the distributor's downline."""
    id: int = Field(description="member id")
    nickname: str = Field(description="display name")
    avatar: str = Field(description="avatar URL (may be empty)")
    created_at: str = Field(description="when they joined (ISO 8601 UTC)")


class UsableCoupon(MemberCoupon):
    discount_fen: int = Field(description="what it would take off this cart, in fen")


class UnusableCoupon(MemberCoupon):
    reason: str = Field(description="why it cannot be used on this cart", examples=["spend at least ¥50"])


class CouponsForCart(Answer):
    """The member's unused coupons, priced alone against the cart."""
    usable: list[UsableCoupon] = Field(description="the ones that apply, biggest discount first")
    unusable: list[UnusableCoupon] = Field(description="the others, with the reason")


class CartLine(Answer):
    id: int = Field(description="cart item id")
    goods_id: int = Field(description="the goods")
    sku_id: int | None = Field(description="the SKU (null: goods without specs)")
    quantity: int = Field(description="units")
    title: str = Field(description="the goods' title (empty once deleted)")
    sku_title: str = Field(description="the SKU's values (may be empty)")
    price_fen: int = Field(description="today's unit price, in fen")
    stock: int = Field(description="units in stock")
    available: bool = Field(description="on sale with enough stock for this quantity")


class Cart(Answer):
    """The member's cart, newest first."""
    items: list[CartLine] = Field(description="every item")


class PreviewLine(Answer):
    goods_id: int = Field(description="the goods")
    sku_id: int | None = Field(description="the SKU (null: goods without specs)")
    title: str = Field(description="title")
    sku_title: str = Field(description="the SKU's values (may be empty)")
    image: str = Field(description="first image URL (may be empty)")
    price_fen: int = Field(description="unit price, in fen")
    quantity: int = Field(description="units")
    total_fen: int = Field(description="price_fen × quantity")


class OrderPreview(Answer):
    """What the order would cost, itemised, without placing it."""
    lines: list[PreviewLine] = Field(description="the items, merged by goods and SKU")
    goods_total_fen: int = Field(description="sum of the items, in fen")
    level_discount_fen: int = Field(description="membership level discount, in fen")
    full_reduction_fen: int = Field(description="spend-and-save discount, in fen")
    coupon_discount_fen: int = Field(description="coupon discount, in fen")
    points_deduction_fen: int = Field(description="paid with points, in fen")
    points_used: int = Field(description="points it would spend")
    shipping_fee_fen: int = Field(description="shipping, in fen")
    total_fen: int = Field(description="amount to pay, in fen", examples=[3900])
    coupon_ids: list[int] = Field(description="the coupons applied")
    discounts: list[Discount] = Field(description="every discount, as shown to the shopper")


class WechatPayAck(Answer):
    """WeChat Pay's expected answer: SUCCESS (also for a replay, so WeChat stops retrying) or FAIL."""
    code: Literal["SUCCESS", "FAIL"] = Field(description="SUCCESS: settled or already settled")
    message: str = Field(description="OK, or why it was refused", examples=["OK"])


class WechatPayV2Ack(Answer):
    """WeChat Pay APIv2's expected answer, as XML: `<xml><return_code>…</return_code><return_msg>…</return_msg></xml>`."""
    model_config = pydantic.ConfigDict(json_schema_extra={"xml": {"name": "xml"}})
    return_code: Literal["SUCCESS", "FAIL"] = Field(description="SUCCESS: settled or already settled")
    return_msg: str = Field(description="OK, or why it was refused", examples=["OK"])


class OpenApiDocument(Answer):
    """This document (OpenAPI 3.1)."""
    openapi: str = Field(description="the OpenAPI version", examples=["3.1.0"])
    info: dict[str, Any] = Field(description="title, version, description, license")
    servers: list[dict[str, Any]] = Field(description="this server, as the request reached it")
    tags: list[dict[str, Any]] = Field(description="the domains operations are grouped by")
    paths: dict[str, Any] = Field(description="every operation")
    components: dict[str, Any] = Field(description="schemas and security schemes")


class AsyncApiDocument(Answer):
    """The AsyncAPI 3.0 document of the WebSocket `/ws`."""
    asyncapi: str = Field(description="the AsyncAPI version", examples=["3.0.0"])
    info: dict[str, Any] = Field(description="title, version, description, license")
    defaultContentType: str = Field(description="frames are JSON")
    servers: dict[str, Any] = Field(description="where /ws is served")
    channels: dict[str, Any] = Field(description="every channel and the connection's control frames")
    operations: dict[str, Any] = Field(description="what a client sends and receives")
    components: dict[str, Any] = Field(description="frame and event payload schemas")


@functools.cache
def paged(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """The list envelope of `model` (models/base.py `paginate`)."""
    return pydantic.create_model(
        f"{model.__name__}Page", __base__=Answer, __doc__=f"A page of {model.__name__} items, with the total.",
        items=(list[model], Field(description="this page's items")),
        total=(int, Field(description="items in all pages")),
        page=(int, Field(description="this page's number, from 1")),
        page_size=(int, Field(description="items per page")))


@functools.cache
def listed(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """`{items: [model]}`: a whole list, not paged (short lists such as categories or levels)."""
    return pydantic.create_model(f"{model.__name__}List", __base__=Answer, __doc__=f"Every {model.__name__} item.",
                                 items=(list[model], Field(description="every item")))
