"""Staff sign in (`POST /api/merchant/auth/login`) and read who they are, with their permissions."""
from handlers import schemas
from handlers.base import ApiHandler, LoginBody, MerchantHandler, client_ip
from handlers.schemas import returns
from services import shop as shop_service
from services import staff


class LoginHandler(ApiHandler):
    @returns(schemas.StaffSession)
    async def post(self):
        """Sign a staff member in."""
        body = self.body(LoginBody)
        self.send(await staff.login_staff(body.username, body.password, client_ip(self)))


class MeHandler(MerchantHandler):
    """The signed-in staff member and their shop."""
    any_staff = ("GET",)

    @returns(schemas.MerchantMe)
    async def get(self):
        self.send({"staff": staff.render_staff(self.staff), "shop": shop_service.render_shop(self.shop)})
