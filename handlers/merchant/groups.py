import datetime

import pydantic

from handlers.base import Id, MerchantHandler, Money, RequestBody
from services import groups


class TierBody(RequestBody):
    team_size: pydantic.conint(ge=2, le=100)
    price_fen: pydantic.conint(ge=1, le=10**12)


class ActivityBody(RequestBody):
    title: pydantic.constr(min_length=1, max_length=100)
    goods_id: Id
    tiers: pydantic.conlist(TierBody, min_length=1, max_length=5)
    single_price_fen: Money | None = None
    duration_seconds: pydantic.conint(ge=10, le=30 * 24 * 3600)
    purchase_limit: pydantic.conint(ge=0, le=1000) = 0
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None
    enabled: bool = True


class ActivitiesHandler(MerchantHandler):
    permissions = {"GET": "groups.view", "POST": "groups.edit"}

    async def get(self):
        page, page_size = self.page_args()
        self.send(await groups.list_activities(self.shop_id, page, page_size, live_only=False))

    async def post(self):
        self.send(await groups.create_activity(self.shop_id, self.body(ActivityBody).model_dump()), 201)


class ActivityHandler(MerchantHandler):
    permissions = {"GET": "groups.view"}

    async def get(self, activity_id):
        self.send(groups.render_activity(await groups.get_activity(self.shop_id, int(activity_id))))


class TeamsHandler(MerchantHandler):
    permissions = {"GET": "groups.view"}

    async def get(self):
        page, page_size = self.page_args()
        status = self.get_query_argument("status", None)
        self.send(await groups.list_teams(self.shop_id, page, page_size, self.int_arg("activity_id", minimum=1),
                                          status if status in ("pending", "open", "success", "failed") else None))
