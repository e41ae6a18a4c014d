"""Test harness: a real mall server on a loopback port, talked to over real HTTP.

Backend: SQLite + in-process bus by default; MariaDB + Redis when MALL_TEST_MYSQL_URL and
MALL_TEST_REDIS_URL are set (CI runs the suite both ways). Each run gets a fresh database
(a new SQLite file, or a new MySQL database that is dropped afterwards) and its own Redis key
prefix, so runs repeat cleanly and never see each other's data.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import re
import uuid
from urllib.parse import urlparse

import jsonschema
import pymysql
import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil

from lib.config import Config
from server import MallServer

MYSQL_URL = os.environ.get("MALL_TEST_MYSQL_URL", "")
REDIS_URL = os.environ.get("MALL_TEST_REDIS_URL", "")
BACKEND = "mysql" if MYSQL_URL else "sqlite"
RUN_ID = uuid.uuid4().hex[:8]


def pytest_report_header(config):
    return f"mall backend: {BACKEND}" + (f" + redis {REDIS_URL}" if REDIS_URL else " + in-process bus")


def _mysql_admin(url: str):
    parsed = urlparse(url)
    return pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                           password=parsed.password or "", autocommit=True)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if not MYSQL_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'mall.db'}"
        return
    parsed = urlparse(MYSQL_URL)
    name = f"{parsed.path.lstrip('/') or 'test'}_mall_{RUN_ID}"
    conn = _mysql_admin(MYSQL_URL)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    yield parsed._replace(path=f"/{name}").geturl()
    conn = _mysql_admin(MYSQL_URL)  # a new connection: the fault tests restart MariaDB
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def make_config(database_url: str, **overrides) -> Config:
    values = dict(
        port=0, host="127.0.0.1", database_url=database_url, redis_url=REDIS_URL,
        redis_prefix=f"mall-test-{RUN_ID}:", jwt_secret=f"test-secret-{RUN_ID}-0123456789abcdefghijklmnop",
        job_interval_seconds=0.5, login_failures_per_ip=10_000,
        registrations_per_ip_per_hour=1_000_000,  # the suite registers many members from 127.0.0.1
    )
    values.update(overrides)
    return Config(**values)


def _serve(fake):
    """Serve a fake's Tornado app on a loopback port; sets fake.base_url; returns the server."""
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    http = tornado.httpserver.HTTPServer(fake.app())
    http.add_sockets(sockets)
    fake.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    return http


@pytest.fixture(scope="session")
async def fake_wechat():
    """The fake WeChat API on a loopback port (see tests/fake_wechat.py)."""
    from tests.fake_wechat import FakeWechat

    fake = FakeWechat()
    http = _serve(fake)
    yield fake
    http.stop()


@pytest.fixture(scope="session")
async def fake_wechatpay():
    """The fake WeChat Pay API (v3 and v2) on a loopback port (see tests/fake_wechatpay.py)."""
    from tests.fake_wechatpay import FakeWechatPay

    fake = FakeWechatPay()
    http = _serve(fake)
    yield fake
    http.stop()


@pytest.fixture(scope="session")
async def fake_tracking():
    """The fake kuaidi100 query API on a loopback port (see tests/fake_tracking.py)."""
    from tests.fake_tracking import FakeTracking

    fake = FakeTracking()
    http = _serve(fake)
    yield fake
    http.stop()


@pytest.fixture(scope="session")
async def server(database_url, fake_wechat, fake_wechatpay, fake_tracking):
    mall = MallServer(make_config(database_url, wechat_api_base=fake_wechat.base_url,
                                  wechat_pay_api_base=fake_wechatpay.base_url,
                                  tracking_api_base=fake_tracking.base_url))
    await mall.start(sockets=tornado.netutil.bind_sockets(0, "127.0.0.1"))
    yield mall
    await mall.stop()


@dataclasses.dataclass
class Response:
    status: int
    body: dict
    headers: dict
    text: str = ""  # the body as received (for non-JSON answers such as CSV)


@functools.cache
def _documented() -> list[tuple[re.Pattern, str, dict]]:
    """(path regex, method, {status: (schema validator or None, error codes or None)}) of every
    operation of the OpenAPI document."""
    from handlers.openapi import spec
    from handlers.routes import ROUTES

    document = spec(ROUTES)
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "path"}
            pattern = "".join(
                ("\\d+" if params[part[1:-1]].get("type") == "integer" else "(?:" + "|".join(params[part[1:-1]]["enum"]) + ")")
                if part.startswith("{") else re.escape(part) for part in re.split(r"(\{\w+\})", path))
            answers = {}
            for status, answer in operation["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]}) \
                    if "$ref" in schema else None
                answers[status] = (validator, set(answer["x-error-codes"]) if "x-error-codes" in answer else None)
            found.append((re.compile(f"^{pattern}$"), method.upper(), answers))
    return found


def check_documented_answer(method: str, path: str, status: int, body) -> None:
    """Every JSON answer the suite receives must be one the OpenAPI document gives for that
    operation: a status it lists, the schema of that status (handlers/schemas.py) and, for an
    error, one of the codes it lists (handlers/refusals.py). A client generated from the document
    can read everything the server says."""
    bare = path.split("?")[0]
    for regex, documented_method, answers in _documented():
        if documented_method != method or not regex.match(bare):
            continue
        if status >= 500 and str(status) not in answers:
            return  # a server error: the test that caused it fails on its own account
        assert str(status) in answers, f"{method} {bare} answered {status}, which its document does not list: {body}"
        validator, codes = answers[str(status)]
        if validator is not None:
            error = next(validator.iter_errors(body), None)
            assert error is None, f"{method} {bare} {status} does not match its documented schema: " \
                                  f"{error.message} at {list(error.absolute_path)}"
        if codes is not None:
            assert body["error"]["code"] in codes, f"{method} {bare} answered {status} {body['error']['code']}, " \
                                                   f"which its document does not list (it lists {sorted(codes)})"
        return


class Api:
    """A tiny HTTP client for tests: JSON in, (status, JSON body) out, never raises on 4xx."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.http = tornado.httpclient.AsyncHTTPClient()

    async def call(self, method: str, path: str, json_body=None, token: str | None = None,
                   raw: bytes | None = None, headers: dict | None = None) -> Response:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else None)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        response = await self.http.fetch(self.base + path, method=method, body=body, headers=all_headers,
                                         raise_error=False, request_timeout=60)
        text = response.body.decode() if response.body else ""
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {"_raw": text}
        if response.headers.get("Content-Type", "").startswith("application/json"):
            check_documented_answer(method, path, response.code, parsed)
        return Response(response.code, parsed, dict(response.headers), text)

    async def get(self, path, **kw):
        return await self.call("GET", path, **kw)

    async def post(self, path, json_body=None, **kw):
        return await self.call("POST", path, json_body, **kw)

    async def patch(self, path, json_body=None, **kw):
        return await self.call("PATCH", path, json_body, **kw)

    async def delete(self, path, **kw):
        return await self.call("DELETE", path, **kw)


@pytest.fixture(scope="session")
async def api(server):
    return Api(server.port)


_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{RUN_ID}{next(_counter)}"


@pytest.fixture(scope="session")
async def admin_token(api):
    from services.platform import create_or_update_admin

    await create_or_update_admin("root_admin", "admin-pass-1")
    response = await api.post("/api/admin/auth/login", {"username": "root_admin", "password": "admin-pass-1"})
    assert response.status == 200, response.body
    return response.body["token"]


@dataclasses.dataclass
class ShopFixture:
    id: int
    owner_username: str
    owner_password: str
    owner_token: str


@pytest.fixture(scope="session")
async def make_shop(api, admin_token):
    async def make(name: str = "Shop") -> ShopFixture:
        username, password = unique("owner"), "owner-pass-1"
        created = await api.post("/api/admin/shops", {"name": name, "owner_username": username,
                                                      "owner_password": password}, token=admin_token)
        assert created.status == 201, created.body
        login = await api.post("/api/merchant/auth/login", {"username": username, "password": password})
        assert login.status == 200, login.body
        return ShopFixture(created.body["id"], username, password, login.body["token"])

    return make


@dataclasses.dataclass
class MemberFixture:
    id: int
    shop_id: int
    mobile: str
    token: str


_mobiles = itertools.count(10_000_000)


@pytest.fixture(scope="session")
async def make_member(api):
    async def make(shop_id: int, nickname: str = "buyer") -> MemberFixture:
        mobile = f"139{next(_mobiles):08d}"
        response = await api.post(f"/api/mobile/{shop_id}/auth/register",
                                  {"mobile": mobile, "password": "member-pass-1", "nickname": nickname})
        assert response.status == 201, response.body
        return MemberFixture(response.body["member"]["id"], shop_id, mobile, response.body["token"])

    return make


@pytest.fixture
def fresh_database_url(tmp_path):
    if not MYSQL_URL:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"test_mall_fresh_{RUN_ID}"
    conn = _mysql_admin(MYSQL_URL)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
    yield MYSQL_URL.rsplit("/", 1)[0] + f"/{name}"
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()
