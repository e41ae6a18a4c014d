"""Staff sign in (`POST /api/merchant/auth/login`) and read who they are, with their permissions."""
from handlers.base import ApiHandler, LoginBody, MerchantHandler, client_ip
from services import shop as shop_service
from services import staff


class LoginHandler(ApiHandler):
    async def post(self):
        """Sign a staff member in."""
        body = self.body(LoginBody)
        self.send(await staff.login_staff(body.username, body.password, client_ip(self)))


class MeHandler(MerchantHandler):
    """The signed-in staff member and their shop."""
    any_staff = ("GET",)

    async def get(self):
        self.send({"staff": staff.render_staff(self.staff), "shop": shop_service.render_shop(self.shop)})
