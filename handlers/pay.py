"""Payment notifications from WeChat Pay: `POST /api/pay/wechat/v3/notify/{shop_id}`.

No token: the request is trusted only if its RSA signature verifies with the shop's WeChat Pay
public key and its resource decrypts with the shop's APIv3 key. Answers are WeChat's own format:
200 {"code": "SUCCESS"} (also for replays, so WeChat stops retrying), 4xx {"code": "FAIL"} for a
forged or mismatching notification (nothing changes).
"""
from __future__ import annotations

import logging

import tornado.web

from handlers.base import dumps
from services import order as order_service, payment

log = logging.getLogger("mall.pay")


class WechatV3NotifyHandler(tornado.web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")

    def answer(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.finish(dumps({"code": code, "message": message}))

    async def post(self, shop_id):
        config = await payment.get_config(int(shop_id))
        if config is None:
            self.answer(404, "FAIL", "unknown merchant")
            return
        notice = (await payment.provider_for(int(shop_id))).parse_notification(self.request.headers, self.request.body)
        if notice is None:
            log.warning("refused a WeChat Pay notification for shop %s: bad signature or not a success", shop_id)
            self.answer(401, "FAIL", "signature verification failed")
            return
        try:
            await order_service.settle_wechat_payment(int(shop_id), notice)
        except order_service.PaymentMismatch as exc:
            log.error("WeChat Pay notification for %s does not match: %s", notice.out_trade_no, exc)
            self.answer(400, "FAIL", str(exc))
            return
        self.answer(200, "SUCCESS", "OK")

    def write_error(self, status_code: int, **kwargs) -> None:
        # WeChat retries on any non-2xx; a database outage answers 503 and the retry settles it
        self.finish(dumps({"code": "FAIL", "message": "temporarily unavailable"}))
