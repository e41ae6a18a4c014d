import datetime

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, RequestBody
from handlers.schemas import returns
from services import flash

Price = pydantic.conint(ge=1, le=10**12)
Stock = pydantic.conint(ge=1, le=1_000_000)
StockEdit = pydantic.conint(ge=0, le=1_000_000)
PerMember = pydantic.conint(ge=1, le=1000)
Title = pydantic.constr(min_length=1, max_length=100)
Field = pydantic.Field


class FlashItemBody(RequestBody):
    goods_id: Id = Field(description="the goods")
    sku_id: Id | None = Field(None, description="the SKU (required when the goods has SKUs)")
    price_fen: Price = Field(description="the flash price, in fen; no other promotion applies to it", examples=[990])
    stock: Stock = Field(description="units for the sale, carved out of the goods' stock when the sale is created",
                         examples=[100])
    per_member_limit: PerMember = Field(1, description="most units one member may buy")


class SaleBody(RequestBody):
    title: Title = Field(description="title", examples=["午间秒杀"])
    starts_at: datetime.datetime = Field(description="start (ISO 8601, whole seconds; UTC without an offset)",
                                         examples=["2024-05-01T04:00:00Z"])
    ends_at: datetime.datetime = Field(description="end (ISO 8601, whole seconds; UTC without an offset)",
                                       examples=["2024-05-01T05:00:00Z"])
    items: pydantic.conlist(FlashItemBody, min_length=1, max_length=50) = Field(description="what it sells")


class FlashItemPatch(RequestBody):
    id: Id = Field(description="the flash item to change")
    price_fen: Price = Field(None, description="the flash price, in fen (before the start only)")
    stock: StockEdit = Field(None, description="the pool's total units: may grow while the sale runs, shrink only "
                                               "before it")
    per_member_limit: PerMember = Field(None, description="most units one member may buy (before the start only)")


class SalePatch(RequestBody):
    """Any subset; times, prices and limits only before the start (else 409 `sale_started`)."""
    title: Title = Field(None, description="title")
    starts_at: datetime.datetime = Field(None, description="start (ISO 8601; before the start only)")
    ends_at: datetime.datetime = Field(None, description="end (ISO 8601; before the start only)")
    items: pydantic.conlist(FlashItemPatch, max_length=50) = Field(None, description="changes to some of its items")


class SalesHandler(MerchantHandler):
    permissions = {"GET": "flash.view", "POST": "flash.edit"}

    @returns(schemas.MerchantFlashSale, paged=True)
    async def get(self):
        """List flash sales."""
        page, page_size = self.page_args()
        self.send(await flash.list_sales(self.shop_id, page, page_size))

    @returns(schemas.MerchantFlashSale)
    async def post(self):
        """Create a flash sale."""
        self.send(await flash.create_sale(self.shop_id, self.body(SaleBody).model_dump()), 201)


class SaleHandler(MerchantHandler):
    permissions = {"GET": "flash.view", "PATCH": "flash.edit", "DELETE": "flash.edit"}

    @returns(schemas.MerchantFlashSale)
    async def get(self, sale_id):
        """Read a flash sale."""
        self.send(await flash.sale_detail(self.shop_id, int(sale_id)))

    @returns(schemas.MerchantFlashSale)
    async def patch(self, sale_id):
        """Change a flash sale."""
        self.send(await flash.update_sale(self.shop_id, int(sale_id),
                                          self.body(SalePatch).model_dump(exclude_unset=True)))

    async def delete(self, sale_id):
        """Delete a flash sale."""
        await flash.delete_sale(self.shop_id, int(sale_id))
        self.no_content()


class SaleStatsHandler(MerchantHandler):
    permissions = {"GET": "flash.view"}

    @returns(schemas.FlashSaleStats)
    async def get(self, sale_id):
        """A flash sale's sales figures."""
        self.send(await flash.sale_stats(self.shop_id, int(sale_id)))
