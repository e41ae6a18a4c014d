from handlers.base import ApiHandler, RequestBody, client_ip
from services import system


class LoginBody(RequestBody):
    username: str
    password: str


class LoginHandler(ApiHandler):
    async def post(self):
        body = self.body(LoginBody)
        self.send(await system.login_admin(body.username, body.password, client_ip(self)))
