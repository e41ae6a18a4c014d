"""A shopper's after-sales (售后): ask about some units of an order, follow, ship the return, withdraw."""
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import Id, MobileHandler, RequestBody, Url
from handlers.schemas import returns
from services.orders import aftersales

Express = pydantic.constr(min_length=1, max_length=64)


class AfterSaleItemBody(RequestBody):
    order_item_id: Id = pydantic.Field(description="a line of the order")
    quantity: pydantic.conint(ge=1, le=999) = pydantic.Field(description="units of that line (not yet refunded)")


class AfterSaleBody(RequestBody):
    type: Literal["refund", "return", "exchange"] = pydantic.Field(
        description="refund only (goods not sent back), return and refund, or exchange")
    items: pydantic.conlist(AfterSaleItemBody, min_length=1, max_length=50) = pydantic.Field(
        description="the units asked about")
    reason: pydantic.constr(min_length=1, max_length=255) = pydantic.Field(description="why", examples=["尺码不合适"])
    amount_fen: pydantic.conint(ge=0, le=10**12) | None = pydantic.Field(
        None, description="ask for less than the units' share of what was paid, in fen (null: all of it)")
    images: pydantic.conlist(Url, max_length=9) = pydantic.Field([], description="photo URLs (at most 9)")


class ReturnShipBody(RequestBody):
    express_company: Express = pydantic.Field(description="carrier of the goods sent back", examples=["中通快递"])
    express_no: pydantic.constr(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$") = pydantic.Field(
        description="its tracking number", examples=["ZT1234567890"])


class OrderAfterSalesHandler(MobileHandler):
    @returns(schemas.AfterSale)
    async def post(self, shop_id, order_id):
        """Ask for a return, refund or exchange of an order."""
        body = self.body(AfterSaleBody)
        self.send(await aftersales.request(self.shop_id, self.member, int(order_id), body.type,
                                           [item.model_dump() for item in body.items], body.reason,
                                           body.amount_fen, body.images), 201)


class AfterSalesHandler(MobileHandler):
    @returns(schemas.AfterSale, paged=True)
    async def get(self, shop_id):
        """List the member's after-sale requests."""
        page, page_size = self.page_args()
        self.send(await aftersales.list_aftersales(self.shop_id, page, page_size, member_id=self.member.id))


class AfterSaleHandler(MobileHandler):
    @returns(schemas.AfterSale)
    async def get(self, shop_id, aftersale_id):
        """Read one of the member's after-sale requests."""
        self.send(await aftersales.detail(self.shop_id, int(aftersale_id), self.member.id))


class AfterSaleShipHandler(MobileHandler):
    @returns(schemas.AfterSale)
    async def post(self, shop_id, aftersale_id):
        """Tell the shop how the goods are sent back."""
        body = self.body(ReturnShipBody)
        self.send(await aftersales.ship_back(self.shop_id, self.member, int(aftersale_id), body.express_company,
                                             body.express_no))


class AfterSaleCancelHandler(MobileHandler):
    @returns(schemas.AfterSale)
    async def post(self, shop_id, aftersale_id):
        """Withdraw an after-sale request."""
        self.send(await aftersales.cancel(self.shop_id, self.member, int(aftersale_id)))
