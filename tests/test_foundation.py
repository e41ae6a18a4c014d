"""Foundation: CLI, schema, auth, tenancy, errors, limits — against a real server."""
from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

import jwt
import pytest
import tornado.websocket

from lib.cache import TTLCache
from lib.config import Config, load_config
from lib.errors import RateLimited
from lib.runtime import current
from models.migrations.steps import MIGRATIONS
from services.credentials import LoginLimiter
from tests.builders import assert_invalid
from tests.conftest import MYSQL_URL, RUN_ID, make_config, unique
from tests.helpers import ROOT, free_port, run_cli, server_env, start_server_process
from tests.ws_client import WsClient

# ---------- CLI and schema ----------

def test_migrate_twice_is_a_noop(fresh_database_url):
    env = server_env(make_config(fresh_database_url))
    first = run_cli(["migrate"], env)
    assert first.returncode == 0, first.stderr
    latest = MIGRATIONS[-1][0]
    assert f"schema at version {latest}" in first.stdout and "applied" in first.stdout
    second = run_cli(["migrate"], env)
    assert second.returncode == 0, second.stderr
    assert f"schema at version {latest} (up to date)" in second.stdout


def test_mysql_without_jwt_secret_refuses_to_start():
    env = server_env(Config(database_url="mysql://root@127.0.0.1:3306/test"))
    env.pop("MALL_JWT_SECRET")
    result = run_cli(["migrate"], env)
    assert result.returncode == 2
    assert "MALL_JWT_SECRET" in result.stderr


async def test_create_admin_cli_is_idempotent_and_logs_in(server, api):
    env = server_env(server.config)
    username = unique("cliadmin")
    created = run_cli(["create-admin", "--username", username, "--password", "first-pass"], env)
    assert created.returncode == 0 and "created" in created.stdout, created.stderr
    login = await api.post("/api/admin/auth/login", {"username": username, "password": "first-pass"})
    assert login.status == 200
    old_token = login.body["token"]
    assert (await api.get("/api/admin/shops", token=old_token)).status == 200

    updated = run_cli(["create-admin", "--username", username, "--password", "second-pass"], env)
    assert updated.returncode == 0 and "updated" in updated.stdout
    assert (await api.post("/api/admin/auth/login", {"username": username, "password": "first-pass"})).status == 401
    assert (await api.post("/api/admin/auth/login", {"username": username, "password": "second-pass"})).status == 200
    # resetting the password revokes tokens issued before
    revoked = await api.get("/api/admin/shops", token=old_token)
    assert revoked.status == 401 and revoked.body["error"]["code"] == "token_revoked"


async def test_server_process_serves_and_shuts_down_gracefully(server):
    port = free_port()
    process = await start_server_process(server_env(server.config), port)
    try:
        from tests.conftest import Api

        health = await Api(port).get("/api/health", headers={"X-Request-Id": "health-check-1"})
        assert health.status == 200 and health.body["database"] == "ok"
        missing = await Api(port).get("/api/nothing-here", headers={"X-Request-Id": "missing-page-1"})
        assert missing.status == 404
        # access lines are written in batches, but a 4xx/5xx at once, with the lines before it, in order

        def logged() -> list[str]:
            lines = [line for line in Path(process.log_path).read_text().splitlines() if "mall.access" in line]
            return [json.loads(line.split("mall.access ", 1)[1])["request_id"] for line in lines]
        for _ in range(50):  # the server writes the line just after the answer: give it its turn
            if "missing-page-1" in logged():
                break
            await asyncio.sleep(0.1)
        assert logged()[-2:] == ["health-check-1", "missing-page-1"]
        await Api(port).get("/api/health", headers={"X-Request-Id": "health-check-2"})
        socket = await WsClient.connect(port)
        assert (await socket.subscribe("goods:1"))["op"] == "subscribed"
        process.send_signal(signal.SIGTERM)
        assert await socket.recv(timeout=30) is None  # open WebSockets are closed as going away
        assert socket.connection.close_code == 1001
        await asyncio.get_running_loop().run_in_executor(None, process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()
    output = Path(process.log_path).read_text()
    assert process.returncode == 0, output
    assert "shutting down" in output
    assert '"request_id":"health-check-2"' in output  # the last batch is written at exit
    for path in ("/api/docs", "/api/asyncapi.json", "/demo/"):  # the start-up banner says where things are
        assert f"http://127.0.0.1:{port}{path}" in output, output


# ---------- auth ----------

async def test_wrong_password_is_401(api, make_shop):
    shop = await make_shop()
    response = await api.post("/api/merchant/auth/login", {"username": shop.owner_username, "password": "nope-nope"})
    assert response.status == 401
    assert response.body["error"]["code"] == "invalid_credentials"
    unknown = await api.post("/api/merchant/auth/login", {"username": unique("ghost"), "password": "nope-nope"})
    assert unknown.status == 401 and unknown.body == response.body


def _forge(payload: dict, secret: str | None = None, alg: str = "HS256") -> str:
    if alg == "none":
        def b64(data):
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}."
    return jwt.encode(payload, secret, algorithm=alg)


async def test_bad_tokens_are_401(api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    secret = current().jwt_secret
    now = int(time.time())
    claims = jwt.decode(shop.owner_token, options={"verify_signature": False})
    expired = _forge({**claims, "iat": now - 100, "exp": now - 10}, secret)
    header, payload, signature = shop.owner_token.split(".")
    tampered_claims = {**claims, "shop_id": claims["shop_id"] + 1}
    tampered = f"{header}.{base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(b'=').decode()}.{signature}"
    unsigned = _forge(claims, alg="none")
    wrong_key = _forge(claims, "another-secret-of-enough-length-0123456789")
    cases = {
        "expired": (expired, "token_expired"),
        "tampered": (tampered, "invalid_token"),
        "alg none": (unsigned, "invalid_token"),
        "wrong key": (wrong_key, "invalid_token"),
        "member token on merchant API": (member.token, "invalid_token"),
        "garbage": ("not.a.token", "invalid_token"),
    }
    for name, (token, code) in cases.items():
        response = await api.get("/api/merchant/me", token=token)
        assert response.status == 401, name
        assert response.body["error"]["code"] == code, name
    assert (await api.get("/api/merchant/me")).status == 401
    assert (await api.get("/api/admin/shops", token=shop.owner_token)).status == 401
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=shop.owner_token)).status == 401
    assert (await api.get("/api/merchant/me", token=shop.owner_token)).status == 200
    assert (await api.get(f"/api/mobile/{shop.id}/me", token=member.token)).status == 200


async def test_login_rate_limit_per_account(api, make_shop):
    shop = await make_shop()
    limit = current().config.login_failures_per_account
    for _ in range(limit):
        response = await api.post("/api/merchant/auth/login", {"username": shop.owner_username, "password": "bad-guess"})
        assert response.status == 401
    blocked = await api.post("/api/merchant/auth/login", {"username": shop.owner_username, "password": shop.owner_password})
    assert blocked.status == 429
    assert blocked.body["error"]["code"] == "too_many_attempts"
    assert int(blocked.headers["Retry-After"]) > 0
    other = await make_shop()  # another account from the same IP still logs in
    ok = await api.post("/api/merchant/auth/login", {"username": other.owner_username, "password": other.owner_password})
    assert ok.status == 200


async def test_login_limiter_counts_per_ip_across_accounts(server):
    limiter = LoginLimiter(server.runtime.redis, f"mall-test-{RUN_ID}-ip:", per_account=100, per_ip=3, window_s=60)
    ip = f"10.0.0.{int(time.time()) % 250}"
    for account in ("a", "b", "c"):
        await limiter.check("merchant", account, ip)
        await limiter.failed("merchant", account, ip)
    with pytest.raises(RateLimited) as blocked:
        await limiter.check("merchant", "d", ip)
    assert (blocked.value.code, blocked.value.retry_after) == ("too_many_attempts", 60)
    await limiter.check("merchant", "d", "10.9.9.9")  # another IP is unaffected


# ---------- tenancy ----------

async def test_merchant_cannot_see_other_shops_member(api, make_shop, make_member):
    shop_a, shop_b = await make_shop("A"), await make_shop("B")
    member_b = await make_member(shop_b.id)
    foreign = await api.get(f"/api/merchant/members/{member_b.id}", token=shop_a.owner_token)
    missing = await api.get("/api/merchant/members/999999999", token=shop_a.owner_token)
    assert foreign.status == missing.status == 404
    assert foreign.body == missing.body
    own = await api.get(f"/api/merchant/members/{member_b.id}", token=shop_b.owner_token)
    assert own.status == 200 and own.body["mobile"] == member_b.mobile
    member_a = await make_member(shop_a.id)
    listing = await api.get("/api/merchant/members", token=shop_a.owner_token)
    assert [m["id"] for m in listing.body["items"]] == [member_a.id] and listing.body["total"] == 1


async def test_member_token_of_another_shop_is_refused(api, make_shop, make_member):
    shop_a, shop_b = await make_shop(), await make_shop()
    member_a = await make_member(shop_a.id)
    response = await api.get(f"/api/mobile/{shop_b.id}/me", token=member_a.token)
    assert response.status == 403 and response.body["error"]["code"] == "wrong_shop"


@pytest.mark.skipif(not MYSQL_URL, reason="MariaDB's deadlock detection: SQLite serialises writers")
async def test_a_deadlock_inside_a_savepoint_is_retried_not_answered_503(server, api, make_shop):
    """MariaDB rolls the whole transaction back when it picks a deadlock victim, savepoints
    included, so the savepoint's own ROLLBACK TO fails ("SAVEPOINT ... does not exist") and hid
    the deadlock: the request answered 503 instead of running again (seen in the soak test)."""
    import events
    from models.goods import Goods
    from tests.builders import new_goods

    shop = await make_shop()
    first, second = [(await new_goods(api, shop, stock=10))["id"] for _ in range(2)]
    both_hold_their_first_row = asyncio.Barrier(2)
    attempts = {"forward": 0, "backward": 0}

    async def take_both(name: str, ids: tuple[int, int]) -> None:
        async def outer():
            attempts[name] += 1

            async def in_savepoint():  # nested: events.transaction opens a savepoint
                await Goods.update(stock=Goods.stock - 1).where(Goods.id == ids[0]).aio_execute()
                if attempts[name] == 1:
                    await both_hold_their_first_row.wait()
                await Goods.update(stock=Goods.stock - 1).where(Goods.id == ids[1]).aio_execute()
            await events.transaction(in_savepoint)
        await events.transaction(outer)

    await asyncio.gather(take_both("forward", (first, second)), take_both("backward", (second, first)))
    assert sorted(attempts.values()) == [1, 2]  # one was the victim, and ran again
    stocks = [g.stock for g in await Goods.select().where(Goods.id.in_([first, second])).order_by(Goods.id).aio_execute()]
    assert stocks == [8, 8]  # both took both rows, once each


async def test_a_change_during_a_cached_read_is_not_papered_over_by_that_read():
    """The shop status and goods page caches drop their entry when the row changes; a read that
    was already in flight answers the requests waiting on it but is not kept, or a suspension
    (or a price change) would be hidden behind the old row until the entry expired."""
    cache = TTLCache(ttl_seconds=60)
    reading, release = asyncio.Event(), asyncio.Event()

    async def read_before_the_change():
        reading.set()
        await release.wait()
        return "active", True

    async def read_after_the_change():
        return "suspended", True

    in_flight = asyncio.ensure_future(cache.get_or_load("shop:7", read_before_the_change))
    await reading.wait()
    cache.drop("shop:7")  # the suspension commits while the old read is on its way back
    release.set()
    assert await in_flight == "active"  # that request began before the change
    assert await cache.get_or_load("shop:7", read_after_the_change) == "suspended"
    assert cache.get("shop:7") == "suspended"


async def test_suspended_shop_is_403_everywhere(api, admin_token, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    suspend = await api.patch(f"/api/admin/shops/{shop.id}", {"status": "suspended"}, token=admin_token)
    assert suspend.status == 200 and suspend.body["status"] == "suspended"
    for response in (
        await api.get("/api/merchant/me", token=shop.owner_token),
        await api.get(f"/api/mobile/{shop.id}/me", token=member.token),
        await api.post(f"/api/mobile/{shop.id}/auth/login", {"mobile": member.mobile, "password": "member-pass-1"}),
        await api.post("/api/merchant/auth/login", {"username": shop.owner_username, "password": shop.owner_password}),
    ):
        assert response.status == 403
        assert response.body["error"]["code"] == "shop_suspended"
    await api.patch(f"/api/admin/shops/{shop.id}", {"status": "active"}, token=admin_token)
    assert (await api.get("/api/merchant/me", token=shop.owner_token)).status == 200


# ---------- platform shops ----------

async def test_create_shop_is_atomic_and_validated(api, admin_token, make_shop):
    shop = await make_shop()
    before = (await api.get("/api/admin/shops", token=admin_token)).body["total"]
    taken = await api.post("/api/admin/shops", {"name": "Dup", "owner_username": shop.owner_username,
                                                "owner_password": "whatever1"}, token=admin_token)
    assert taken.status == 409 and taken.body["error"]["code"] == "username_taken"
    bad = await api.post("/api/admin/shops", {"name": "", "owner_username": "x", "owner_password": 5}, token=admin_token)
    assert_invalid(bad, "name", "owner_username", "owner_password")
    assert (await api.get("/api/admin/shops", token=admin_token)).body["total"] == before
    bad_status = await api.patch(f"/api/admin/shops/{shop.id}", {"status": "closed"}, token=admin_token)
    assert_invalid(bad_status, "status")
    assert (await api.get(f"/api/admin/shops/{shop.id}", token=admin_token)).body["status"] == "active"
    assert (await api.get("/api/admin/shops/999999999", token=admin_token)).status == 404


async def test_shop_list_is_paginated(api, admin_token, make_shop):
    for _ in range(3):
        await make_shop()
    page = await api.get("/api/admin/shops?page=1&page_size=2", token=admin_token)
    assert page.status == 200 and len(page.body["items"]) == 2 and page.body["total"] >= 3
    assert page.body["page"] == 1 and page.body["page_size"] == 2
    assert_invalid(await api.get("/api/admin/shops?page_size=101", token=admin_token), "page_size")
    assert_invalid(await api.get("/api/admin/shops?page=abc", token=admin_token), "page")


# ---------- errors ----------

async def test_error_bodies_are_json(api, make_shop):
    unknown = await api.get("/api/no/such/thing")
    assert unknown.status == 404 and unknown.body["error"]["code"] == "not_found"
    wrong_method = await api.delete("/api/admin/auth/login")
    assert wrong_method.status == 405 and wrong_method.body["error"]["code"] == "method_not_allowed"
    malformed = await api.post("/api/admin/auth/login", raw=b'{"username": "a", ')
    assert malformed.status == 400 and malformed.body["error"]["code"] == "malformed_json"
    not_object = await api.post("/api/admin/auth/login", raw=b'[1, 2]')
    assert not_object.status == 422 and not_object.body["error"]["code"] == "validation_failed"
    assert not_object.body["error"]["message"] == "request body must be a JSON object"  # no field to name
    huge = await api.post("/api/admin/auth/login", raw=b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert huge.status == 413 and huge.body["error"]["code"] == "payload_too_large"
    huge_id = await api.get("/api/admin/shops/99999999999999999999999")
    assert huge_id.status == 404
    assert "X-Request-Id" in malformed.headers


async def test_register_validates_and_rejects_duplicates(api, make_shop):
    shop = await make_shop()
    path = f"/api/mobile/{shop.id}/auth/register"
    bad = await api.post(path, {"mobile": "12345", "password": "short"})
    assert_invalid(bad, "mobile", "password")
    mobile = "13712345678"
    assert (await api.post(path, {"mobile": mobile, "password": "long-enough"})).status == 201
    again = await api.post(path, {"mobile": mobile, "password": "long-enough"})
    assert again.status == 409 and again.body["error"]["code"] == "mobile_taken"
    assert (await api.post("/api/mobile/999999999/auth/register", {"mobile": mobile, "password": "x" * 8})).status == 404


async def test_health_reports_dependencies(api):
    response = await api.get("/api/health")
    assert response.status == 200
    assert response.body == {"status": "ok", "database": "ok", "bus": "ok"} | {
        k: v for k, v in response.body.items() if k not in ("status", "database", "bus")}


# ---------- response headers ----------

async def test_every_answer_carries_the_security_headers_and_no_server_version(server, api, make_shop):
    shop = await make_shop()
    answers = {
        "json": await api.get("/api/health"), "not found": await api.get("/api/no/such/thing"),
        "405": await api.delete("/api/admin/auth/login"), "401": await api.get("/api/merchant/me"),
        "merchant": await api.get("/api/merchant/me", token=shop.owner_token),
        "openapi": await api.get("/api/openapi.json"), "docs page": await api.get("/api/docs"),
        "docs asset": await api.get("/api/docs/assets/swagger-ui.css"), "demo page": await api.get("/demo/"),
        "static 404": await api.get("/demo/nothing.html"), "ws without upgrade": await api.get("/ws"),
        "pay notify": await api.post("/api/pay/wechat/v3/notify/999999999", {}),
    }
    connection = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{server.port}/ws")
    answers["ws handshake"] = type("Handshake", (), {"status": 101, "headers": dict(connection.headers)})()
    connection.close()
    for name, response in answers.items():
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", (name, headers)
        assert headers.get("Referrer-Policy") == "no-referrer", (name, headers)
        assert "Tornado" not in headers.get("Server", ""), (name, headers)
        assert headers.get("X-Frame-Options") == "DENY", (name, headers)
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), (name, headers)
    assert "default-src 'none'" in answers["json"].headers["Content-Security-Policy"]  # JSON runs nothing


async def test_request_ids_are_unique_across_processes_and_unsafe_ones_replaced(server, api):
    """An operator greps one id across the access logs of every process behind nginx: the ids a
    server draws never repeat, in one process or between two, and an id a client sends is kept
    only when it is safe to log."""
    other_port = free_port()
    other = await start_server_process(server_env(server.config), other_port)
    try:
        from tests.conftest import Api

        answers = [await api.get("/api/health") for _ in range(20)]
        answers += [await Api(other_port).get("/api/health") for _ in range(20)]
        ids = [answer.headers["X-Request-Id"] for answer in answers]
        assert len(set(ids)) == 40 and all(re.fullmatch(r"[A-Za-z0-9._-]{16,64}", i) for i in ids), ids
        kept = await api.get("/api/health", headers={"X-Request-Id": "lb-7f3a.2"})
        assert kept.headers["X-Request-Id"] == "lb-7f3a.2"
        forged = await api.get("/api/health", headers={"X-Request-Id": "x\" injected=1"})
        assert forged.headers["X-Request-Id"] not in ids and re.fullmatch(r"[0-9a-f]{16,64}", forged.headers["X-Request-Id"])
    finally:
        other.terminate()
        await asyncio.get_running_loop().run_in_executor(None, other.wait, 30)


# ---------- registration rate limit ----------

async def test_registrations_are_limited_per_client_address_across_processes(server, make_shop):
    """A limit of 3 per hour, shared by the processes of a deployment through Redis (one process on
    the embedded backend, whose count is in memory). Refused registrations do not count."""
    from tests.conftest import REDIS_URL, Api

    shop = await make_shop()
    env = server_env(server.config, MALL_BEHIND_PROXY=1, MALL_REGISTRATIONS_PER_IP_PER_HOUR=3)
    ports = [free_port() for _ in range(2 if REDIS_URL else 1)]
    processes = [await start_server_process(env, port) for port in ports]
    fronts = [Api(port) for port in ports]
    seq = int(RUN_ID, 16)
    ip, other_ip = f"10.{seq % 250}.{seq // 250 % 250}.1", f"10.{seq % 250}.{seq // 250 % 250}.2"
    path = f"/api/mobile/{shop.id}/auth/register"

    async def register(front, address, mobile):
        return await front.post(path, {"mobile": mobile, "password": "member-pass-1"}, headers={"X-Real-IP": address})

    try:
        mobiles = [f"136{seq % 10**6:06d}{n:02d}" for n in range(6)]
        assert (await register(fronts[0], ip, mobiles[0])).status == 201
        assert (await register(fronts[-1], ip, mobiles[0])).status == 409  # refused: does not count
        assert (await register(fronts[-1], ip, mobiles[1])).status == 201
        assert (await register(fronts[0], ip, mobiles[2])).status == 201
        for front in fronts:
            blocked = await register(front, ip, mobiles[3])
            assert blocked.status == 429, blocked.body
            assert blocked.body["error"]["code"] == "too_many_registrations"
            assert 0 < int(blocked.headers["Retry-After"]) <= 3600
        assert (await register(fronts[-1], other_ip, mobiles[4])).status == 201  # another address
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def test_registration_limit_is_configured_and_documented():
    assert load_config(env={}).registrations_per_ip_per_hour == 20
    assert load_config(env={"MALL_REGISTRATIONS_PER_IP_PER_HOUR": "0"}).registrations_per_ip_per_hour == 0
    assert "MALL_REGISTRATIONS_PER_IP_PER_HOUR" in (ROOT / "README.md").read_text()


# ---------- start-up failures ----------

def _startup_cases(tmp_path) -> list[tuple[list[str], dict, str, str]]:
    """(command, env, dependency named, URL shown) with the secret "s3cret-pw" in every URL."""
    sqlite = f"sqlite:///{tmp_path / 'mall.db'}"
    dead_mysql = "mysql://mall:s3cret-pw@127.0.0.1:1/mall"
    cases = [
        (command, server_env(make_config(dead_mysql)), "database", "mysql://mall:***@127.0.0.1:1/mall")
        for command in (["migrate"], [], ["create-admin", "--username", "admin", "--password", "admin-pass"],
                        ["seed-demo"])]
    cases.append(([], server_env(make_config(sqlite, redis_url="redis://:s3cret-pw@127.0.0.1:1/0")),
                  "Redis", "redis://:***@127.0.0.1:1/0"))
    if MYSQL_URL:  # a reachable MariaDB that refuses the password
        parsed = urlparse(MYSQL_URL)
        wrong = parsed._replace(netloc=f"{parsed.username or 'root'}:s3cret-pw@{parsed.hostname}:{parsed.port or 3306}")
        shown = wrong.geturl().replace("s3cret-pw", "***")
        cases += [(command, server_env(make_config(wrong.geturl())), "database", shown) for command in (["migrate"], [])]
    return cases


def test_every_start_up_failure_is_one_clear_line(tmp_path):
    for command, env, dependency, shown in _startup_cases(tmp_path):
        result = run_cli(command, env)
        output = (result.stdout + result.stderr).strip()
        assert result.returncode not in (0, None), (command, dependency, output)
        assert "Traceback" not in output and len(output.splitlines()) <= 2, (command, dependency, output)
        assert dependency in output and shown in output and "s3cret-pw" not in output, (command, dependency, output)
        assert "check" in output, output  # it says what to check
