"""Shoppers' orders: cart, preview, place, pay (balance or WeChat Pay), cancel, confirm receipt, refund."""
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import Id, MobileHandler, RequestBody, client_ip
from handlers.schemas import returns
from services import orders, tracking
from services.orders import cart

Quantity = pydantic.conint(ge=1, le=999)


Field = pydantic.Field


class ItemBody(RequestBody):
    goods_id: Id = Field(description="the goods")
    sku_id: Id | None = Field(None, description="the SKU (required for goods with specs)")
    quantity: Quantity = Field(description="units (1 to 999)", examples=[1])


class PreviewBody(RequestBody):
    items: pydantic.conlist(ItemBody, min_length=1, max_length=50) = Field(description="what to buy")
    coupon_id: Id | None = Field(None, description="one of the member's coupons")
    coupon_ids: pydantic.conlist(Id, max_length=5) = Field([], description="or several stackable coupons")
    use_points: bool = Field(False, description="pay part with points, as the shop's rules allow")

    @property
    def coupons(self) -> list[int]:
        return ([self.coupon_id] if self.coupon_id else []) + list(self.coupon_ids)


class OrderBody(PreviewBody):
    address_id: Id = Field(description="one of the member's addresses (virtual goods need one too)")
    remark: pydantic.constr(max_length=255) = Field("", description="a note for the shop")


class PayBody(RequestBody):
    method: Literal["balance", "wechat"] = Field(description="balance: paid at once from the member's balance; "
                                                             "wechat: answers the parameters of wx.requestPayment")


class RefundBody(RequestBody):
    reason: pydantic.constr(min_length=1, max_length=255) = Field(description="why, shown to the merchant",
                                                                  examples=["不想要了"])


class CartBody(RequestBody):
    goods_id: Id = Field(description="the goods")
    sku_id: Id | None = Field(None, description="the SKU (required for goods with specs)")
    quantity: Quantity = Field(description="units to add to what the cart holds", examples=[1])


class CartPatch(RequestBody):
    quantity: Quantity = Field(description="the item's new quantity")


def _items(body) -> list[dict]:
    return [item.model_dump() for item in body.items]


class PreviewHandler(MobileHandler):
    @returns(schemas.OrderPreview)
    async def post(self, shop_id):
        """Price an order without placing it."""
        body = self.body(PreviewBody)
        self.send(await orders.preview(self.shop_id, self.member, _items(body), body.coupons,
                                                   body.use_points))


class OrdersHandler(MobileHandler):
    @returns(schemas.Order, paged=True)
    async def get(self, shop_id):
        """List the member's orders."""
        page, page_size = self.page_args()
        self.send(await orders.list_orders(self.shop_id, page, page_size, member_id=self.member.id,
                                                  status=self.int_arg("status", minimum=-1, maximum=3)))

    @returns(schemas.Order)
    async def post(self, shop_id):
        """Place an order."""
        body = self.body(OrderBody)

        async def create():
            return await orders.create_order(self.shop_id, self.member, _items(body), body.address_id,
                                                    body.coupons, body.remark, body.use_points)

        await self.send_once(f"member:{self.member.id}", 201, create)


class OrderHandler(MobileHandler):
    @returns(schemas.Order)
    async def get(self, shop_id, order_id):
        """Read one of the member's orders."""
        self.send(await orders.order_detail(self.shop_id, int(order_id), self.member.id))


class TrackingHandler(MobileHandler):
    """The parcel's route (cached; `stale` when the provider could not refresh it)."""
    @returns(schemas.Tracking)
    async def get(self, shop_id, order_id):
        self.send(await tracking.order_tracking(self.shop_id, int(order_id), self.member.id))


class PayHandler(MobileHandler):
    @returns(schemas.PayAnswer)
    async def post(self, shop_id, order_id):
        """Pay an order (balance or WeChat Pay)."""
        if self.body(PayBody).method == "wechat":
            self.send(await orders.wechat_prepay(self.shop_id, self.member, int(order_id), client_ip(self)))
            return

        async def pay():
            return await orders.pay_with_balance(self.shop_id, self.member, int(order_id))

        await self.send_once(f"member:{self.member.id}", 200, pay)


class CancelHandler(MobileHandler):
    @returns(schemas.Order)
    async def post(self, shop_id, order_id):
        """Cancel an unpaid order."""
        self.send(await orders.cancel_by_member(self.shop_id, self.member, int(order_id)))


class ConfirmHandler(MobileHandler):
    @returns(schemas.Order)
    async def post(self, shop_id, order_id):
        """Confirm receipt of a shipped order."""
        self.send(await orders.confirm_by_member(self.shop_id, self.member, int(order_id)))


class RefundHandler(MobileHandler):
    @returns(schemas.Order)
    async def post(self, shop_id, order_id):
        """Ask for a refund of a paid order."""
        body = self.body(RefundBody)
        self.send(await orders.request_refund(self.shop_id, self.member, int(order_id), body.reason))


class CartHandler(MobileHandler):
    @returns(schemas.Cart)
    async def get(self, shop_id):
        """Read the cart."""
        self.send(await cart.view(self.shop_id, self.member.id))

    @returns(schemas.Cart)
    async def post(self, shop_id):
        """Add goods to the cart."""
        body = self.body(CartBody)
        self.send(await cart.add(self.shop_id, self.member.id, body.goods_id, body.sku_id, body.quantity), 201)


class CartItemHandler(MobileHandler):
    @returns(schemas.Cart)
    async def patch(self, shop_id, item_id):
        """Change the quantity of a cart item."""
        self.send(await cart.set_quantity(self.shop_id, self.member.id, int(item_id), self.body(CartPatch).quantity))

    async def delete(self, shop_id, item_id):
        """Remove an item from the cart."""
        await cart.remove(self.shop_id, self.member.id, int(item_id))
        self.no_content()


