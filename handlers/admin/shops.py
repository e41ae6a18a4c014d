"""Shops on the platform: open one with its owner, list, suspend or reactivate (a suspended shop's APIs answer 403)."""
from typing import Literal

import pydantic

from handlers.base import AdminHandler, Password, RequestBody, Username
from services import shop as shop_service

ShopName = pydantic.constr(min_length=1, max_length=100)


class CreateShopBody(RequestBody):
    name: ShopName
    owner_username: Username
    owner_password: Password


class UpdateShopBody(RequestBody):
    name: ShopName | None = None
    status: Literal["active", "suspended"] | None = None


class ShopsHandler(AdminHandler):
    async def get(self):
        """List shops."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("active", "suspended"))
        self.send(await shop_service.list_shops(page, page_size, status))

    async def post(self):
        """Create a shop with its owner."""
        body = self.body(CreateShopBody)
        self.send(await shop_service.create_shop(body.name, body.owner_username, body.owner_password), 201)


class ShopHandler(AdminHandler):
    async def get(self, shop_id):
        """Read a shop."""
        self.send(shop_service.render_shop(await shop_service.get_shop(int(shop_id))))

    async def patch(self, shop_id):
        """Change a shop."""
        body = self.body(UpdateShopBody)
        self.send(await shop_service.update_shop(int(shop_id), body.model_dump(exclude_none=True)))
