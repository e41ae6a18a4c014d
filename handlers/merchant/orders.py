"""Orders in the back-office: list, detail with its log, ship, refunds, price changes, close, remarks."""
import pydantic

from handlers import schemas
from handlers.base import MerchantHandler, RequestBody
from handlers.schemas import returns
from services import notify, orders, tracking


class ShipBody(RequestBody):
    express_company: pydantic.constr(min_length=1, max_length=64) = pydantic.Field(
        description="the carrier, e.g. 顺丰速运 (tracking maps it to the provider's code)", examples=["顺丰速运"])
    express_no: pydantic.constr(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$") = pydantic.Field(
        description="the tracking number", examples=["SF1234567890"])


class ReasonBody(RequestBody):
    reason: pydantic.constr(min_length=1, max_length=255) = pydantic.Field(description="why, shown to the shopper")


class PriceBody(RequestBody):
    total_fen: pydantic.conint(ge=1, le=10**12) = pydantic.Field(description="the new amount to pay, in fen",
                                                                 examples=[3500])


class RemarkBody(RequestBody):
    remark: pydantic.constr(max_length=255) = pydantic.Field(description="the merchant's own note (shoppers do not "
                                                                         "see it; empty clears it)")


class OrdersHandler(MerchantHandler):
    permissions = {"GET": "orders.view"}

    @returns(schemas.MerchantOrder, paged=True)
    async def get(self):
        """List orders (filter by status, dates, keyword)."""
        page, page_size = self.page_args()
        self.send(await orders.list_orders(
            self.shop_id, page, page_size, status=self.int_arg("status", minimum=-1, maximum=3),
            member_id=self.int_arg("member_id", minimum=1), q=self.get_query_argument("q", None), merchant=True))


class OrderHandler(MerchantHandler):
    permissions = {"GET": "orders.view"}

    @returns(schemas.MerchantOrder)
    async def get(self, order_id):
        """Read an order with its items and log."""
        order = await orders.order_detail(self.shop_id, int(order_id), merchant=True)
        # the shipment report to WeChat (pending | uploaded | failed, with the reason), when one is due
        self.send({**order, "wechat_shipping": await notify.shipping_state(self.shop_id, order["id"])})


class ShipHandler(MerchantHandler):
    permissions = {"POST": "orders.ship"}

    @returns(schemas.MerchantOrder)
    async def post(self, order_id):
        """Ship an order."""
        body = self.body(ShipBody)
        self.send(await orders.ship_order(self.shop_id, int(order_id), self.staff.id,
                                                 body.express_company, body.express_no))


class RefundApproveHandler(MerchantHandler):
    permissions = {"POST": "orders.refund"}

    @returns(schemas.MerchantOrder)
    async def post(self, order_id):
        """Approve a refund request (refunds the payment)."""
        self.send(await orders.approve_refund(self.shop_id, int(order_id), self.staff.id))


class RefundRejectHandler(MerchantHandler):
    permissions = {"POST": "orders.refund"}

    @returns(schemas.MerchantOrder)
    async def post(self, order_id):
        """Reject a refund request."""
        body = self.body(ReasonBody)
        self.send(await orders.reject_refund(self.shop_id, int(order_id), self.staff.id, body.reason))


class PriceHandler(MerchantHandler):
    permissions = {"POST": "orders.edit"}

    @returns(schemas.MerchantOrder)
    async def post(self, order_id):
        """Change an unpaid order's price."""
        body = self.body(PriceBody)
        self.send(await orders.change_price(self.shop_id, int(order_id), self.staff.id, body.total_fen))


class CloseHandler(MerchantHandler):
    permissions = {"POST": "orders.edit"}

    @returns(schemas.MerchantOrder)
    async def post(self, order_id):
        """Close an unpaid order."""
        self.send(await orders.close_by_merchant(self.shop_id, int(order_id), self.staff.id))


class RemarkHandler(MerchantHandler):
    permissions = {"POST": "orders.edit"}

    @returns(schemas.MerchantOrder)
    async def post(self, order_id):
        """Set the merchant's remark on an order."""
        self.send(await orders.set_merchant_remark(self.shop_id, int(order_id), self.body(RemarkBody).remark))


class TrackingHandler(MerchantHandler):
    """The parcel's route, as the shopper sees it (same cache)."""
    permissions = {"GET": "orders.view"}

    @returns(schemas.Tracking)
    async def get(self, order_id):
        self.send(await tracking.order_tracking(self.shop_id, int(order_id)))
