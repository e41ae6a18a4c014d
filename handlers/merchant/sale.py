"""Promotions (sale): coupon templates and issuing coupons to members."""
import datetime
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, Money, RequestBody
from handlers.schemas import returns
from services import sale

Name = pydantic.constr(min_length=1, max_length=100)
Percent = pydantic.conint(ge=1, le=99)
Quantity = pydantic.conint(ge=0, le=10**8)
PerMember = pydantic.conint(ge=0, le=1000)
Days = pydantic.conint(ge=0, le=3650)
Fen = pydantic.conint(ge=0, le=10**10)
ScopeIds = pydantic.conlist(Id, max_length=500)
Field = pydantic.Field


class CouponBody(RequestBody):
    """A coupon template. `kind` amount: `amount_fen` off; percent: `percent_off` % off, capped at
    `max_discount_fen` (0 = no cap). Valid for a fixed window or `valid_days` after claim."""
    name: Name = Field(description="name", examples=["满100减10"])
    kind: Literal["amount", "percent"] = Field(description="amount: amount_fen off; percent: percent_off % off")
    amount_fen: Money | None = Field(None, description="fen off (kind amount)", examples=[1000])
    percent_off: Percent | None = Field(None, description="percent off (kind percent)", examples=[15])
    max_discount_fen: Fen = Field(0, description="cap of a percent coupon, in fen (0: none)")
    min_spend_fen: Fen = Field(0, description="least spend it applies to, in fen (0: any)", examples=[10000])
    scope: Literal["all", "goods", "categories"] = Field("all", description="what it applies to")
    scope_ids: ScopeIds = Field([], description="the goods or categories of its scope")
    valid_from: datetime.datetime | None = Field(None, description="start of a fixed validity window (ISO 8601)")
    valid_until: datetime.datetime | None = Field(None, description="end of a fixed validity window (ISO 8601)")
    valid_days: Days = Field(0, description="days a coupon stays valid after it is claimed (0: the fixed window)")
    total_quantity: Quantity = Field(0, description="coupons that may be handed out (0: unlimited)")
    per_member_limit: PerMember = Field(1, description="most one member may hold (0: unlimited)")
    claimable: bool = Field(True, description="shown in the claim centre (false: only issued by the merchant)")
    stackable: bool = Field(False, description="may be used with other stackable coupons on one order")
    enabled: bool = Field(True, description="switched on")


class CouponPatch(CouponBody):
    name: Name = None
    kind: Literal["amount", "percent"] = None
    max_discount_fen: Fen = None
    min_spend_fen: Fen = None
    scope: Literal["all", "goods", "categories"] = None
    scope_ids: ScopeIds = None
    valid_days: Days = None
    total_quantity: Quantity = None
    per_member_limit: PerMember = None
    claimable: bool = None
    stackable: bool = None
    enabled: bool = None


class IssueBody(RequestBody):
    """To these members, or to every active member of a level."""
    member_ids: pydantic.conlist(Id, min_length=1, max_length=10_000) | None = Field(
        None, description="the members (give this or level_id)", examples=[[12, 13]])
    level_id: Id | None = Field(None, description="every active member of this level (give this or member_ids)")

    @pydantic.model_validator(mode="after")
    def _one_target(self):
        if not self.member_ids and not self.level_id:
            raise ValueError("give member_ids or level_id")
        return self


class CouponsHandler(MerchantHandler):
    permissions = {"GET": "sale.view", "POST": "sale.edit"}

    @returns(schemas.CouponTemplate, paged=True)
    async def get(self):
        """List coupon templates."""
        page, page_size = self.page_args()
        self.send(await sale.list_templates(self.shop_id, page, page_size))

    @returns(schemas.CouponTemplate)
    async def post(self):
        """Create a coupon template."""
        fields = self.body(CouponBody).model_dump()
        self.send(await sale.create_template(self.shop_id, {k: v for k, v in fields.items() if v is not None}), 201)


class CouponHandler(MerchantHandler):
    permissions = {"GET": "sale.view", "PATCH": "sale.edit", "DELETE": "sale.edit"}

    @returns(schemas.CouponTemplateDetail)
    async def get(self, template_id):
        """Read a coupon template."""
        self.send(await sale.template_detail(self.shop_id, int(template_id)))

    @returns(schemas.CouponTemplateDetail)
    async def patch(self, template_id):
        """Change a coupon template."""
        changes = self.body(CouponPatch).model_dump(exclude_unset=True)
        self.send(await sale.update_template(self.shop_id, int(template_id), changes))

    async def delete(self, template_id):
        """Delete a coupon template."""
        await sale.delete_template(self.shop_id, int(template_id))
        self.no_content()


class IssueHandler(MerchantHandler):
    permissions = {"POST": "sale.issue"}

    @returns(schemas.CouponsIssued)
    async def post(self, template_id):
        """Issue coupons to members."""
        body = self.body(IssueBody)
        self.send(await sale.issue(self.shop_id, int(template_id), body.member_ids, body.level_id))
