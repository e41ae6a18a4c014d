"""Shoppers register and sign in: mobile + password, WeChat mini-program, WeChat official account."""
import pydantic

from handlers import schemas
from handlers.base import Mobile, MobileHandler, Password, RequestBody, client_ip
from handlers.refusals import refuses
from handlers.schemas import returns
from services import member as member_service
from services import wechat

WechatCode = pydantic.constr(min_length=1, max_length=128)


class RegisterBody(RequestBody):
    mobile: Mobile = pydantic.Field(description="mainland mobile number (11 digits), unique in the shop",
                                    examples=["13800138000"])
    password: Password = pydantic.Field(description="password (6 to 128 characters)")
    nickname: pydantic.constr(min_length=1, max_length=64) | None = pydantic.Field(
        None, description="display name (default: 用户 and the number's last 4 digits)", examples=["小明"])


class MobileLoginBody(RequestBody):
    mobile: str = pydantic.Field(description="the mobile number registered", examples=["13800138000"])
    password: str = pydantic.Field(description="password")


class WechatBody(RequestBody):
    code: WechatCode = pydantic.Field(description="the one-time code from WeChat (wx.login(), or the OAuth redirect)")


class RegisterHandler(MobileHandler):
    public_methods = ("POST",)

    @returns(schemas.Session)
    @refuses((429, "too_many_registrations"))  # the runtime's registration limiter (services/credentials.py)
    async def post(self, shop_id):
        """Register a shopper."""
        body = self.body(RegisterBody)
        ip = client_ip(self)  # held to registrations_per_ip_per_hour
        self.send(await member_service.register(self.shop_id, body.mobile, body.password, body.nickname, ip), 201)


class LoginHandler(MobileHandler):
    public_methods = ("POST",)

    @returns(schemas.Session)
    async def post(self, shop_id):
        """Sign a shopper in with mobile and password."""
        body = self.body(MobileLoginBody)
        self.send(await member_service.login(self.shop_id, body.mobile, body.password, client_ip(self)))


class WechatLoginHandler(MobileHandler):
    """Mini-program login: the code from wx.login()."""
    public_methods = ("POST",)

    @returns(schemas.Session)
    async def post(self, shop_id):
        self.send(await wechat.mini_program_login(self.shop_id, self.body(WechatBody).code))


class WechatOaLoginHandler(MobileHandler):
    """Official-account (公众号) OAuth login: the code WeChat appended to the redirect URL."""
    public_methods = ("POST",)

    @returns(schemas.Session)
    async def post(self, shop_id):
        self.send(await wechat.official_account_login(self.shop_id, self.body(WechatBody).code))
