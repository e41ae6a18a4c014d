"""A fake WeChat Pay APIv3 on a loopback port, with RSA keys generated for the test run.

It checks the merchant's request signatures with the merchant's public key, signs its responses
and notifications with its own platform key (public-key mode), and encrypts notification
resources with AES-256-GCM under the APIv3 key — so wechatpayv3 signs, verifies and decrypts for
real. Tests use `notification()` to build what WeChat would POST to our notify URL (or a forged
one), and `mark_paid()` for a payment whose notification never arrives.
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time

import tornado.web
import xmltodict
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpy.pay.utils import calculate_signature, dict_to_xml

AUTH = re.compile(r'(\w+)="([^"]*)"')


def _pem_private(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_sign(key, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


class FakeWechatPay:
    def __init__(self) -> None:
        self.merchant_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(8).upper()
        self.cert_serial_no = secrets.token_hex(20).upper()
        self.apiv3_key = secrets.token_hex(16)
        self.mch_id = "19000" + str(secrets.randbelow(10**5)).zfill(5)
        self.prepays: dict[str, dict] = {}
        self.paid: dict[str, str] = {}  # out_trade_no -> transaction_id
        self.refunds: dict[str, dict] = {}  # out_refund_no -> request
        self.refund_status: dict[str, str] = {}  # out_refund_no -> PROCESSING | SUCCESS (as a query answers)
        self.transfers: dict[str, dict] = {}  # our transfer number -> {openid, amount, api}
        self.fail_transfers = False  # answer transfers with a system error (WeChat having a bad day)
        self.fault: str | None = None  # every v3 call: "error" answers 500, "hang" answers after hang_seconds
        self.hang_seconds = 3.0
        self.hanging = 0  # calls being held by the "hang" fault right now (a test can wait for one)
        self.v2_api_key = secrets.token_hex(16)

    def merchant_config(self, app_id: str) -> dict:
        """What a merchant enters in the back-office."""
        return {"mch_id": self.mch_id, "app_id": app_id, "cert_serial_no": self.cert_serial_no,
                "private_key": _pem_private(self.merchant_key), "apiv3_key": self.apiv3_key,
                "public_key": _pem_public(self.platform_key), "public_key_id": self.public_key_id}

    def v2_merchant_config(self, app_id: str) -> dict:
        return {"api_version": "v2", "mch_id": self.mch_id, "app_id": app_id, "v2_api_key": self.v2_api_key}

    def v2_xml(self, data: dict, api_key: str | None = None) -> bytes:
        data = {**data, "nonce_str": secrets.token_hex(16)}
        return dict_to_xml(data, calculate_signature(data, api_key or self.v2_api_key)).encode()

    def v2_notification(self, out_trade_no: str, amount: int | None = None, api_key: str | None = None,
                        **overrides) -> bytes:
        """The XML WeChat Pay APIv2 would POST for a successful payment (signed with the API key)."""
        prepay = self.prepays[out_trade_no]
        return self.v2_xml({"appid": prepay["appid"], "mch_id": self.mch_id, "return_code": "SUCCESS",
                            "result_code": "SUCCESS", "out_trade_no": out_trade_no,
                            "transaction_id": self.mark_paid(out_trade_no), "total_fee": amount or prepay["amount"]["total"],
                            "cash_fee": amount or prepay["amount"]["total"], "openid": prepay["payer"]["openid"],
                            "trade_type": "JSAPI", "bank_type": "OTHERS", "time_end": time.strftime("%Y%m%d%H%M%S"),
                            **overrides}, api_key)

    def signed_headers(self, body: str, key=None) -> dict:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": self.public_key_id,
                "Wechatpay-Signature": rsa_sign(key or self.platform_key, f"{timestamp}\n{nonce}\n{body}\n"),
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Content-Type": "application/json"}

    def mark_paid(self, out_trade_no: str) -> str:
        return self.paid.setdefault(out_trade_no, "4200" + secrets.token_hex(12))

    def transaction(self, out_trade_no: str, amount: int | None = None, **overrides) -> dict:
        prepay = self.prepays[out_trade_no]
        return {"mchid": self.mch_id, "appid": prepay["appid"], "out_trade_no": out_trade_no,
                "transaction_id": self.mark_paid(out_trade_no), "trade_type": "JSAPI", "trade_state": "SUCCESS",
                "payer": prepay["payer"], "amount": {"total": amount or prepay["amount"]["total"],
                                                     "payer_total": amount or prepay["amount"]["total"], "currency": "CNY"},
                **overrides}

    def notification(self, out_trade_no: str, amount: int | None = None, signing_key=None, **overrides) -> tuple[dict, bytes]:
        """(headers, body) of the TRANSACTION.SUCCESS notification WeChat Pay would send."""
        nonce = secrets.token_hex(6)  # 12 characters, used as the GCM nonce
        plaintext = json.dumps(self.transaction(out_trade_no, amount, **overrides)).encode()
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), plaintext, b"transaction")
        body = json.dumps({
            "id": secrets.token_hex(16), "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
                         "nonce": nonce, "ciphertext": base64.b64encode(ciphertext).decode()}})
        return self.signed_headers(body, signing_key), body.encode()

    def refund_notification(self, out_refund_no: str, status: str = "SUCCESS") -> tuple[dict, bytes]:
        """(headers, body) of the REFUND.SUCCESS notification WeChat Pay sends once a refund is done;
        a query answers the same status from then on."""
        self.refund_status[out_refund_no] = status
        request = self.refunds[out_refund_no]
        nonce = secrets.token_hex(6)
        plaintext = json.dumps({"mchid": self.mch_id, "out_trade_no": request["out_trade_no"],
                                "transaction_id": self.paid.get(request["out_trade_no"], ""),
                                "out_refund_no": out_refund_no, "refund_id": "50" + secrets.token_hex(10),
                                "refund_status": status, "success_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                                "amount": {"total": request["amount"]["total"], "refund": request["amount"]["refund"],
                                           "payer_total": request["amount"]["total"],
                                           "payer_refund": request["amount"]["refund"]}}).encode()
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), plaintext, b"refund")
        body = json.dumps({
            "id": secrets.token_hex(16), "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "resource_type": "encrypt-resource", "event_type": f"REFUND.{status}", "summary": "退款成功",
            "resource": {"original_type": "refund", "algorithm": "AEAD_AES_256_GCM", "associated_data": "refund",
                         "nonce": nonce, "ciphertext": base64.b64encode(ciphertext).decode()}})
        return self.signed_headers(body), body.encode()

    def verify_pay_sign(self, params: dict) -> bool:
        message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
        try:
            self.merchant_key.public_key().verify(base64.b64decode(params["paySign"]), message.encode(),
                                                  padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            return False

    def app(self) -> tornado.web.Application:
        fake = self

        class Base(tornado.web.RequestHandler):
            async def prepare(self):
                if fake.fault == "hang":
                    fake.hanging += 1
                    try:
                        await asyncio.sleep(fake.hang_seconds)
                    finally:
                        fake.hanging -= 1
                elif fake.fault == "error":
                    self.set_status(500)
                    self.finish({"code": "SYSTEM_ERROR", "message": "system busy, try again"})
                    return
                fields = dict(AUTH.findall(self.request.headers.get("Authorization", "")))
                body = self.request.body.decode()
                message = (f"{self.request.method}\n{self.request.uri}\n{fields.get('timestamp')}\n"
                           f"{fields.get('nonce_str')}\n{body}\n")
                try:
                    assert fields.get("mchid") == fake.mch_id and fields.get("serial_no") == fake.cert_serial_no
                    fake.merchant_key.public_key().verify(base64.b64decode(fields.get("signature", "")), message.encode(),
                                                          padding.PKCS1v15(), hashes.SHA256())
                except (AssertionError, InvalidSignature, ValueError):
                    self.set_status(401)
                    self.finish({"code": "SIGN_ERROR", "message": "signature verification failed"})

            def reply(self, data: dict) -> None:
                body = json.dumps(data)
                for name, value in fake.signed_headers(body).items():
                    self.set_header(name, value)
                self.finish(body)

        class Prepay(Base):
            def post(self):
                data = json.loads(self.request.body)
                fake.prepays[data["out_trade_no"]] = data
                self.reply({"prepay_id": "wx" + secrets.token_hex(14)})

        class Query(Base):
            def get(self, out_trade_no):
                if out_trade_no in fake.paid:
                    self.reply(fake.transaction(out_trade_no))
                else:
                    self.reply({"mchid": fake.mch_id, "out_trade_no": out_trade_no, "trade_state": "NOTPAY"})

        class RefundQuery(Base):
            def get(self, out_refund_no):
                if out_refund_no not in fake.refunds:
                    self.set_status(404)
                    self.finish({"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
                    return
                self.reply({"out_refund_no": out_refund_no, "refund_id": "50" + secrets.token_hex(10),
                            "status": fake.refund_status.get(out_refund_no, "PROCESSING"),
                            "amount": fake.refunds[out_refund_no]["amount"]})

        class Refund(Base):
            def post(self):
                data = json.loads(self.request.body)
                if data["amount"]["refund"] > data["amount"]["total"]:
                    self.set_status(400)
                    self.finish({"code": "INVALID_REQUEST", "message": "退款金额大于支付金额"})
                    return
                fake.refunds.setdefault(data["out_refund_no"], data)  # WeChat deduplicates by refund number
                self.reply({"refund_id": "50" + secrets.token_hex(10), "out_refund_no": data["out_refund_no"],
                            "status": "PROCESSING", "amount": data["amount"]})

        class Transfer(Base):
            def post(self):
                data = json.loads(self.request.body)
                if fake.fail_transfers:
                    self.set_status(500)
                    self.finish({"code": "SYSTEM_ERROR", "message": "try again"})
                    return
                detail = data["transfer_detail_list"][0]
                fake.transfers.setdefault(data["out_batch_no"], {"openid": detail["openid"],
                                                                 "amount": detail["transfer_amount"], "api": "v3"})
                self.reply({"out_batch_no": data["out_batch_no"], "batch_id": "13" + secrets.token_hex(10),
                            "create_time": "2026-11-25T12:00:00+08:00"})

        class V2(tornado.web.RequestHandler):
            """APIv2: XML in and out, signed with the shared API key."""

            def post(self, action):
                data = dict(xmltodict.parse(self.request.body)["xml"])
                sign = data.pop("sign", "")
                mch_id = data.get("mch_id") or data.get("mchid")  # the transfer API spells it mchid
                if sign != calculate_signature(data, fake.v2_api_key) or mch_id != fake.mch_id:
                    self.finish(fake.v2_xml({"return_code": "FAIL", "return_msg": "签名错误"}))
                    return
                reply = {"return_code": "SUCCESS", "result_code": "SUCCESS", "appid": data.get("appid", ""),
                         "mch_id": fake.mch_id}
                no = data.get("out_trade_no", "")
                if action == "pay/unifiedorder":
                    fake.prepays[no] = {"appid": data["appid"], "amount": {"total": int(data["total_fee"])},
                                        "payer": {"openid": data.get("openid", "")}}
                    reply.update(prepay_id="wx" + secrets.token_hex(14), trade_type="JSAPI")
                elif action == "pay/orderquery":
                    if no in fake.paid:
                        reply.update(trade_state="SUCCESS", out_trade_no=no, transaction_id=fake.paid[no],
                                     total_fee=fake.prepays[no]["amount"]["total"])
                    else:
                        reply.update(trade_state="NOTPAY", out_trade_no=no)
                elif action == "mmpaymkttransfers/promotion/transfers":
                    fake.transfers.setdefault(data["partner_trade_no"], {
                        "openid": data["openid"], "amount": int(data["amount"]), "api": "v2"})
                    reply.update(partner_trade_no=data["partner_trade_no"], payment_no="10" + secrets.token_hex(10))
                elif action == "secapi/pay/refund":
                    fake.refunds.setdefault(data["out_refund_no"], {
                        "out_trade_no": no, "amount": {"refund": int(data["refund_fee"]), "total": int(data["total_fee"])}})
                    reply.update(out_refund_no=data["out_refund_no"], refund_id="50" + secrets.token_hex(10))
                self.finish(fake.v2_xml(reply))

        return tornado.web.Application([
            (r"/(pay/unifiedorder|pay/orderquery|secapi/pay/refund|mmpaymkttransfers/promotion/transfers)", V2),
            (r"/v3/transfer/batches", Transfer),
            (r"/v3/pay/transactions/jsapi", Prepay),
            (r"/v3/pay/transactions/out-trade-no/([^/?]+)", Query),
            (r"/v3/refund/domestic/refunds", Refund),
            (r"/v3/refund/domestic/refunds/([^/?]+)", RefundQuery),
        ])
