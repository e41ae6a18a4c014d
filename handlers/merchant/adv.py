"""Banners (adv): the shop's carousel and ad slots."""
import datetime

import pydantic

from handlers import schemas
from handlers.base import MerchantHandler, RequestBody, Sort, Url
from handlers.schemas import returns
from services import adv


class BannerBody(RequestBody):
    title: pydantic.constr(max_length=100) = pydantic.Field("", description="title (may be empty)")
    image: Url = pydantic.Field(description="image URL (http or https)", examples=["https://img.example.com/b1.jpg"])
    link: pydantic.constr(max_length=512) = pydantic.Field(
        "", description="where a tap goes: a URL or a mini-program page (may be empty)")
    sort: Sort = pydantic.Field(0, description="position (higher first)")
    enabled: bool = pydantic.Field(True, description="shown to shoppers (within its dates)")
    starts_at: datetime.datetime | None = pydantic.Field(
        None, description="shown from (ISO 8601; without an offset it is UTC; null: now)")
    ends_at: datetime.datetime | None = pydantic.Field(
        None, description="shown until (ISO 8601; without an offset it is UTC; null: open-ended)")


class BannerPatch(BannerBody):
    title: pydantic.constr(max_length=100) = None
    image: Url = None
    link: pydantic.constr(max_length=512) = None
    sort: Sort = None
    enabled: bool = None
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None


class BannersHandler(MerchantHandler):
    permissions = {"GET": "adv.view", "POST": "adv.edit"}

    @returns(schemas.Banner, paged=True)
    async def get(self):
        """List the shop's banners."""
        page, page_size = self.page_args()
        self.send(await adv.list_banners(self.shop_id, page, page_size))

    @returns(schemas.Banner)
    async def post(self):
        """Create a banner."""
        self.send(await adv.create_banner(self.shop_id, self.body(BannerBody).model_dump()), 201)


class BannerHandler(MerchantHandler):
    permissions = {"GET": "adv.view", "PATCH": "adv.edit", "DELETE": "adv.edit"}

    @returns(schemas.Banner)
    async def get(self, banner_id):
        """Read a banner."""
        self.send(adv.render_banner(await adv.get_banner(self.shop_id, int(banner_id))))

    @returns(schemas.Banner)
    async def patch(self, banner_id):
        """Change a banner."""
        changes = self.body(BannerPatch).model_dump(exclude_unset=True)
        self.send(await adv.update_banner(self.shop_id, int(banner_id), changes))

    async def delete(self, banner_id):
        """Delete a banner."""
        await adv.delete_banner(self.shop_id, int(banner_id))
        self.no_content()
