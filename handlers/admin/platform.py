"""Platform users, platform settings, cross-shop stats, and a shop's operation log."""
import pydantic

from handlers import schemas
from handlers.base import AdminHandler, Password, RequestBody, Username, client_ip
from handlers.merchant.staff import audit_filters
from handlers.schemas import returns
from services import audit, dashboard, platform
from services import shop as shop_service


class AdminBody(RequestBody):
    username: Username = pydantic.Field(description="login name (unique)", examples=["ops_admin"])
    password: Password = pydantic.Field(description="password (6 to 128 characters)")


class AdminPatch(RequestBody):
    password: Password = pydantic.Field(None, description="a new password (revokes the admin's tokens)")
    current_password: pydantic.constr(max_length=128) = pydantic.Field(
        None, description="your current password: needed to change your own")
    is_active: bool = pydantic.Field(None, description="false disables the admin (not yourself) and revokes its tokens")


class AdminsHandler(AdminHandler):
    @returns(schemas.Admin, paged=True)
    async def get(self):
        """List platform administrators."""
        page, page_size = self.page_args()
        self.send(await platform.list_admins(page, page_size))

    @returns(schemas.Admin)
    async def post(self):
        """Create a platform administrator."""
        body = self.body(AdminBody)
        self.send(await platform.create_admin(body.username, body.password), 201)


class AdminUserHandler(AdminHandler):
    @returns(schemas.Admin)
    async def patch(self, admin_id):
        """Change a platform administrator."""
        changes = self.body(AdminPatch).model_dump(exclude_unset=True)
        self.send(await platform.update_admin(self.admin, int(admin_id), changes, client_ip(self)))


class PlatformSettingsPatch(RequestBody):
    """Any subset of the platform settings; the service validates the whole document."""
    platform_name: str = pydantic.Field(None, max_length=100, description="the platform's name")
    allow_shop_registration: bool = pydantic.Field(None, description="shops may sign up themselves")
    max_shops: int = pydantic.Field(None, ge=0, description="most shops on the platform (0: no limit)")
    support_contact: str = pydantic.Field(None, max_length=100, description="who shops contact for help")


class PlatformSettingsHandler(AdminHandler):
    @returns(schemas.PlatformSettings)
    async def get(self):
        """Read the platform settings."""
        self.send(await platform.get_platform_settings())

    @returns(schemas.PlatformSettings)
    async def patch(self):
        """Change the platform settings."""
        self.send(await platform.update_platform_settings(self.body(PlatformSettingsPatch).model_dump(exclude_unset=True)))


class StatsHandler(AdminHandler):
    @returns(schemas.PlatformStats)
    async def get(self):
        """Platform-wide statistics."""
        self.send(await dashboard.platform_stats())


class ShopAuditHandler(AdminHandler):
    @returns(schemas.AuditEntry, paged=True)
    async def get(self, shop_id):
        """Read a shop's audit trail."""
        await shop_service.get_shop(int(shop_id))
        page, page_size = self.page_args()
        self.send(await audit.list_entries(int(shop_id), page, page_size, **audit_filters(self)))
