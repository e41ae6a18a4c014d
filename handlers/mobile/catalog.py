"""The shop window for shoppers: public reads, no member token needed."""
from handlers import schemas
from handlers.base import MobileHandler
from handlers.schemas import returns
from services import adv, sysset
from services import goods as goods_service

SORTS = ("price_asc", "price_desc", "sales", "new", "default")


class CategoriesHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.listed(schemas.CategoryNode))
    async def get(self, shop_id):
        """List the shop's categories."""
        self.send({"items": await goods_service.category_tree(self.shop_id, enabled_only=True)})


class GoodsListHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.GoodsSummary, paged=True)
    async def get(self, shop_id):
        """List goods on sale (filter by category, keyword)."""
        page, page_size = self.page_args()
        sort = self.choice_arg("sort", SORTS, "default")
        q = (self.get_query_argument("q", "") or "").strip()[:100]
        self.send(await goods_service.list_goods(
            self.shop_id, page, page_size, merchant=False, category_id=self.int_arg("category_id", minimum=1),
            q=q or None, sort=sort))


class GoodsHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.GoodsDetail)
    async def get(self, shop_id, goods_id):
        """Read goods as the goods page shows them."""
        self.send_encoded(await goods_service.goods_page(self.shop_id, int(goods_id)))


class BannersHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.listed(schemas.Banner))
    async def get(self, shop_id):
        """List the shop's visible banners."""
        self.send({"items": await adv.live_banners(self.shop_id)})


class SettingsHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.PublicSettings)
    async def get(self, shop_id):
        """Read the shop's public settings."""
        self.send(sysset.public_settings(await sysset.get_settings(self.shop_id)))
