"""Shops on the platform: open one with its owner, list, suspend or reactivate (a suspended shop's APIs answer 403)."""
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import AdminHandler, Password, RequestBody, Username
from handlers.schemas import returns
from services import shop as shop_service

ShopName = pydantic.constr(min_length=1, max_length=100)


class CreateShopBody(RequestBody):
    name: ShopName = pydantic.Field(description="the shop's name", examples=["好茶小铺"])
    owner_username: Username = pydantic.Field(description="login name of the owner's staff account (unique)",
                                              examples=["tea_owner"])
    owner_password: Password = pydantic.Field(description="the owner's password (6 to 128 characters)")


class UpdateShopBody(RequestBody):
    name: ShopName | None = pydantic.Field(None, description="a new name")
    status: Literal["active", "suspended"] | None = pydantic.Field(
        None, description="suspended: every API of the shop answers 403 shop_suspended; active: serve it again")


class ShopsHandler(AdminHandler):
    @returns(schemas.Shop, paged=True)
    async def get(self):
        """List shops."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("active", "suspended"))
        self.send(await shop_service.list_shops(page, page_size, status))

    @returns(schemas.ShopCreated)
    async def post(self):
        """Create a shop with its owner."""
        body = self.body(CreateShopBody)
        self.send(await shop_service.create_shop(body.name, body.owner_username, body.owner_password), 201)


class ShopHandler(AdminHandler):
    @returns(schemas.Shop)
    async def get(self, shop_id):
        """Read a shop."""
        self.send(shop_service.render_shop(await shop_service.get_shop(int(shop_id))))

    @returns(schemas.Shop)
    async def patch(self, shop_id):
        """Change a shop."""
        body = self.body(UpdateShopBody)
        self.send(await shop_service.update_shop(int(shop_id), body.model_dump(exclude_none=True)))
