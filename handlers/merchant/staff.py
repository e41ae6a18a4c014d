"""Staff, roles, the operation log, the dashboard and the permission catalogue."""
import datetime

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, Password, RequestBody, Username, client_ip
from handlers.schemas import returns
from services import audit, dashboard, perm, staff

Keys = pydantic.conlist(pydantic.constr(min_length=1, max_length=64), max_length=100)
Name = pydantic.constr(max_length=32)
Field = pydantic.Field
PERMISSIONS = "permission keys granted directly, beyond the role's (GET /api/merchant/permissions lists them)"


class StaffBody(RequestBody):
    username: Username = Field(description="login name (unique on the platform)", examples=["clerk01"])
    password: Password = Field(description="password (6 to 128 characters)")
    name: Name = Field("", description="display name", examples=["小李"])
    role_id: Id | None = Field(None, description="their role (null: none)")
    permissions: Keys = Field([], description=PERMISSIONS, examples=[["orders.view"]])


class StaffPatch(RequestBody):
    name: Name = Field(None, description="display name")
    role_id: Id | None = Field(None, description="their role (null: none)")
    permissions: Keys = Field(None, description=PERMISSIONS + "; replaces the present ones")
    password: Password = Field(None, description="a new password (revokes their tokens)")
    current_password: pydantic.constr(max_length=128) = Field(
        None, description="your current password: needed to change your own")
    is_active: bool = Field(None, description="false disables the account (never the owner's) and "
                                              "revokes its tokens")


class RoleBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=32) = Field(description="the role's name", examples=["客服"])
    permissions: Keys = Field([], description="permission keys (GET /api/merchant/permissions lists them)",
                              examples=[["orders.view", "orders.ship"]])


class RolePatch(RoleBody):
    name: pydantic.constr(min_length=1, max_length=32) = None
    permissions: Keys = None


class PermissionsHandler(MerchantHandler):
    """The catalogue of permission keys with their labels (for the role editor)."""
    any_staff = ("GET",)

    @returns(schemas.listed(schemas.Permission))
    async def get(self):
        self.send({"items": [{"key": key, "label": label} for key, label in perm.CATALOGUE.items()]})


class StaffListHandler(MerchantHandler):
    permissions = {"GET": "staff.view", "POST": "staff.edit"}

    @returns(schemas.Staff, paged=True)
    async def get(self):
        """List staff."""
        page, page_size = self.page_args()
        self.send(await staff.list_staff(self.shop_id, page, page_size))

    @returns(schemas.Staff)
    async def post(self):
        """Create a staff member."""
        self.send(await staff.create_staff(self.staff, self.body(StaffBody).model_dump()), 201)


class StaffHandler(MerchantHandler):
    permissions = {"GET": "staff.view", "PATCH": "staff.edit"}

    @returns(schemas.Staff)
    async def get(self, staff_id):
        """Read a staff member."""
        self.send(staff.render_staff(await staff.get_staff(self.shop_id, int(staff_id))))

    @returns(schemas.Staff)
    async def patch(self, staff_id):
        """Change a staff member."""
        changes = self.body(StaffPatch).model_dump(exclude_unset=True)
        self.send(await staff.update_staff(self.staff, int(staff_id), changes, client_ip(self)))


class RolesHandler(MerchantHandler):
    permissions = {"GET": "staff.view", "POST": "staff.edit"}

    @returns(schemas.Role, paged=True)
    async def get(self):
        """List roles."""
        page, page_size = self.page_args()
        self.send(await perm.list_roles(self.shop_id, page, page_size))

    @returns(schemas.Role)
    async def post(self):
        """Create a role."""
        body = self.body(RoleBody)
        self.send(await staff.create_role(self.shop_id, body.name, body.permissions, self.staff), 201)


class RoleHandler(MerchantHandler):
    permissions = {"GET": "staff.view", "PATCH": "staff.edit", "DELETE": "staff.edit"}

    @returns(schemas.Role)
    async def get(self, role_id):
        """Read a role."""
        self.send(perm.render_role(await perm.get_role(self.shop_id, int(role_id))))

    @returns(schemas.Role)
    async def patch(self, role_id):
        """Change a role's permissions."""
        changes = self.body(RolePatch).model_dump(exclude_unset=True)
        self.send(await staff.update_role(self.shop_id, int(role_id), changes, self.staff))

    async def delete(self, role_id):
        """Delete a role."""
        await staff.delete_role(self.shop_id, int(role_id), self.staff)
        self.no_content()


def audit_filters(handler) -> dict:
    end = handler.date_arg("to")
    return {"object_type": handler.get_query_argument("object_type", None) or None,
            "object_id": handler.int_arg("object_id", minimum=1),
            "actor_name": handler.get_query_argument("actor", None) or None,
            "action": handler.get_query_argument("action", None) or None,
            "start": handler.date_arg("from"), "end": end + datetime.timedelta(days=1) if end else None}


class AuditHandler(MerchantHandler):
    """The operation log, newest first: filter by object, actor ("staff:7"), action prefix, dates."""
    permissions = {"GET": "staff.view"}

    @returns(schemas.AuditEntry, paged=True)
    async def get(self):
        page, page_size = self.page_args()
        self.send(await audit.list_entries(self.shop_id, page, page_size, **audit_filters(self)))


class DashboardHandler(MerchantHandler):
    permissions = {"GET": "dashboard.view"}

    @returns(schemas.Dashboard)
    async def get(self):
        """The shop's dashboard figures."""
        self.send(await dashboard.merchant_dashboard(self.shop_id))
