"""Platform admins sign in (`POST /api/admin/auth/login`)."""
from handlers.base import ApiHandler, LoginBody, client_ip
from services import platform


class LoginHandler(ApiHandler):
    async def post(self):
        """Sign a platform administrator in."""
        body = self.body(LoginBody)
        self.send(await platform.login_admin(body.username, body.password, client_ip(self)))
