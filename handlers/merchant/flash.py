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


class ItemBody(RequestBody):
    goods_id: Id
    sku_id: Id | None = None  # required when the goods has SKUs
    price_fen: Price  # the flash price; no other promotion applies to it
    stock: Stock  # carved out of the goods' stock when the sale is created
    per_member_limit: PerMember = 1


class SaleBody(RequestBody):
    title: Title
    starts_at: datetime.datetime  # whole seconds (fractions are dropped); naive times are UTC
    ends_at: datetime.datetime
    items: pydantic.conlist(ItemBody, min_length=1, max_length=50)


class ItemPatch(RequestBody):
    id: Id
    price_fen: Price = None  # before the start only
    stock: StockEdit = None  # the pool's total: may grow while the sale runs, shrink only before it
    per_member_limit: PerMember = None  # before the start only


class SalePatch(RequestBody):
    """Any subset; times, prices and limits only before the start (else 409 `sale_started`)."""
    title: Title = None
    starts_at: datetime.datetime = None
    ends_at: datetime.datetime = None
    items: pydantic.conlist(ItemPatch, max_length=50) = None


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

    async def get(self, sale_id):
        """A flash sale's sales figures."""
        self.send(await flash.sale_stats(self.shop_id, int(sale_id)))
