"""Group-buy (拼团) campaigns, their teams, ending a team early, redeeming pick-up codes."""
import datetime
from typing import Literal

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, Money, RequestBody
from handlers.schemas import returns
from services import groups, orders

Field = pydantic.Field


class TierBody(RequestBody):
    team_size: pydantic.conint(ge=2, le=100) = Field(description="members a team of this tier needs", examples=[3])
    price_fen: pydantic.conint(ge=1, le=10**12) = Field(description="price per member, in fen", examples=[3900])


Tiers = pydantic.conlist(TierBody, min_length=1, max_length=5)


class SkuPriceBody(TierBody):
    """One SKU's price in teams of one size (else the tier's price applies to that SKU)."""
    sku_id: Id = Field(description="the SKU of the campaign's goods")


SkuPrices = pydantic.conlist(SkuPriceBody, max_length=500)
Duration = pydantic.conint(ge=10, le=30 * 24 * 3600)
Limit = pydantic.conint(ge=0, le=1000)
Simulate = pydantic.conint(ge=0, le=99)


class ActivityFields(RequestBody):
    single_price_fen: Money | None = Field(None, description="price when buying alone, in fen (null: the goods' price)")
    sku_prices: SkuPrices | None = Field(None, description="SKU prices per team size (a SKU not listed pays its "
                                                           "tier's price)")
    purchase_limit: Limit = Field(0, description="most units one member may buy in this campaign (0: no limit)")
    starts_at: datetime.datetime | None = Field(None, description="start (ISO 8601, UTC without an offset; null: now)")
    ends_at: datetime.datetime | None = Field(None, description="end (ISO 8601, UTC without an offset; null: "
                                                                "open-ended)")
    enabled: bool = Field(True, description="switched on")
    simulate_min_paid: Simulate = Field(0, description="模拟成团: a team with at least this many paid members succeeds "
                                                       "when it expires (0: off)")
    pickup: bool = Field(False, description="orders are collected in store with a redemption code (核销) instead of "
                                            "shipped")
    share_title: pydantic.constr(max_length=100) = Field("", description="share card title (empty: the campaign's "
                                                                         "title)")
    share_image: pydantic.constr(max_length=500) = Field("", description="share card image URL")
    share_desc: pydantic.constr(max_length=255) = Field("", description="share card text")
    service_contact: pydantic.constr(max_length=100) = Field("", description="customer-service contact shown on the "
                                                                             "page")
    content: pydantic.constr(max_length=200_000) = Field("", description="rich-text page content (HTML; sanitised "
                                                                         "before it is stored)")


class ActivityBody(ActivityFields):
    title: pydantic.constr(min_length=1, max_length=100) = Field(description="title", examples=["好茶拼团"])
    goods_id: Id = Field(description="the goods it sells")
    tiers: Tiers = Field(description="team sizes and their prices (1 to 5 tiers)")
    duration_seconds: Duration = Field(description="how long a team has to fill, in seconds", examples=[86400])


class ActivityPatch(ActivityFields):
    """Any subset of the campaign's fields; what is left out stays as it is."""
    title: pydantic.constr(min_length=1, max_length=100) = Field(None, description="title")
    goods_id: Id = Field(None, description="the goods it sells")
    tiers: Tiers = Field(None, description="team sizes and their prices (replaces the present tiers)")
    duration_seconds: Duration = Field(None, description="how long a new team has to fill, in seconds")
    purchase_limit: Limit = None
    enabled: bool = None
    simulate_min_paid: Simulate = None
    pickup: bool = None
    share_title: pydantic.constr(max_length=100) = None
    share_image: pydantic.constr(max_length=500) = None
    share_desc: pydantic.constr(max_length=255) = None
    service_contact: pydantic.constr(max_length=100) = None
    content: pydantic.constr(max_length=200_000) = None


class EndTeamBody(RequestBody):
    outcome: Literal["success", "failed"] = Field(description="success ships what was paid (unpaid seats are "
                                                              "cancelled); failed refunds everyone")
    note: pydantic.constr(max_length=255) = Field("", description="why, kept in the operation log")


class RedeemBody(RequestBody):
    code: pydantic.constr(min_length=1, max_length=16) = Field(description="the pick-up code the member shows",
                                                               examples=["4283920417"])


class ActivitiesHandler(MerchantHandler):
    permissions = {"GET": "groups.view", "POST": "groups.edit"}

    @returns(schemas.Activity, paged=True)
    async def get(self):
        """List group-buy campaigns."""
        page, page_size = self.page_args()
        self.send(await groups.list_activities(self.shop_id, page, page_size, live_only=False))

    @returns(schemas.Activity)
    async def post(self):
        """Create a group-buy campaign."""
        self.send(await groups.create_activity(self.shop_id, self.body(ActivityBody).model_dump()), 201)


class ActivityHandler(MerchantHandler):
    permissions = {"GET": "groups.view", "PATCH": "groups.edit", "DELETE": "groups.edit"}

    @returns(schemas.Activity)
    async def get(self, activity_id):
        """Read a group-buy campaign."""
        self.send(groups.render_activity(await groups.get_activity(self.shop_id, int(activity_id))))

    @returns(schemas.Activity)
    async def patch(self, activity_id):
        """Change a group-buy campaign."""
        changes = self.body(ActivityPatch).model_dump(exclude_unset=True)
        self.send(await groups.update_activity(self.shop_id, int(activity_id), changes))

    async def delete(self, activity_id):
        """Delete a group-buy campaign."""
        await groups.delete_activity(self.shop_id, int(activity_id))
        self.no_content()


class TeamsHandler(MerchantHandler):
    permissions = {"GET": "groups.view"}

    @returns(schemas.MerchantTeam, paged=True)
    async def get(self):
        """List teams."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("pending", "open", "success", "failed"))
        self.send(await groups.list_teams(self.shop_id, page, page_size, self.int_arg("activity_id", minimum=1), status))


class TeamHandler(MerchantHandler):
    permissions = {"GET": "groups.view"}

    @returns(schemas.MerchantTeamDetail)
    async def get(self, team_id):
        """Read a team with its members."""
        self.send(await groups.team_detail(self.shop_id, int(team_id), merchant=True))


class EndTeamHandler(MerchantHandler):
    """End a filling team now, as a success or a failure (audited)."""
    permissions = {"POST": "groups.force"}

    @returns(schemas.MerchantTeamDetail)
    async def post(self, team_id):
        body = self.body(EndTeamBody)
        self.send(await groups.force_end_team(self.shop_id, int(team_id), body.outcome, self.staff.id, body.note))


class RedeemHandler(MerchantHandler):
    """In-store pick-up: the member shows their code, the clerk redeems it (核销)."""
    permissions = {"POST": "groups.redeem"}

    @returns(schemas.MerchantOrder)
    async def post(self):
        self.send(await orders.redeem_pickup(self.shop_id, self.body(RedeemBody).code, self.staff.id))
