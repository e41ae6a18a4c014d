"""Payment providers: WeChat Pay APIv3 and APIv2 behind one small interface — prepay, parse a
notification, query, refund, transfer — and each shop's keys.

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

from lib.errors import Conflict, field_error
from lib.runtime import current
from models.base import utcnow
from models.payment import ShopPayConfig
from services import audit

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


@dataclass(frozen=True)
class RefundNotice:
    """A refund as WeChat reports it (refund notification or query): SUCCESS, or another final state."""
    refund_no: str
    status: str  # SUCCESS | CLOSED | ABNORMAL | PROCESSING
    mch_id: str


def trade_no(prefix: str = "") -> str:
    """A merchant trade number (orders, recharges): sortable and readable — UTC time to the second —
    plus 12 random digits, so that even thousands a second practically never collide (the unique
    index still backs it). At most 2 + 14 + 12 = 28 characters: WeChat Pay allows 32."""
    return prefix + utcnow().strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**12):012d}"


class NotConfigured(Conflict):
    """The shop has no WeChat Pay keys: paying with WeChat is not offered (jobs skip the shop)."""


class ProviderError(Exception):
    """WeChat Pay refused or could not be reached; the caller answers 503 or retries later."""


def notify_url(shop_id: int, version: str = "v3") -> str:
    return f"{current().config.public_base_url.rstrip('/')}/api/pay/wechat/{version}/notify/{shop_id}"


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

    async def prepay(self, order_no: str, total_fen: int, description: str, openid: str, client_ip: str) -> dict:
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
        if "out_refund_no" in data["resource"]:  # REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED
            return self._refund_notice(data["resource"])
        return self._notice(data["resource"])

    @staticmethod
    def _refund_notice(resource: dict) -> RefundNotice | None:
        status = resource.get("refund_status") or resource.get("status")
        if not isinstance(status, str) or not isinstance(resource.get("out_refund_no"), str):
            return None
        return RefundNotice(resource["out_refund_no"], status, str(resource.get("mchid", "")))

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

    async def query_refund(self, refund_no: str) -> RefundNotice | None:
        data = await self._call(self.client.query_refund, out_refund_no=refund_no)
        return RefundNotice(refund_no, data.get("status", ""), self.config.mch_id)

    async def transfer(self, transfer_no: str, openid: str, amount_fen: int, remark: str) -> None:
        """Pay a member's withdrawal to their WeChat wallet (商家转账); WeChat deduplicates by
        transfer_no, so retrying the same withdrawal is safe."""
        await self._call(self.client.transfer_batch, out_batch_no=transfer_no, batch_name=remark[:32],
                         batch_remark=remark[:32], total_amount=amount_fen, total_num=1,
                         transfer_detail_list=[{"out_detail_no": transfer_no, "transfer_amount": amount_fen,
                                                "transfer_remark": remark[:32], "openid": openid}])


class WechatPayV2:
    """APIv2 through wechatpy: signed XML (MD5 with the shop's API key), notifications verified
    by the same key. Refunds present the merchant TLS certificate when the shop stored one."""

    def __init__(self, config: ShopPayConfig):
        from wechatpy.pay import WeChatPay as WeChatPayV2Client

        self.config = config
        cert, key = self._cert_files(config)
        self.client = WeChatPayV2Client(appid=config.app_id, api_key=config.v2_api_key, mch_id=config.mch_id,
                                        mch_cert=cert, mch_key=key, timeout=PAY_TIMEOUT_S)
        self.client.API_BASE_URL = current().config.wechat_pay_api_base.rstrip("/") + "/"

    @staticmethod
    def _cert_files(config: ShopPayConfig) -> tuple[str | None, str | None]:
        if not (config.v2_cert_pem and config.v2_key_pem):
            return None, None
        import os
        import tempfile

        folder = tempfile.mkdtemp(prefix=f"mall-pay-{config.shop_id}-")
        paths = []
        for name, pem in (("cert.pem", config.v2_cert_pem), ("key.pem", config.v2_key_pem)):
            path = os.path.join(folder, name)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(pem)
            paths.append(path)
        return paths[0], paths[1]

    async def _call(self, function, *args, **kwargs) -> dict:
        from wechatpy.exceptions import WeChatPayException

        def call():
            return function(*args, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(None, call)
        except requests.RequestException as exc:
            raise ProviderError(f"WeChat Pay unreachable: {exc!r}") from None
        except WeChatPayException as exc:
            raise ProviderError(f"WeChat Pay refused: {exc}") from None

    async def prepay(self, order_no: str, total_fen: int, description: str, openid: str, client_ip: str) -> dict:
        data = await self._call(self.client.order.create, trade_type="JSAPI", body=description[:127],
                                total_fee=total_fen, notify_url=notify_url(self.config.shop_id, "v2"),
                                user_id=openid, out_trade_no=order_no, client_ip=client_ip)
        return self.client.jsapi.get_jsapi_params(data["prepay_id"])

    def parse_notification(self, headers, body: bytes) -> PaidNotice | None:
        from wechatpy.exceptions import InvalidSignatureException

        try:
            data = self.client.parse_payment_result(body)
        except (InvalidSignatureException, ValueError, KeyError, TypeError) as exc:
            log.warning("rejected a WeChat Pay v2 notification: %r", exc)
            return None
        return self._notice(data)

    @staticmethod
    def _notice(data: dict) -> PaidNotice | None:
        if data.get("return_code") != "SUCCESS" or data.get("result_code") != "SUCCESS":
            return None
        if data.get("trade_state", "SUCCESS") != "SUCCESS":
            return None
        try:
            return PaidNotice(data["out_trade_no"], data["transaction_id"], int(data["total_fee"]),
                              data["mch_id"], data["appid"])
        except (KeyError, TypeError, ValueError):
            return None

    async def query(self, order_no: str) -> PaidNotice | None:
        return self._notice(await self._call(self.client.order.query, out_trade_no=order_no))

    async def transfer(self, transfer_no: str, openid: str, amount_fen: int, remark: str) -> None:
        """企业付款到零钱 (APIv2, needs the merchant certificate)."""
        await self._call(self.client.transfer.transfer, user_id=openid, amount=amount_fen, desc=remark[:100],
                         check_name="NO_CHECK", out_trade_no=transfer_no)

    async def query_refund(self, refund_no: str) -> RefundNotice | None:
        """APIv2 refunds are settled by this query (its refund notifications are not taken)."""
        data = await self._call(self.client.refund.query, out_refund_no=refund_no)
        return RefundNotice(refund_no, data.get("refund_status_0", ""), self.config.mch_id)

    async def refund(self, order_no: str, refund_no: str, total_fen: int, amount_fen: int, reason: str) -> None:
        await self._call(self.client.refund.apply, total_fee=total_fen, refund_fee=amount_fen,
                         out_refund_no=refund_no, out_trade_no=order_no, refund_desc=reason[:80])


# ---------------------------------------------------------------- shop configuration
async def get_config(shop_id: int) -> ShopPayConfig | None:
    return await ShopPayConfig.aio_get_or_none(ShopPayConfig.shop_id == shop_id)


def render_config(config: ShopPayConfig | None) -> dict:
    if config is None:
        return {"configured": False}
    return {"configured": True, "api_version": config.api_version, "mch_id": config.mch_id, "app_id": config.app_id,
            "cert_serial_no": config.cert_serial_no, "public_key_id": config.public_key_id,
            "v2_refund_cert_set": bool(config.v2_cert_pem)}



async def save_config(shop_id: int, fields: dict) -> dict:
    if fields["api_version"] == "v3":
        for name in ("cert_serial_no", "private_key", "apiv3_key", "public_key", "public_key_id"):
            if not fields.get(name):
                raise field_error(name, "required for APIv3")
        for name, loader in (("private_key", load_private_key), ("public_key", load_public_key)):
            try:
                loader(fields[name])
            except Exception:
                raise field_error(name, "not a usable RSA PEM key") from None
        if len(fields["apiv3_key"].encode()) != 32:
            raise field_error("apiv3_key", "must be 32 bytes")
    elif len(fields.get("v2_api_key") or "") != 32:
        raise field_error("v2_api_key", "APIv2 needs the 32-character API key")
    fields = {name: value if value is not None else "" for name, value in fields.items()}
    config = await get_config(shop_id)
    if config is None:
        config = await ShopPayConfig.aio_create(shop_id=shop_id, **fields)
    else:
        await ShopPayConfig.update(**fields, updated_at=utcnow()).where(ShopPayConfig.shop_id == shop_id).aio_execute()
        config = await get_config(shop_id)
    _providers.pop(shop_id, None)
    await audit.record(shop_id, "settings.payment", "pay_config", shop_id, after=fields)  # secrets shown as "(changed)"
    return render_config(config)


_providers: dict[int, WechatPayV3 | WechatPayV2] = {}


async def provider_for(shop_id: int) -> WechatPayV3 | WechatPayV2:
    config = await get_config(shop_id)
    if config is None:
        raise NotConfigured("payment_method_unavailable", "WeChat Pay is not configured for this shop")
    cached = _providers.get(shop_id)
    if cached is None or cached.config.updated_at != config.updated_at:
        cached = _providers[shop_id] = (WechatPayV3 if config.api_version == "v3" else WechatPayV2)(config)
    return cached
