"""Members and levels: list, edit, blacklist, adjust balance or points (ledgered, audited)."""

import pydantic

from handlers import schemas
from handlers.base import Id, MerchantHandler, RequestBody
from handlers.schemas import returns
from models.finance import BALANCE, COMMISSION, POINTS
from services import finance, wechat
from services import member as member_service

Remark = pydantic.constr(max_length=255)
Amount = pydantic.conint(ge=-10**12, le=10**12)


class MemberPatch(RequestBody):
    level_id: Id | None = pydantic.Field(None, description="set the membership level (null: the default level)")
    tags: pydantic.conlist(pydantic.constr(min_length=1, max_length=16), max_length=20) = pydantic.Field(
        None, description="the merchant's tags, replacing the present ones", examples=[["vip", "批发"]])
    is_blacklisted: bool = pydantic.Field(None, description="a blacklisted member may not place orders")


class BalanceBody(RequestBody):
    delta_fen: Amount = pydantic.Field(description="fen to add (negative: take away; the balance cannot go below 0)",
                                       examples=[10000])
    remark: Remark = pydantic.Field("", description="why, shown in the member's ledger")


class PointsBody(RequestBody):
    delta: Amount = pydantic.Field(description="points to add (negative: take away; points cannot go below 0)",
                                   examples=[500])
    remark: Remark = pydantic.Field("", description="why, shown in the member's ledger")


class LevelBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=32) = pydantic.Field(description="the level's name",
                                                                        examples=["金卡"])
    threshold_fen: pydantic.conint(ge=0, le=10**12) = pydantic.Field(
        0, description="total spending that reaches the level, in fen")
    discount_percent: pydantic.conint(ge=1, le=100) = pydantic.Field(
        100, description="price paid in percent (95: 5% off; 100: no discount)", examples=[95])


class LevelPatch(LevelBody):
    name: pydantic.constr(min_length=1, max_length=32) = None
    threshold_fen: pydantic.conint(ge=0, le=10**12) = None
    discount_percent: pydantic.conint(ge=1, le=100) = None


class WechatConfigBody(RequestBody):
    mini_app_id: pydantic.constr(max_length=64) = pydantic.Field(None, description="the mini-program's AppID")
    mini_app_secret: pydantic.constr(max_length=128) = pydantic.Field(
        None, description="the mini-program's AppSecret (never shown again)")
    oa_app_id: pydantic.constr(max_length=64) = pydantic.Field(None, description="the official account's (公众号) AppID")
    oa_app_secret: pydantic.constr(max_length=128) = pydantic.Field(
        None, description="the official account's AppSecret (never shown again)")


class MembersHandler(MerchantHandler):
    permissions = {"GET": "members.view"}

    @returns(schemas.MerchantMember, paged=True)
    async def get(self):
        """List members."""
        page, page_size = self.page_args()
        blacklisted = self.choice_arg("blacklisted", ("true", "false"))
        self.send(await member_service.list_members(
            self.shop_id, page, page_size, q=self.get_query_argument("q", None),
            level_id=self.int_arg("level_id", minimum=1), tag=self.get_query_argument("tag", None),
            blacklisted={"true": True, "false": False}.get(blacklisted or "")))


class MemberHandler(MerchantHandler):
    permissions = {"GET": "members.view", "PATCH": "members.edit"}

    @returns(schemas.MerchantMember)
    async def get(self, member_id):
        """Read a member."""
        member = await member_service.get_member(self.shop_id, int(member_id))
        self.send(member_service.render_member(member, merchant=True))

    @returns(schemas.MerchantMember)
    async def patch(self, member_id):
        """Change a member (level, tags, blacklist)."""
        changes = self.body(MemberPatch).model_dump(exclude_unset=True)
        self.send(await member_service.update_member(self.shop_id, int(member_id), changes))


class CreditAdjustHandler(MerchantHandler):
    """A manual change of one of a member's amounts, ledgered, honouring Idempotency-Key."""
    permissions = {"POST": "finance.balance"}
    currency = BALANCE
    body_model, amount_field, result_field = BalanceBody, "delta_fen", "balance_fen"
    answer_model = schemas.BalanceAdjusted

    @returns("answer_model")
    async def post(self, member_id):
        body = self.body(self.body_model)

        async def adjust():
            after = await finance.adjust_credit(self.shop_id, int(member_id), self.currency,
                                                getattr(body, self.amount_field), self.staff.id, body.remark)
            return {"member_id": int(member_id), self.result_field: after}

        await self.send_once(f"merchant:{self.staff.id}", 200, adjust)


class BalanceHandler(CreditAdjustHandler):
    pass


class PointsHandler(CreditAdjustHandler):
    currency = POINTS
    body_model, amount_field, result_field = PointsBody, "delta", "points"
    answer_model = schemas.PointsAdjusted


class MemberLedgerHandler(MerchantHandler):
    permissions = {"GET": "members.view"}

    @returns(schemas.LedgerEntry, paged=True)
    async def get(self, member_id):
        """List a member's balance and points movements."""
        await member_service.get_member(self.shop_id, int(member_id))
        page, page_size = self.page_args()
        currency = self.choice_arg("currency", (BALANCE, POINTS, COMMISSION))
        self.send(await finance.ledger(self.shop_id, int(member_id), currency, page, page_size))


class LevelsHandler(MerchantHandler):
    permissions = {"GET": "members.view", "POST": "members.edit"}

    @returns(schemas.listed(schemas.Level))
    async def get(self):
        """List membership levels."""
        self.send({"items": await member_service.list_levels(self.shop_id)})

    @returns(schemas.Level)
    async def post(self):
        """Create a membership level."""
        self.send(await member_service.create_level(self.shop_id, self.body(LevelBody).model_dump()), 201)


class LevelHandler(MerchantHandler):
    permissions = {"PATCH": "members.edit", "DELETE": "members.edit"}

    @returns(schemas.Level)
    async def patch(self, level_id):
        """Change a membership level."""
        changes = self.body(LevelPatch).model_dump(exclude_unset=True)
        self.send(await member_service.update_level(self.shop_id, int(level_id), changes))

    async def delete(self, level_id):
        """Delete a membership level."""
        await member_service.delete_level(self.shop_id, int(level_id))
        self.no_content()


class WechatConfigHandler(MerchantHandler):
    permissions = {"GET": "settings.view", "PUT": "settings.edit"}

    @returns(schemas.WechatConfig)
    async def get(self):
        """Read the shop's WeChat configuration (secrets masked)."""
        self.send(wechat.render_config(await wechat.get_config(self.shop_id)))

    @returns(schemas.WechatConfig)
    async def put(self):
        """Set the shop's WeChat app and payment configuration."""
        changes = self.body(WechatConfigBody).model_dump(exclude_unset=True)
        self.send(await wechat.update_config(self.shop_id, changes))


