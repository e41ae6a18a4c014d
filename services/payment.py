"""Payment providers. Balance payments live in services/order (a ledger debit); WeChat Pay
APIv3 lives here, behind the small interface the order service uses: prepay, parse a
notification, query, refund.

wechatpayv3 in public-key mode (no platform certificate download): requests are RSA-signed with
the merchant key, responses and notifications are verified with WeChat Pay's public key, the
notification resource is AES-256-GCM decrypted with the APIv3 key. Its HTTP calls are
synchronous (requests) and run in worker threads. Its gateway is `Core._gate_way` (no public
setter), pointed at MALL_WECHAT_PAY_API_BASE.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass

import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_private_key, load_public_key

from lib.errors import ApiError, invalid
from models.base import utcnow
from models.payment import ShopPayConfig
from services.runtime import current

log = logging.getLogger("mall.payment")

PAY_TIMEOUT_S = (5, 10)  # connect, read


@dataclass(frozen=True)
class PaidNotice:
    """A successful payment as WeChat reports it (notification or query)."""
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    mch_id: str
    app_id: str


class ProviderError(Exception):
    """WeChat Pay refused or could not be reached; the caller answers 503 or retries later."""


def notify_url(shop_id: int) -> str:
    return f"{current().config.public_base_url.rstrip('/')}/api/pay/wechat/v3/notify/{shop_id}"


class WechatPayV3:
    def __init__(self, config: ShopPayConfig):
        self.config = config
        self.client = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG, mchid=config.mch_id, private_key=config.private_key,
            cert_serial_no=config.cert_serial_no, appid=config.app_id, apiv3_key=config.apiv3_key,
            notify_url=notify_url(config.shop_id), public_key=config.public_key,
            public_key_id=config.public_key_id, timeout=PAY_TIMEOUT_S)
        self.client._core._gate_way = current().config.wechat_pay_api_base.rstrip("/")

    async def _call(self, function, *args, **kwargs) -> dict:
        def call():
            return function(*args, **kwargs)
        try:
            code, body = await asyncio.get_running_loop().run_in_executor(None, call)
        except requests.RequestException as exc:
            raise ProviderError(f"WeChat Pay unreachable: {exc!r}") from None
        except Exception as exc:  # wechatpayv3 raises bare Exception for a bad response signature
            raise ProviderError(f"WeChat Pay response rejected: {exc}") from None
        data = json.loads(body) if body else {}
        if code not in range(200, 300):
            raise ProviderError(f"WeChat Pay answered {code}: {data.get('code')} {data.get('message')}")
        return data

    async def prepay(self, order_no: str, total_fen: int, description: str, openid: str) -> dict:
        """The mini-program's wx.requestPayment parameters for this order."""
        data = await self._call(self.client.pay, description=description[:127], out_trade_no=order_no,
                                amount={"total": total_fen, "currency": "CNY"}, payer={"openid": openid},
                                pay_type=WeChatPayType.MINIPROG)
        package = f"prepay_id={data['prepay_id']}"
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        signature = self.client.sign([self.config.app_id, timestamp, nonce, package])
        return {"appId": self.config.app_id, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": signature}

    def parse_notification(self, headers, body: bytes) -> PaidNotice | None:
        """The payment a notification reports, or None when its signature or encryption is not
        WeChat Pay's (forged) or it does not report a success."""
        try:
            data = self.client.callback(headers, body)
        except Exception as exc:  # malformed JSON, unknown algorithm: not a notification we trust
            log.warning("rejected a WeChat Pay notification: %r", exc)
            return None
        if not data or not isinstance(data.get("resource"), dict):
            return None
        return self._notice(data["resource"])

    @staticmethod
    def _notice(resource: dict) -> PaidNotice | None:
        if resource.get("trade_state") != "SUCCESS":
            return None
        try:
            return PaidNotice(resource["out_trade_no"], resource["transaction_id"],
                              int(resource["amount"]["total"]), resource["mchid"], resource["appid"])
        except (KeyError, TypeError, ValueError):
            return None

    async def query(self, order_no: str) -> PaidNotice | None:
        return self._notice(await self._call(self.client.query, out_trade_no=order_no))

    async def refund(self, order_no: str, refund_no: str, total_fen: int, amount_fen: int, reason: str) -> None:
        """Ask WeChat to refund; the same refund_no is deduplicated by WeChat, so retrying is safe."""
        data = await self._call(self.client.refund, out_refund_no=refund_no, out_trade_no=order_no, reason=reason[:80],
                                amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"})
        if data.get("status") not in ("SUCCESS", "PROCESSING"):
            raise ProviderError(f"refund not accepted: {data.get('status')}")


# ---------------------------------------------------------------- shop configuration
async def get_config(shop_id: int) -> ShopPayConfig | None:
    return await ShopPayConfig.aio_get_or_none(ShopPayConfig.shop_id == shop_id)


def render_config(config: ShopPayConfig | None) -> dict:
    if config is None:
        return {"configured": False}
    return {"configured": True, "mch_id": config.mch_id, "app_id": config.app_id,
            "cert_serial_no": config.cert_serial_no, "public_key_id": config.public_key_id}


async def save_config(shop_id: int, fields: dict) -> dict:
    for name, loader in (("private_key", load_private_key), ("public_key", load_public_key)):
        try:
            loader(fields[name])
        except Exception:
            raise invalid("request body is invalid", {"fields": [{"field": name, "message": "not a usable RSA PEM key"}]}) from None
    if len(fields["apiv3_key"].encode()) != 32:
        raise invalid("request body is invalid", {"fields": [{"field": "apiv3_key", "message": "must be 32 bytes"}]})
    config = await get_config(shop_id)
    if config is None:
        config = await ShopPayConfig.aio_create(shop_id=shop_id, **fields)
    else:
        await ShopPayConfig.update(**fields, updated_at=utcnow()).where(ShopPayConfig.shop_id == shop_id).aio_execute()
        config = await get_config(shop_id)
    _providers.pop(shop_id, None)
    return render_config(config)


_providers: dict[int, WechatPayV3] = {}


async def provider_for(shop_id: int) -> WechatPayV3:
    config = await get_config(shop_id)
    if config is None:
        raise ApiError(409, "payment_method_unavailable", "WeChat Pay is not configured for this shop")
    cached = _providers.get(shop_id)
    if cached is None or cached.config.updated_at != config.updated_at:
        cached = _providers[shop_id] = WechatPayV3(config)
    return cached
