"""The merchant's WeChat notifications: which template carries which event, the send log
(failures such as a wrong template id — errcode 40037/47003 — show up here as `config_error`),
and each staff member's own WeChat binding for the official-account alerts."""
import pydantic

from handlers import schemas
from handlers.base import MerchantHandler, RequestBody
from handlers.schemas import returns
from services import notify

TemplateId = pydantic.constr(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


class TemplateBody(RequestBody):
    event: pydantic.constr(min_length=1, max_length=32) = pydantic.Field(
        description="the event kind: " + ", ".join(notify.EVENTS), examples=["order_shipped"])
    template_id: TemplateId = pydantic.Field(description="the WeChat subscription-message template id")
    page: pydantic.constr(max_length=255) = pydantic.Field("", description="the mini-program page a tap opens")
    fields: dict[pydantic.constr(min_length=1, max_length=32, pattern=r"^[a-z_]+[0-9]*$"),
                 pydantic.constr(max_length=200)] = pydantic.Field(
        max_length=20, description="template field -> text with {placeholders} of the event (GET lists them)",
        examples=[{"character_string1": "{order_no}", "thing2": "{title}"}])


class TemplatesBody(RequestBody):
    templates: list[TemplateBody] = pydantic.Field(max_length=20, description="one per event kind (replaces the "
                                                                              "present mapping)")


class TemplatesHandler(MerchantHandler):
    permissions = {"GET": "settings.view", "PUT": "settings.edit"}

    @returns(schemas.NotifyTemplates)
    async def get(self):
        """Read the WeChat message templates (members' subscription messages, staff alerts)."""
        self.send(await notify.list_templates(self.shop_id))

    @returns(schemas.NotifyTemplates)
    async def put(self):
        """Set the WeChat message templates."""
        body = self.body(TemplatesBody)
        self.send(await notify.save_templates(self.shop_id, [t.model_dump() for t in body.templates]))


class NotificationsHandler(MerchantHandler):
    permissions = {"GET": "orders.view"}

    @returns(schemas.Notification, paged=True)
    async def get(self):
        """List sent and failed WeChat notifications."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", notify.STATUSES)
        self.send(await notify.list_log(self.shop_id, page, page_size, status=status, member_id=self.int_arg("member_id"),
                                        staff_id=self.int_arg("staff_id", minimum=1)))


class CodeBody(RequestBody):
    code: pydantic.constr(min_length=1, max_length=128) = pydantic.Field(
        description="the code WeChat's OAuth (snsapi_base) gave the staff member's browser on the shop's official account")


class MyWechatHandler(MerchantHandler):
    """The signed-in staff member's WeChat, for alerts of new paid orders and after-sale requests
    through the shop's official account. Only staff holding orders.view receive them."""
    any_staff = ("GET", "POST", "DELETE")

    @returns(schemas.StaffWechat)
    async def get(self):
        """Read my WeChat binding for order alerts."""
        self.send(await notify.staff_wechat(self.staff))

    @returns(schemas.StaffWechat)
    async def post(self):
        """Bind my WeChat for order alerts (an OAuth code of the shop's official account)."""
        self.send(await notify.bind_staff_wechat(self.staff, self.body(CodeBody).code))

    async def delete(self):
        """Unbind my WeChat: no more order alerts."""
        await notify.unbind_staff_wechat(self.staff)
        self.no_content()
