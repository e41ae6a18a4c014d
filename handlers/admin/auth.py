"""Platform admins sign in (`POST /api/admin/auth/login`)."""
from handlers import schemas
from handlers.base import ApiHandler, LoginBody, client_ip
from handlers.schemas import returns
from services import platform


class LoginHandler(ApiHandler):
    @returns(schemas.Token)
    async def post(self):
        """Sign a platform administrator in."""
        body = self.body(LoginBody)
        self.send(await platform.login_admin(body.username, body.password, client_ip(self)))
