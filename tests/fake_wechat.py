"""A fake of the WeChat APIs we call, served by Tornado on a loopback port.

wechatpy talks to it exactly as to api.weixin.qq.com (MALL_WECHAT_API_BASE points here).
Tests register apps (appid -> secret) and login codes; codes are single-use like WeChat's, and
errors come back in WeChat's own shape ({"errcode": 40029, "errmsg": "invalid code"}).
"""
from __future__ import annotations

import json
import secrets

import tornado.web


class FakeWechat:
    def __init__(self) -> None:
        self.apps: dict[str, str] = {}
        self.codes: dict[str, dict] = {}  # code -> {appid, openid, unionid, profile}
        self.tokens: dict[str, dict] = {}  # OAuth access token -> user
        self.calls: list[str] = []

    def add_app(self, appid: str, secret: str) -> None:
        self.apps[appid] = secret

    def login_code(self, appid: str, openid: str, unionid: str | None = None, **profile) -> str:
        code = secrets.token_hex(8)
        self.codes[code] = {"appid": appid, "openid": openid, "unionid": unionid, "profile": profile}
        return code

    def app(self) -> tornado.web.Application:
        fake = self

        class Base(tornado.web.RequestHandler):
            def prepare(self):
                fake.calls.append(self.request.path)

            def reply(self, data: dict) -> None:
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps(data, ensure_ascii=False))

            def app_ok(self) -> bool:
                appid, secret = self.get_argument("appid", ""), self.get_argument("secret", "")
                if fake.apps.get(appid) != secret or not secret:
                    self.reply({"errcode": 40125, "errmsg": "invalid appsecret"})
                    return False
                return True

            def take_code(self) -> dict | None:
                grant = fake.codes.pop(self.get_argument("js_code", None) or self.get_argument("code", ""), None)
                if grant is None or grant["appid"] != self.get_argument("appid", ""):
                    self.reply({"errcode": 40029, "errmsg": "invalid code"})
                    return None
                return grant

        class Token(Base):
            def get(self):
                if self.app_ok():
                    self.reply({"access_token": secrets.token_hex(16), "expires_in": 7200})

        class Code2Session(Base):
            def get(self):
                if self.app_ok() and (grant := self.take_code()):
                    data = {"openid": grant["openid"], "session_key": secrets.token_urlsafe(16)}
                    if grant["unionid"]:
                        data["unionid"] = grant["unionid"]
                    self.reply(data)

        class OAuthToken(Base):
            def get(self):
                if self.app_ok() and (grant := self.take_code()):
                    token = secrets.token_hex(16)
                    fake.tokens[token] = grant
                    data = {"access_token": token, "expires_in": 7200, "refresh_token": secrets.token_hex(16),
                            "openid": grant["openid"], "scope": "snsapi_userinfo"}
                    if grant["unionid"]:
                        data["unionid"] = grant["unionid"]
                    self.reply(data)

        class UserInfo(Base):
            def get(self):
                grant = fake.tokens.get(self.get_argument("access_token", ""))
                if grant is None or grant["openid"] != self.get_argument("openid", ""):
                    self.reply({"errcode": 40001, "errmsg": "invalid credential"})
                    return
                profile = grant["profile"]
                self.reply({"openid": grant["openid"], "nickname": profile.get("nickname", ""),
                            "sex": profile.get("sex", 0), "headimgurl": profile.get("avatar", ""),
                            "unionid": grant["unionid"]})

        return tornado.web.Application([
            (r"/cgi-bin/token", Token),
            (r"/sns/jscode2session", Code2Session),
            (r"/sns/oauth2/access_token", OAuthToken),
            (r"/sns/userinfo", UserInfo),
        ])
