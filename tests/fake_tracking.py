"""A fake of kuaidi100's query API (`poll/query.do`), served by Tornado on a loopback port.

It checks the real sign (upper-case MD5 of param + key + customer) against the accounts tests
register, answers routes tests set per tracking number (`set_route`), counts the calls per number
(`calls`), goes `down` (HTTP 502) on demand, and slows answers down with `delay` (seconds) so that
concurrent lookups overlap the provider call.
"""
from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
from collections import Counter

import tornado.web

CHINA = datetime.timezone(datetime.timedelta(hours=8))


class FakeTracking:
    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}  # customer -> key
        self.routes: dict[tuple[str, str], dict] = {}  # (com, num) -> {state, data}
        self.calls: Counter = Counter()  # num -> queries answered or refused
        self.params: list[dict] = []  # every accepted query's param
        self.down = False
        self.delay = 0.0

    def add_account(self, customer: str, key: str) -> None:
        self.accounts[customer] = key

    def set_route(self, com: str, num: str, state: int, events: list[tuple[datetime.datetime, str]]) -> None:
        """`events` newest first, as (aware or naive-UTC time, text); kuaidi100 answers Beijing time."""
        def beijing(moment: datetime.datetime) -> str:
            aware = moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
            return aware.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        self.routes[(com, num)] = {"state": str(state), "data": [
            {"time": beijing(moment), "ftime": beijing(moment), "context": text} for moment, text in events]}

    def app(self) -> tornado.web.Application:
        fake = self

        class Query(tornado.web.RequestHandler):
            async def post(self):
                customer, sign, raw = (self.get_body_argument(name, "") for name in ("customer", "sign", "param"))
                param = json.loads(raw or "{}")
                fake.calls[param.get("num", "")] += 1
                await asyncio.sleep(fake.delay)
                if fake.down:
                    self.set_status(502)
                    return self.finish("bad gateway")
                key = fake.accounts.get(customer)
                if key is None or sign != hashlib.md5((raw + key + customer).encode()).hexdigest().upper():
                    return self.finish({"result": False, "returnCode": "503", "message": "验证签名失败"})
                route = fake.routes.get((param.get("com"), param.get("num")))
                if route is None:
                    return self.finish({"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"})
                fake.params.append(param)
                self.finish({"message": "ok", "nu": param["num"], "ischeck": "1" if route["state"] == "3" else "0",
                             "com": param["com"], "status": "200", "condition": "F00", **route})

        return tornado.web.Application([(r"/poll/query.do", Query)])
