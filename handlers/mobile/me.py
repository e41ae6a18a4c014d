"""The signed-in member: profile, mobile and password, balance and points ledgers."""
import pydantic

import events
from handlers import schemas
from handlers.base import Mobile, MobileHandler, Password, RequestBody, client_ip
from handlers.schemas import returns
from models.finance import BALANCE, COMMISSION, POINTS
from services import finance, notify
from services import member as member_service


class ProfileBody(RequestBody):
    nickname: pydantic.constr(min_length=1, max_length=64) = pydantic.Field(None, description="display name",
                                                                            examples=["小明"])
    avatar: pydantic.constr(max_length=512, pattern=r"^(https?://\S+)?$") = pydantic.Field(
        None, description="avatar URL (empty: none)")
    gender: pydantic.conint(ge=0, le=2) = pydantic.Field(None, description="0 unknown, 1 male, 2 female")


class BindMobileBody(RequestBody):
    mobile: Mobile = pydantic.Field(description="mainland mobile number (11 digits), unique in the shop",
                                    examples=["13800138000"])
    password: Password | None = pydantic.Field(None, description="a password to sign in with the number (revokes "
                                                                 "the member's other tokens)")
    current_password: pydantic.constr(max_length=128) | None = pydantic.Field(
        None, description="needed to change an existing password; a member without one (WeChat sign-up) sets it "
                          "without")


class MeHandler(MobileHandler):
    """The member's profile, with the position of their `member:{id}` channel (order status):
    subscribe with that seq/epoch as `since` and no change after this read is missed."""

    @returns(schemas.MemberWithChannel)
    async def get(self, shop_id):
        channel = await events.position(f"member:{self.member.id}")
        member = await member_service.get_member(self.shop_id, self.member.id)
        self.send({**member_service.render_member(member), "channel": channel})

    @returns(schemas.Member)
    async def patch(self, shop_id):
        changes = self.body(ProfileBody).model_dump(exclude_unset=True)
        self.send(await member_service.update_profile(self.member, changes))


class BindMobileHandler(MobileHandler):
    @returns(schemas.MemberWithToken)
    async def post(self, shop_id):
        """Bind a mobile number to the member."""
        body = self.body(BindMobileBody)
        self.send(await member_service.bind_mobile(self.member, body.mobile, body.password, body.current_password,
                                                   client_ip(self)))


class LedgerHandler(MobileHandler):
    @returns(schemas.LedgerEntry, paged=True)
    async def get(self, shop_id):
        """List the member's balance and points movements."""
        page, page_size = self.page_args()
        currency = self.choice_arg("currency", (BALANCE, POINTS, COMMISSION))
        self.send(await finance.ledger(self.shop_id, self.member.id, currency, page, page_size))


class SubscriptionsBody(RequestBody):
    template_ids: list[pydantic.constr(min_length=1, max_length=128)] = pydantic.Field(
        min_length=1, max_length=20, description="the template ids wx.requestSubscribeMessage answered \"accept\" "
                                                 "for: one message each")


class SubscriptionsHandler(MobileHandler):
    """One-time subscription consent: each accepted template is one message the shop may send."""

    @returns(schemas.listed(schemas.SubscriptionCredit))
    async def get(self, shop_id):
        self.send(await notify.credits(self.shop_id, self.member.id))

    @returns(schemas.listed(schemas.SubscriptionCredit))
    async def post(self, shop_id):
        self.send(await notify.grant(self.shop_id, self.member.id, self.body(SubscriptionsBody).template_ids))
