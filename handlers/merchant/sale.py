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


class CouponBody(RequestBody):
    """A coupon template. `kind` amount: `amount_fen` off; percent: `percent_off` % off, capped at
    `max_discount_fen` (0 = no cap). Valid for a fixed window or `valid_days` after claim."""
    name: Name
    kind: Literal["amount", "percent"]
    amount_fen: Money | None = None
    percent_off: Percent | None = None
    max_discount_fen: Fen = 0
    min_spend_fen: Fen = 0
    scope: Literal["all", "goods", "categories"] = "all"
    scope_ids: ScopeIds = []
    valid_from: datetime.datetime | None = None
    valid_until: datetime.datetime | None = None
    valid_days: Days = 0
    total_quantity: Quantity = 0  # 0 = unlimited
    per_member_limit: PerMember = 1  # 0 = unlimited
    claimable: bool = True
    stackable: bool = False
    enabled: bool = True


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
    member_ids: pydantic.conlist(Id, min_length=1, max_length=10_000) | None = None
    level_id: Id | None = None

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

    async def post(self, template_id):
        """Issue coupons to members."""
        body = self.body(IssueBody)
        self.send(await sale.issue(self.shop_id, int(template_id), body.member_ids, body.level_id))
