"""Group-buy (拼团) for shoppers: campaigns, opening and joining teams, buying alone, my teams."""
import pydantic

from handlers import schemas
from handlers.base import Id, MobileHandler, RequestBody
from handlers.schemas import returns
from services import groups


class JoinBody(RequestBody):
    address_id: Id = pydantic.Field(description="one of the member's addresses")
    sku_id: Id | None = pydantic.Field(None, description="the SKU (required when the campaign's goods has SKUs)")


class OpenTeamBody(JoinBody):
    activity_id: Id = pydantic.Field(description="the campaign")
    team_size: pydantic.conint(ge=2, le=100) = pydantic.Field(description="one of the campaign's tier sizes",
                                                              examples=[3])


class ActivitiesHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.Activity, paged=True)
    async def get(self, shop_id):
        """List running group-buy campaigns."""
        page, page_size = self.page_args()
        self.send(await groups.list_activities(self.shop_id, page, page_size, live_only=True))


class ActivityHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.ActivityDetail)
    async def get(self, shop_id, activity_id):
        """Read a group-buy campaign with its open teams."""
        self.send(await groups.activity_detail(self.shop_id, int(activity_id)))


class ShareHandler(MobileHandler):
    """The shopper shared the campaign (the share card was sent): counts toward its shares."""
    public_methods = ("POST",)

    async def post(self, shop_id, activity_id):
        await groups.share_activity(self.shop_id, int(activity_id))
        self.no_content()


class TeamsHandler(MobileHandler):
    @returns(schemas.TeamPlaced)
    async def post(self, shop_id):
        """Open a team (places the leader's order)."""
        body = self.body(OpenTeamBody)
        self.send(await groups.open_team(self.shop_id, self.member, body.activity_id, body.team_size, body.address_id,
                                             body.sku_id), 201)


class TeamHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.TeamDetail)
    async def get(self, shop_id, team_id):
        """Read a team."""
        self.send(await groups.team_detail(self.shop_id, int(team_id)))


class JoinHandler(MobileHandler):
    @returns(schemas.TeamPlaced)
    async def post(self, shop_id, team_id):
        """Join a team (places its order)."""
        body = self.body(JoinBody)
        self.send(await groups.join_team(self.shop_id, self.member, int(team_id), body.address_id, body.sku_id), 201)


class MyTeamsHandler(MobileHandler):
    @returns(schemas.MyTeam, paged=True)
    async def get(self, shop_id):
        """List the member's teams."""
        page, page_size = self.page_args()
        self.send(await groups.my_teams(self.shop_id, self.member.id, page, page_size))


class BuyAloneHandler(MobileHandler):
    @returns(schemas.Order)
    async def post(self, shop_id, activity_id):
        """Buy a campaign's goods alone at the single price."""
        body = self.body(JoinBody)
        self.send(await groups.buy_alone(self.shop_id, self.member, int(activity_id), body.address_id, body.sku_id), 201)
