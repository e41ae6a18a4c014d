"""The catalog: categories, goods with specs and SKUs, stock changes (ledgered), shelves."""
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, Money, RequestBody, Sort, Url
from handlers.schemas import returns
from services import goods as goods_service

Title = pydantic.constr(min_length=1, max_length=200)
SpecValue = pydantic.constr(min_length=1, max_length=32)
Stock = pydantic.conint(ge=0, le=10**9)


class CategoryBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=64)
    parent_id: Id | None = None
    sort: Sort = 0
    enabled: bool = True


class CategoryPatch(RequestBody):
    name: pydantic.constr(min_length=1, max_length=64) = None
    parent_id: Id | None = None
    sort: Sort = None
    enabled: bool = None


class SpecGroup(RequestBody):
    name: SpecValue
    values: pydantic.conlist(SpecValue, min_length=1, max_length=50)


class SkuBody(RequestBody):
    title: pydantic.constr(max_length=200) | None = None
    spec_values: list[SpecValue] | None = None
    price_fen: Money
    stock: Stock = 0
    code: pydantic.constr(max_length=64) | None = None


class GoodsFields(RequestBody):
    subtitle: pydantic.constr(max_length=255) = None
    category_id: Id | None = None
    images: pydantic.conlist(Url, max_length=20) = None
    description: pydantic.constr(max_length=200_000) = None
    market_price_fen: Money = None
    weight_g: pydantic.conint(ge=0, le=10**8) = None
    status: Literal["on_sale", "off_sale"] = None
    sort: Sort = None
    is_virtual: bool = None
    purchase_limit: pydantic.conint(ge=0, le=100_000) = None
    # distribution: per-level rates in basis points overriding the shop's ([1500, 500]: 15%, 5%)
    commission_rates_bp: pydantic.conlist(pydantic.conint(ge=0, le=5000), min_length=1, max_length=3) | None = None
    specs: pydantic.conlist(SpecGroup, max_length=3) = None
    skus: pydantic.conlist(SkuBody, max_length=500) = None


class GoodsBody(GoodsFields):
    title: Title
    price_fen: Money
    stock: Stock = 0


class GoodsPatch(GoodsFields):
    """Everything but stock: existing stock changes only through the stock endpoint."""
    title: Title = None
    price_fen: Money = None


class ShelfBody(RequestBody):
    ids: pydantic.conlist(Id, min_length=1, max_length=500)
    status: Literal["on_sale", "off_sale"]


class StockBody(RequestBody):
    delta: pydantic.conint(ge=-10**9, le=10**9)
    sku_id: Id | None = None
    remark: pydantic.constr(max_length=255) = ""


def _fields(body: RequestBody) -> dict:
    fields = body.model_dump(exclude_unset=True)
    for name in ("specs", "skus"):
        if name in fields and fields[name] is None:
            fields[name] = []
    return fields


class CategoriesHandler(MerchantHandler):
    permissions = {"GET": "goods.view", "POST": "goods.edit"}

    @returns(schemas.listed(schemas.CategoryNode))
    async def get(self):
        """List categories."""
        self.send({"items": await goods_service.category_tree(self.shop_id, enabled_only=False)})

    @returns(schemas.Category)
    async def post(self):
        """Create a category."""
        self.send(await goods_service.create_category(self.shop_id, self.body(CategoryBody).model_dump()), 201)


class CategoryHandler(MerchantHandler):
    permissions = {"GET": "goods.view", "PATCH": "goods.edit", "DELETE": "goods.edit"}

    @returns(schemas.Category)
    async def get(self, category_id):
        """Read a category."""
        self.send(goods_service.render_category(await goods_service.get_category(self.shop_id, int(category_id))))

    @returns(schemas.Category)
    async def patch(self, category_id):
        """Change a category."""
        changes = self.body(CategoryPatch).model_dump(exclude_unset=True)
        self.send(await goods_service.update_category(self.shop_id, int(category_id), changes))

    async def delete(self, category_id):
        """Delete a category."""
        await goods_service.delete_category(self.shop_id, int(category_id))
        self.no_content()


class GoodsListHandler(MerchantHandler):
    permissions = {"GET": "goods.view", "POST": "goods.edit"}

    @returns(schemas.MerchantGoodsSummary, paged=True)
    async def get(self):
        """List goods (filter by status, category, keyword)."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("on_sale", "off_sale"))
        self.send(await goods_service.list_goods(
            self.shop_id, page, page_size, merchant=True, category_id=self.int_arg("category_id", minimum=1),
            q=self.get_query_argument("q", None), status=status))

    @returns(schemas.MerchantGoods)
    async def post(self):
        """Create goods, with SKUs if it has specs."""
        self.send(await goods_service.create_goods(self.shop_id, _fields(self.body(GoodsBody)), self.staff.id), 201)


class GoodsHandler(MerchantHandler):
    permissions = {"GET": "goods.view", "PATCH": "goods.edit", "DELETE": "goods.edit"}

    @returns(schemas.MerchantGoods)
    async def get(self, goods_id):
        """Read goods with their SKUs."""
        self.send(await goods_service.goods_detail(self.shop_id, int(goods_id)))

    @returns(schemas.MerchantGoods)
    async def patch(self, goods_id):
        """Change goods."""
        changes = _fields(self.body(GoodsPatch))
        self.send(await goods_service.update_goods(self.shop_id, int(goods_id), changes, self.staff.id))

    async def delete(self, goods_id):
        """Delete goods."""
        await goods_service.delete_goods(self.shop_id, int(goods_id))
        self.no_content()


class ShelfHandler(MerchantHandler):
    permissions = {"POST": "goods.edit"}

    async def post(self):
        """Put goods on or off the shelf, several at once."""
        body = self.body(ShelfBody)
        self.send({"updated": await goods_service.set_shelf(self.shop_id, body.ids, body.status)})


class StockHandler(MerchantHandler):
    permissions = {"POST": "goods.stock"}

    async def post(self, goods_id):
        """Adjust stock (logged in the stock ledger)."""
        body = self.body(StockBody)
        stock = await goods_service.change_stock(self.shop_id, int(goods_id), body.sku_id, body.delta, "adjust",
                                                 remark=body.remark, staff_id=self.staff.id)
        self.send({"goods_id": int(goods_id), "sku_id": body.sku_id, "stock": stock})


class StockLedgerHandler(MerchantHandler):
    permissions = {"GET": "goods.view"}

    async def get(self, goods_id):
        """List the stock movements of goods."""
        page, page_size = self.page_args()
        self.send(await goods_service.stock_ledger(self.shop_id, int(goods_id), page, page_size))
