"""The catalog: categories, goods with specs and SKUs, stock changes (ledgered), shelves."""
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, Money, RequestBody, Sort, Url
from handlers.schemas import returns
from services import goods as goods_service

Field = pydantic.Field

Title = pydantic.constr(min_length=1, max_length=200)
SpecValue = pydantic.constr(min_length=1, max_length=32)
Stock = pydantic.conint(ge=0, le=10**9)


class CategoryBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=64) = Field(description="the category's name", examples=["茶叶"])
    parent_id: Id | None = Field(None, description="the parent category (null: top level; two levels at most)")
    sort: Sort = Field(0, description="position in lists (higher first)")
    enabled: bool = Field(True, description="shown to shoppers")


class CategoryPatch(CategoryBody):
    name: pydantic.constr(min_length=1, max_length=64) = None
    parent_id: Id | None = None
    sort: Sort = None
    enabled: bool = None


class SpecGroup(RequestBody):
    name: SpecValue = Field(description="the spec group, e.g. 颜色", examples=["颜色"])
    values: pydantic.conlist(SpecValue, min_length=1, max_length=50) = Field(
        description="its values", examples=[["红", "蓝"]])


class SkuBody(RequestBody):
    title: pydantic.constr(max_length=200) | None = Field(
        None, description="the SKU's label (default: its spec values joined, e.g. 红 / M)")
    spec_values: list[SpecValue] | None = Field(
        None, description="one value per spec group, in the groups' order", examples=[["红", "M"]])
    price_fen: Money = Field(description="price in fen", examples=[5900])
    stock: Stock = Field(0, description="units in stock of a new SKU (an existing SKU keeps its stock: change it "
                                        "through the stock endpoint)")
    code: pydantic.constr(max_length=64) | None = Field(None, description="the merchant's SKU code")


class GoodsFields(RequestBody):
    subtitle: pydantic.constr(max_length=255) = Field(None, description="subtitle")
    category_id: Id | None = Field(None, description="its category (null: none)")
    images: pydantic.conlist(Url, max_length=20) = Field(None, description="image URLs, the first is the cover")
    description: pydantic.constr(max_length=200_000) = Field(
        None, description="rich-text description (HTML; sanitised before it is stored)")
    market_price_fen: Money = Field(None, description="crossed-out reference price in fen (0: none)")
    weight_g: pydantic.conint(ge=0, le=10**8) = Field(None, description="weight in grams")
    status: Literal["on_sale", "off_sale"] = Field(None, description="on sale, or off the shelf")
    sort: Sort = Field(None, description="position in lists (higher first)")
    is_virtual: bool = Field(None, description="virtual goods need no delivery address")
    purchase_limit: pydantic.conint(ge=0, le=100_000) = Field(
        None, description="most units one member may buy (0: no limit)")
    commission_rates_bp: pydantic.conlist(pydantic.conint(ge=0, le=5000), min_length=1, max_length=3) | None = Field(
        None, description="distribution commission per level in basis points, overriding the shop's "
                          "([1500, 500]: 15%, 5%; null: the shop's rates)", examples=[[1500, 500]])
    specs: pydantic.conlist(SpecGroup, max_length=3) = Field(
        None, description="spec groups (at most 3); with specs the goods are sold by SKU")
    skus: pydantic.conlist(SkuBody, max_length=500) = Field(
        None, description="every SKU, one per combination of spec values: SKUs with the same values are "
                          "updated (their stock kept), new ones added, the others retired")


class GoodsBody(GoodsFields):
    title: Title = Field(description="title", examples=["明前龙井 250g"])
    price_fen: Money = Field(description="price in fen (with SKUs it becomes the lowest SKU price)", examples=[5900])
    stock: Stock = Field(0, description="units in stock (with SKUs: their stock)")


class GoodsPatch(GoodsFields):
    """Everything but stock: existing stock changes only through the stock endpoint."""
    title: Title = Field(None, description="title")
    price_fen: Money = Field(None, description="price in fen (with SKUs it becomes the lowest SKU price)")


class ShelfBody(RequestBody):
    ids: pydantic.conlist(Id, min_length=1, max_length=500) = Field(
        description="the goods (other shops' and deleted goods are passed over)", examples=[[7, 8]])
    status: Literal["on_sale", "off_sale"] = Field(description="on sale, or off the shelf")


class StockBody(RequestBody):
    delta: pydantic.conint(ge=-10**9, le=10**9) = Field(
        description="units to add (negative: take away; stock cannot go below 0)", examples=[10])
    sku_id: Id | None = Field(None, description="the SKU (required for goods with specs)")
    remark: pydantic.constr(max_length=255) = Field("", description="why, shown in the stock ledger")


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

    @returns(schemas.ShelfUpdated)
    async def post(self):
        """Put goods on or off the shelf, several at once."""
        body = self.body(ShelfBody)
        self.send({"updated": await goods_service.set_shelf(self.shop_id, body.ids, body.status)})


class StockHandler(MerchantHandler):
    permissions = {"POST": "goods.stock"}

    @returns(schemas.StockChanged)
    async def post(self, goods_id):
        """Adjust stock (logged in the stock ledger)."""
        body = self.body(StockBody)
        stock = await goods_service.change_stock(self.shop_id, int(goods_id), body.sku_id, body.delta, "adjust",
                                                 remark=body.remark, staff_id=self.staff.id)
        self.send({"goods_id": int(goods_id), "sku_id": body.sku_id, "stock": stock})


class StockLedgerHandler(MerchantHandler):
    permissions = {"GET": "goods.view"}

    @returns(schemas.StockMovement, paged=True)
    async def get(self, goods_id):
        """List the stock movements of goods."""
        page, page_size = self.page_args()
        self.send(await goods_service.stock_ledger(self.shop_id, int(goods_id), page, page_size))
