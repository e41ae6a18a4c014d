"""WeChat login for members, through wechatpy pointed at MALL_WECHAT_API_BASE.

- Mini-program: `wx.login()` code -> code2session -> openid (+ unionid).
- Official account (公众号) OAuth: code -> sns/oauth2/access_token -> openid, then sns/userinfo
  for nickname and avatar (snsapi_userinfo scope).
wechatpy is synchronous (requests), so every call runs in a worker thread. Clients are kept per
app id so the app's access token is cached between logins.
"""
from __future__ import annotations

import asyncio
import logging

import requests
from wechatpy import WeChatClient, WeChatOAuth
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException

from lib.errors import ServiceUnavailable, conflict, unauthorized
from lib.runtime import current
from models.base import utcnow
from models.wechat import ShopWechat
from services import member as member_service

log = logging.getLogger("mall.wechat")

WECHAT_TIMEOUT_S = 5
# errcodes WeChat returns for a bad, used or expired login code
BAD_CODE_ERRORS = {40029, 40163, 41008, 40125}


class ConfiguredWeChatClient(WeChatClient):
    """WeChatClient with every URL under the configured API base (the token URL is fixed in
    wechatpy, so it is rebuilt here)."""

    def __init__(self, appid: str, secret: str, api_base: str):
        super().__init__(appid, secret, timeout=WECHAT_TIMEOUT_S)
        self.API_BASE_URL = f"{api_base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{api_base}/"

    def fetch_access_token(self):
        return self._fetch_access_token(url=f"{self.API_BASE_URL}token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


_clients: dict[tuple[str, str, str], ConfiguredWeChatClient] = {}


def _client(appid: str, secret: str) -> ConfiguredWeChatClient:
    base = current().config.wechat_api_base.rstrip("/")
    key = (appid, secret, base)
    if key not in _clients:
        _clients[key] = ConfiguredWeChatClient(appid, secret, base)
    return _clients[key]


async def _call(function, *args):
    try:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)
    except (WeChatClientException, WeChatOAuthException) as exc:
        if getattr(exc, "errcode", None) in BAD_CODE_ERRORS:
            raise unauthorized("invalid_wechat_code", "the WeChat login code is invalid or expired") from None
        log.warning("WeChat refused a call: %s", exc)
        raise ServiceUnavailable("wechat_unavailable", "WeChat did not accept the request; retry shortly") from None
    except requests.RequestException as exc:
        log.warning("WeChat unreachable: %r", exc)
        raise ServiceUnavailable("wechat_unavailable", "WeChat is unreachable; retry shortly") from None


# ---------------------------------------------------------------- shop config
async def get_config(shop_id: int) -> ShopWechat:
    return await ShopWechat.aio_get_or_none(ShopWechat.shop_id == shop_id) or ShopWechat(shop_id=shop_id)


def render_config(config: ShopWechat) -> dict:
    """App ids, and only whether each secret is set: secrets never leave the server."""
    return {"mini_app_id": config.mini_app_id, "mini_app_secret_set": bool(config.mini_app_secret),
            "oa_app_id": config.oa_app_id, "oa_app_secret_set": bool(config.oa_app_secret)}


async def update_config(shop_id: int, changes: dict) -> dict:
    config = await get_config(shop_id)
    for name, value in changes.items():
        setattr(config, name, value)
    config.updated_at = utcnow()
    if config.id is None:
        await config.aio_save(force_insert=True)
    else:
        await config.aio_save()
    return render_config(config)


# ---------------------------------------------------------------- logins
async def mini_program_login(shop_id: int, code: str) -> dict:
    config = await get_config(shop_id)
    if not (config.mini_app_id and config.mini_app_secret):
        raise conflict("wechat_not_configured", "this shop has no WeChat mini-program configured")
    result = await _call(_client(config.mini_app_id, config.mini_app_secret).wxa.code_to_session, code)
    member = await member_service.member_for_wechat(shop_id, "openid", result["openid"], result.get("unionid"), {})
    return member_service.session(member)


async def _official_account_oauth(shop_id: int, scope: str) -> tuple[ShopWechat, WeChatOAuth]:
    """The shop's official-account OAuth client, talking to the configured WeChat API base."""
    config = await get_config(shop_id)
    if not (config.oa_app_id and config.oa_app_secret):
        raise conflict("wechat_not_configured", "this shop has no WeChat official account configured")
    oauth = WeChatOAuth(config.oa_app_id, config.oa_app_secret, redirect_uri="", scope=scope)
    oauth.API_BASE_URL = current().config.wechat_api_base.rstrip("/") + "/"
    return config, oauth


async def official_account_login(shop_id: int, code: str) -> dict:
    _, oauth = await _official_account_oauth(shop_id, "snsapi_userinfo")
    token = await _call(oauth.fetch_access_token, code)
    info = await _call(oauth.get_user_info, token["openid"], token["access_token"])
    profile = {"nickname": info.get("nickname"), "avatar": info.get("headimgurl"), "gender": info.get("sex")}
    member = await member_service.member_for_wechat(shop_id, "oa_openid", token["openid"],
                                                    token.get("unionid") or info.get("unionid"), profile)
    return member_service.session(member)


async def official_account_openid(shop_id: int, code: str) -> tuple[str, str]:
    """(app id, openid) of whoever authorised `code` on the shop's official account (OAuth,
    snsapi_base: only the openid is needed). 401 `invalid_wechat_code` for a bad or used code."""
    config, oauth = await _official_account_oauth(shop_id, "snsapi_base")
    token = await _call(oauth.fetch_access_token, code)
    return config.oa_app_id, token["openid"]
