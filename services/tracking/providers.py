"""Tracking providers behind one interface: `query(account, company, express_no, phone)` answers a
`Route` or raises `ProviderDown`. kuaidi100's query API is the first; another provider is a class
with the same method registered in `PROVIDERS` (and a name in the shop setting `tracking.provider`)."""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import urllib.parse
from typing import Protocol

import tornado.httpclient

from lib.runtime import current
from models.base import iso

TIMEOUT_S = 5  # a shopper waits for the answer; a slow provider is served from the cache instead
CHINA = datetime.timezone(datetime.timedelta(hours=8))  # kuaidi100's times are Beijing time
DELIVERED = 3  # kuaidi100 state 3: 签收 (delivered)

# Common company names as merchants type them on shipping, to kuaidi100's codes; any other value
# is taken as the code itself (lower case), as kuaidi100 lists them.
KUAIDI100_CODES = {"顺丰": "shunfeng", "顺丰速运": "shunfeng", "圆通": "yuantong", "圆通速递": "yuantong",
                   "中通": "zhongtong", "中通快递": "zhongtong", "申通": "shentong", "申通快递": "shentong",
                   "韵达": "yunda", "韵达快递": "yunda", "邮政": "youzhengguonei", "EMS": "ems", "ems": "ems",
                   "京东": "jd", "京东物流": "jd", "极兔": "jtexpress", "极兔速递": "jtexpress", "德邦": "debangwuliu"}


_client: tornado.httpclient.AsyncHTTPClient | None = None


def _http() -> tornado.httpclient.AsyncHTTPClient:
    """The process's own client for providers: Tornado's shared one queues at 10 requests, and a
    provider call must not wait behind whatever else the process is fetching."""
    global _client
    if _client is None:
        _client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=20)
    return _client


class ProviderDown(Exception):
    """The provider did not answer, or refused the query (bad account, overloaded)."""


@dataclasses.dataclass
class Route:
    state: int | None  # the provider's state code
    delivered_at: datetime.datetime | None  # naive UTC; None unless delivered
    events: list[dict]  # [{time (ISO, UTC), context}], newest first


@dataclasses.dataclass
class Account:
    customer: str
    key: str


class Provider(Protocol):
    name: str

    def company_code(self, company: str) -> str: ...

    async def query(self, account: Account, company: str, express_no: str, phone: str) -> Route: ...


class Kuaidi100:
    """kuaidi100's real-time query (`poll/query.do`): form `customer`, `param` (JSON {com, num,
    phone}) and `sign` = upper-case MD5(param + key + customer)."""

    name = "kuaidi100"
    NO_RESULT = "500"  # "查询无结果": a parcel just handed over has no route yet

    def company_code(self, company: str) -> str:
        return KUAIDI100_CODES.get(company.strip(), company.strip().lower())

    async def query(self, account: Account, company: str, express_no: str, phone: str) -> Route:
        param = json.dumps({"com": company, "num": express_no, "phone": phone, "resultv2": "0"},
                           ensure_ascii=False, separators=(",", ":"))
        sign = hashlib.md5((param + account.key + account.customer).encode()).hexdigest().upper()
        url = current().config.tracking_api_base.rstrip("/") + "/poll/query.do"
        body = urllib.parse.urlencode({"customer": account.customer, "sign": sign, "param": param})
        try:
            response = await _http().fetch(
                url, method="POST", body=body, request_timeout=TIMEOUT_S, raise_error=False,
                headers={"Content-Type": "application/x-www-form-urlencoded"})
        except (OSError, tornado.httpclient.HTTPClientError) as exc:
            raise ProviderDown(f"unreachable: {type(exc).__name__}") from None
        if response.code != 200:
            raise ProviderDown(f"HTTP {response.code}")
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise ProviderDown("not JSON") from None
        if answer.get("result") is False or "data" not in answer:
            if str(answer.get("returnCode")) == self.NO_RESULT:
                return Route(None, None, [])
            raise ProviderDown(f"{answer.get('returnCode')}: {answer.get('message', '')}"[:200])
        times = [_utc(str(item.get("time", ""))) for item in answer["data"]]
        events = [{"time": iso(moment), "context": str(item.get("context", ""))}
                  for moment, item in zip(times, answer["data"])]
        state = int(answer["state"]) if str(answer.get("state", "")).lstrip("-").isdigit() else None
        return Route(state, times[0] if state == DELIVERED and times else None, events)


def _utc(beijing: str) -> datetime.datetime | None:
    """kuaidi100's "2024-05-01 12:00:00" (Beijing time) as naive UTC; None when unreadable."""
    try:
        moment = datetime.datetime.strptime(beijing, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


PROVIDERS: dict[str, Provider] = {"kuaidi100": Kuaidi100()}
