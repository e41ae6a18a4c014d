"""A member's money: recharges (WeChat Pay), withdrawals, ledgers, and the distributor centre (分销)."""
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import MobileHandler, Money, RequestBody, client_ip
from handlers.schemas import returns
from services import distribution, finance


class RechargeBody(RequestBody):
    amount_fen: Money = pydantic.Field(description="amount to pay, in fen (at least the shop's minimum)",
                                       examples=[10000])


class WithdrawBody(RequestBody):
    source: Literal["balance", "commission"] = pydantic.Field(description="where the money comes from")
    target: Literal["wechat", "balance"] = pydantic.Field(
        description="where it goes: wechat (paid out once approved) or balance (commission moved to the member's "
                    "balance)")
    amount_fen: Money = pydantic.Field(description="amount, in fen (at least the shop's minimum)", examples=[5000])


class ApplyBody(RequestBody):
    real_name: pydantic.constr(min_length=1, max_length=32) = pydantic.Field(description="the applicant's real name",
                                                                             examples=["张三"])
    mobile: pydantic.constr(pattern=r"^1\d{10}$") = pydantic.Field(description="a mobile number to reach them",
                                                                   examples=["13800138000"])


class BindBody(RequestBody):
    referrer_id: pydantic.conint(ge=1, le=2**53) = pydantic.Field(
        description="the distributor's member id, from the share link or the QR code's scene")


class RechargesHandler(MobileHandler):
    """Top up the balance with WeChat Pay; credited (with the shop's bonus) when WeChat reports it paid."""

    @returns(schemas.RechargeStarted)
    async def post(self, shop_id):
        body = self.body(RechargeBody)
        self.send(await finance.start_recharge(self.shop_id, self.member, body.amount_fen, client_ip(self)), 201)


class WithdrawalsHandler(MobileHandler):
    @returns(schemas.Withdrawal, paged=True)
    async def get(self, shop_id):
        """List the member's withdrawal requests."""
        page, page_size = self.page_args()
        self.send(await finance.list_withdrawals(self.shop_id, page, page_size, member_id=self.member.id))

    @returns(schemas.Withdrawal)
    async def post(self, shop_id):
        """Ask to withdraw commission."""
        body = self.body(WithdrawBody)

        async def request():
            return await finance.request_withdrawal(self.shop_id, self.member, body.source, body.target, body.amount_fen)

        await self.send_once(f"member:{self.member.id}", 201, request)


class DistributionHandler(MobileHandler):
    """The distributor centre: status, commission by state, team size."""

    @returns(schemas.DistributionCentre)
    async def get(self, shop_id):
        self.send(await distribution.centre(self.shop_id, self.member))


class ApplyHandler(MobileHandler):
    @returns(schemas.Distributor)
    async def post(self, shop_id):
        """Apply to become a distributor."""
        body = self.body(ApplyBody)
        self.send(await distribution.apply(self.shop_id, self.member, body.real_name, body.mobile), 201)


class BindHandler(MobileHandler):
    @returns(schemas.Referral)
    async def post(self, shop_id):
        """Bind the member to a referring distributor."""
        self.send(await distribution.bind(self.shop_id, self.member, self.body(BindBody).referrer_id))


class TeamHandler(MobileHandler):
    @returns(schemas.Downline, paged=True)
    async def get(self, shop_id):
        """List the distributor's downline."""
        page, page_size = self.page_args()
        level = self.int_arg("level", 1, minimum=1, maximum=2)
        self.send(await distribution.my_team(self.shop_id, self.member.id, level, page, page_size))


class CommissionsHandler(MobileHandler):
    @returns(schemas.Commission, paged=True)
    async def get(self, shop_id):
        """List the distributor's commissions."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("frozen", "settled", "reversed"))
        self.send(await distribution.my_commissions(self.shop_id, self.member.id, status, page, page_size))
