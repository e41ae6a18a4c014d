"""Payment notifications from WeChat Pay:
`POST /api/pay/wechat/v3/notify/{shop_id}` (JSON, RSA-signed headers, AES-GCM resource) and
`POST /api/pay/wechat/v2/notify/{shop_id}` (XML signed with the shop's API key).

No token: a notification is trusted only if it verifies with the shop's keys. Answers are
WeChat's own format — success (also for replays, so WeChat stops retrying) or FAIL with a 4xx for
a forged or mismatching notification, which changes nothing.
"""
from __future__ import annotations

import logging

from handlers import schemas
from handlers.base import Hardened, dumps
from handlers.schemas import returns
from services import payment

log = logging.getLogger("mall.pay")


class NotifyHandler(Hardened):
    version = "v3"

    def answer(self, status: int, success: bool, message: str) -> None:
        self.set_status(status)
        if self.version == "v3":
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(dumps({"code": "SUCCESS" if success else "FAIL", "message": message}))
        else:
            self.set_header("Content-Type", "text/xml; charset=UTF-8")
            code = "SUCCESS" if success else "FAIL"
            message = message.replace("]]>", "")
            self.finish(f"<xml><return_code><![CDATA[{code}]]></return_code>"
                        f"<return_msg><![CDATA[{message}]]></return_msg></xml>")

    async def settle(self, shop_id):
        config = await payment.get_config(int(shop_id))
        if config is None or config.api_version != self.version:
            self.answer(404, False, "unknown merchant")
            return
        provider = await payment.provider_for(int(shop_id))
        notice = provider.parse_notification(self.request.headers, self.request.body)
        if notice is None:
            log.warning("refused a WeChat Pay %s notification for shop %s: bad signature or not a success",
                        self.version, shop_id)
            self.answer(401, False, "signature verification failed")
            return
        try:
            if isinstance(notice, payment.RefundNotice):
                await payment.settle_refund(int(shop_id), notice)
            else:
                await payment.settle(int(shop_id), notice)
        except payment.PaymentMismatch as exc:
            log.error("WeChat Pay notification %s does not match: %s", notice, exc)
            self.answer(400, False, str(exc))
            return
        self.answer(200, True, "OK")

    def write_error(self, status_code: int, **kwargs) -> None:
        if status_code == 405:  # not WeChat: the API's JSON error, with Allow
            super().write_error(status_code, **kwargs)
            return
        # WeChat retries on anything but success; a database outage answers 5xx and a retry settles it
        self.answer(status_code, False, "temporarily unavailable")


class WechatV3NotifyHandler(NotifyHandler):
    """WeChat Pay v3 payment and refund notification (signed, encrypted JSON)."""
    version = "v3"

    @returns(schemas.WechatPayAck)
    async def post(self, shop_id):
        await self.settle(shop_id)


class WechatV2NotifyHandler(NotifyHandler):
    """WeChat Pay v2 payment notification (signed XML)."""
    version = "v2"

    @returns(schemas.WechatPayV2Ack, media_type="text/xml")
    async def post(self, shop_id):
        await self.settle(shop_id)
