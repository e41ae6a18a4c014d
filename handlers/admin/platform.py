"""Platform users, platform settings, cross-shop stats, and a shop's operation log."""
from typing import Any

import pydantic

from handlers.base import AdminHandler, Password, RequestBody, Username, client_ip
from handlers.merchant.staff import audit_filters
from services import audit, dashboard, platform
from services import shop as shop_service


class AdminBody(RequestBody):
    username: Username
    password: Password


class AdminPatch(RequestBody):
    password: Password = None
    current_password: pydantic.constr(max_length=128) = None  # needed to change one's own password
    is_active: bool = None


class AdminsHandler(AdminHandler):
    async def get(self):
        """List platform administrators."""
        page, page_size = self.page_args()
        self.send(await platform.list_admins(page, page_size))

    async def post(self):
        """Create a platform administrator."""
        body = self.body(AdminBody)
        self.send(await platform.create_admin(body.username, body.password), 201)


class AdminUserHandler(AdminHandler):
    async def patch(self, admin_id):
        """Change a platform administrator."""
        changes = self.body(AdminPatch).model_dump(exclude_unset=True)
        self.send(await platform.update_admin(self.admin, int(admin_id), changes, client_ip(self)))


class SettingsPatch(RequestBody):
    platform_name: Any = None
    allow_shop_registration: Any = None
    max_shops: Any = None
    support_contact: Any = None


class PlatformSettingsHandler(AdminHandler):
    async def get(self):
        """Read the platform settings."""
        self.send(await platform.get_platform_settings())

    async def patch(self):
        """Change the platform settings."""
        self.send(await platform.update_platform_settings(self.body(SettingsPatch).model_dump(exclude_unset=True)))


class StatsHandler(AdminHandler):
    async def get(self):
        """Platform-wide statistics."""
        self.send(await dashboard.platform_stats())


class ShopAuditHandler(AdminHandler):
    async def get(self, shop_id):
        """Read a shop's audit trail."""
        await shop_service.get_shop(int(shop_id))
        page, page_size = self.page_args()
        self.send(await audit.list_entries(int(shop_id), page, page_size, **audit_filters(self)))
