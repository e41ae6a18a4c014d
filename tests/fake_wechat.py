"""A fake of the WeChat APIs we call, served by Tornado on a loopback port.

wechatpy talks to it exactly as to api.weixin.qq.com (MALL_WECHAT_API_BASE points here).
Tests register apps (appid -> secret) and login codes; codes are single-use like WeChat's, and
errors come back in WeChat's own shape ({"errcode": 40029, "errmsg": "invalid code"}).

Server-side APIs (subscription messages, official-account template messages, shipping-info
upload) check the access token like WeChat (40001 for one this fake never issued) and record
what they accepted in `sent` / `shipments`. Tests script errors per path with `answer_next(path,
errcode=... | http=...)`, make openids refuse subscription messages (43101) with `refusing` and
template messages (43004: no longer following the official account) with `unfollowed`, and slow
calls down with `delays[path]` (seconds) to make concurrent callers overlap.
"""
from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter, defaultdict

import tornado.web


class FakeWechat:
    def __init__(self) -> None:
        self.apps: dict[str, str] = {}
        self.codes: dict[str, dict] = {}  # code -> {appid, openid, unionid, profile}
        self.tokens: dict[str, dict] = {}  # OAuth access token -> user
        self.calls: list[str] = []
        self.token_fetches: Counter = Counter()  # appid -> cgi-bin/token calls
        self.access_tokens: dict[str, str] = {}  # issued access token -> appid
        self.sent: list[dict] = []  # accepted subscription / template messages, with their appid
        self.shipments: list[dict] = []  # accepted shipping-info uploads, with their appid
        self.refusing: set[str] = set()  # openids that answer 43101 (no subscription)
        self.unfollowed: set[str] = set()  # openids whose template messages answer 43004 (not following)
        self.scripted: dict[str, list[dict]] = defaultdict(list)  # path -> next answers, in order
        self.delays: dict[str, float] = {}  # path -> seconds before answering

    def answer_next(self, path: str, errcode: int | None = None, http: int | None = None) -> None:
        """The next call of `path` answers with WeChat error `errcode` or HTTP status `http`."""
        self.scripted[path].append({"errcode": errcode, "http": http})

    def sent_to(self, openid: str) -> list[dict]:
        return [message for message in self.sent if message.get("touser") == openid]

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
            async def get(self):
                await asyncio.sleep(fake.delays.get(self.request.path, 0))
                if self.app_ok():
                    appid = self.get_argument("appid")
                    fake.token_fetches[appid] += 1
                    token = secrets.token_hex(16)
                    fake.access_tokens[token] = appid
                    self.reply({"access_token": token, "expires_in": 7200})

        class ServerApi(Base):
            """A call with an access token: checks it, plays scripted answers, else accepts."""

            async def post(self):
                await asyncio.sleep(fake.delays.get(self.request.path, 0))
                appid = fake.access_tokens.get(self.get_argument("access_token", ""))
                if appid is None:
                    return self.reply({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
                if fake.scripted[self.request.path]:
                    answer = fake.scripted[self.request.path].pop(0)
                    if answer["http"]:
                        self.set_status(answer["http"])
                        return self.finish("upstream error")
                    return self.reply({"errcode": answer["errcode"], "errmsg": f"scripted error {answer['errcode']}"})
                body = {**json.loads(self.request.body), "appid": appid}
                self.accept(body)

            def accept(self, body: dict) -> None:
                if body.get("touser") in fake.refusing:
                    return self.reply({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
                fake.sent.append(body)
                self.reply({"errcode": 0, "errmsg": "ok", "msgid": len(fake.sent)})

        class TemplateMessage(ServerApi):
            def accept(self, body: dict) -> None:
                if body.get("touser") in fake.unfollowed:
                    return self.reply({"errcode": 43004, "errmsg": "require subscribe"})
                super().accept(body)

        class ShippingInfo(ServerApi):
            def accept(self, body: dict) -> None:
                if not body.get("order_key", {}).get("transaction_id") or not body.get("payer", {}).get("openid"):
                    return self.reply({"errcode": 10060001, "errmsg": "order not found"})
                fake.shipments.append(body)
                self.reply({"errcode": 0, "errmsg": "ok"})

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
            (r"/cgi-bin/message/subscribe/send", ServerApi),
            (r"/cgi-bin/message/template/send", TemplateMessage),
            (r"/wxa/sec/order/upload_shipping_info", ShippingInfo),
        ])
