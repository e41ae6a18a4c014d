"""Bad input catalogue: every hostile value in every field of representative writes (goods, orders,
addresses, money adjustments), deep and odd JSON, unicode edge cases, injection strings, and a
WebSocket client that floods subscribe ops. The rule checked everywhere (API.md): a clear 4xx with
the JSON error body, nothing stored by a refused request, never a 5xx, and the server keeps
serving everybody else. Strings that are valid are stored and returned byte for byte."""
from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import quote

import pytest
import tornado.web

from tests.builders import ADDRESS, assert_invalid, buyer, fast_members, new_goods, snapshot
from tests.ws_client import WsClient

# values that are wrong for some field or other: types, bounds, sizes, encodings
HOSTILE = [None, True, "", "x" * 70_000, -1, 0, 2**63, -(2**63), 10**30, 1.5, "12", [], {}, [1] * 1000,
           {"$gt": ""}, "١٢٣", "1e3"]
# strings a shop must store and show exactly as typed (a JSON API: escaping is the page's job)
VERBATIM = ["🍵 茶 4-byte emoji", "e\u0301 combining", "\u202eRTL override", "zero\u200bwidth", "'; DROP TABLE goods; --",
            "\" OR 1=1 --", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "%_\\ wildcards", "${7*7}{{7*7}}",
            "Ω≈ç√∫˜µ≤≥÷", "ｆｕｌｌｗｉｄｔｈ", "inner\ttab and\nnewline"]  # (outer whitespace is trimmed)


def error_body(response) -> bool:
    error = response.body.get("error") if isinstance(response.body, dict) else None
    return isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)


async def hostile_fields(api, method, path, valid: dict, token: str, shop_ids: list[int], expect: int) -> int:
    """Each field of `valid` replaced by each hostile value: either accepted (`expect`) or a 4xx
    with the error body and no stored change. Returns how many were refused."""
    refused = 0
    for field in valid:
        for value in HOSTILE:
            body = {**valid, field: value}
            before = await snapshot(shop_ids)
            response = await api.call(method, path, body, token=token)
            assert response.status < 500, (path, field, repr(value)[:40], response.status, response.body)
            if response.status != expect:
                assert 400 <= response.status < 500 and error_body(response), (path, field, repr(value)[:40])
                if response.body["error"]["code"] == "validation_failed":
                    assert_invalid(response, field)
                assert await snapshot(shop_ids) == before, (path, field, repr(value)[:40])
                refused += 1
    return refused


async def test_hostile_values_in_every_field_are_refused_cleanly(api, make_shop):
    shop = await make_shop()
    goods = await new_goods(api, shop, stock=1000)
    member, = await fast_members(shop.id, 1)
    address_id = await buyer(api, shop, member, balance_fen=10_000)
    token, mobile = shop.owner_token, f"/api/mobile/{shop.id}"
    refused = await hostile_fields(api, "POST", "/api/merchant/goods",
                                   {"title": "Tea", "price_fen": 100, "stock": 5, "status": "on_sale"}, token, [shop.id], 201)
    refused += await hostile_fields(api, "POST", f"/api/merchant/members/{member.id}/balance",
                                    {"delta_fen": 100, "remark": "gift"}, token, [shop.id], 200)
    refused += await hostile_fields(api, "POST", f"/api/merchant/goods/{goods['id']}/stock", {"delta": 1}, token, [shop.id], 200)
    refused += await hostile_fields(api, "POST", f"{mobile}/addresses", ADDRESS, member.token, [shop.id], 201)
    refused += await hostile_fields(api, "POST", f"{mobile}/cart", {"goods_id": goods["id"], "quantity": 1},
                                    member.token, [shop.id], 201)
    line = {"goods_id": goods["id"], "quantity": 1}
    for field in line:  # inside the items list of an order
        for value in HOSTILE:
            response = await api.post(f"{mobile}/orders", {"items": [{**line, field: value}], "address_id": address_id},
                                      token=member.token)
            assert response.status in (201, 404, 409, 422) and (response.status == 201 or error_body(response)), \
                (field, repr(value)[:40], response.body)
            if response.status == 422:
                assert_invalid(response, f"items.0.{field}")
            refused += response.status != 201
    assert refused > 100
    me = (await api.get(f"{mobile}/me", token=member.token)).body
    assert me["balance_fen"] >= 10_000  # whatever was accepted added money, nothing took it


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,  # deep nesting
    b'{"title": ' * 5_000 + b"1" + b"}" * 5_000,
    b'{"title": "Tea", "price_fen": NaN, "stock": 1}',
    b'{"title": "Tea", "price_fen": Infinity, "stock": 1}',
    b'{"title": "\\ud800 lone surrogate", "price_fen": 1, "stock": 1}',
    b'{"title": "Tea", "title": "duplicate key", "price_fen": 1, "stock": 1, "status": "on_sale", "x": 1}',
    b"\xef\xbb\xbf{}",  # byte order mark
    b"\xff\xfe\x00t\x00i",  # not UTF-8
    b"title=Tea&price_fen=1",  # a form, not JSON
    b"null", b"1", b'"string"', b"",
])
async def test_odd_json_is_a_4xx_and_stores_nothing(api, make_shop, raw):
    shop = await make_shop()
    before = await snapshot([shop.id])
    response = await api.post("/api/merchant/goods", raw=raw, token=shop.owner_token)
    assert 400 <= response.status < 500 and error_body(response), (response.status, response.text[:200])
    assert await snapshot([shop.id]) == before


async def test_unicode_and_injection_strings_are_stored_and_returned_verbatim(api, make_shop):
    shop = await make_shop()
    ids = {}
    for text in VERBATIM:
        created = await api.post("/api/merchant/goods", {"title": text, "price_fen": 100, "stock": 1,
                                                         "status": "on_sale"}, token=shop.owner_token)
        assert created.status == 201, (text, created.body)
        ids[created.body["id"]] = text
    for goods_id, text in ids.items():
        shown = await api.get(f"/api/mobile/{shop.id}/goods/{goods_id}")
        assert shown.body["title"] == text
    # search treats every character literally: '%' and '_' are not wildcards, quotes are not SQL
    for text in ("%", "_", "'", "%_\\", "DROP TABLE"):
        found = await api.get(f"/api/mobile/{shop.id}/goods?q={quote(text, safe='')}&page_size=100")
        titles = [item["title"] for item in found.body["items"]]
        assert found.status == 200 and sorted(titles) == sorted(t for t in VERBATIM if text in t), (text, titles)
    total = (await api.get("/api/merchant/goods?page_size=100", token=shop.owner_token)).body["total"]
    assert total == len(VERBATIM)  # the table is still there


async def test_a_socket_flooding_subscribe_ops_is_cut_off_and_others_keep_being_served(server):
    calm = await WsClient.connect(server.port)
    flood = await WsClient.connect(server.port)
    for n in range(10_000):
        try:
            await flood.connection.write_message(json.dumps({"op": "subscribe", "channel": f"team:{n + 1}"}))
        except Exception:  # the server closed the connection under us: that is the expected end
            break
    replies = []
    while (reply := await flood.recv()) is not None:
        replies.append(reply)
    codes = {r.get("code") for r in replies if r.get("op") == "error"}
    subscribed = sum(1 for r in replies if r.get("op") == "subscribed")
    assert flood.connection.close_code == 1008 and "rate_limited" in codes, (flood.connection.close_code, codes)
    assert subscribed <= 100  # the per-connection cap holds
    started = asyncio.get_running_loop().time()
    await calm.send({"op": "ping"})
    assert await calm.recv() == {"op": "pong"}
    assert asyncio.get_running_loop().time() - started < 5
    calm.close()


# ---------- odd paths, unsupported methods, unknown filter values ----------

ODD_PATHS = [
    "/demo/index.html%00.js", "/api/docs/assets/x%00", "/demo/%00", "/demo/x%0a", "/api/docs/assets/%00/x",
    "/demo/../server.py", "/demo/%2e%2e/%2e%2e/server.py", "/api/docs/assets/../../../server.py",
    "/demo/%zz", "/demo/%ff%fe", "/api/docs/assets/%ff", "/api/mobile/%ff/goods", "/api/admin/shops/%00",
    "/api/" + "a" * 20_000, "/demo/" + "b" * 20_000, "/api/docs/assets/" + "c" * 20_000,
    "/no/such/route", "/api/nope", "/ws", "/demo/no-such-page.html",
]


@pytest.mark.parametrize("path", ODD_PATHS, ids=lambda p: p[:40])
async def test_odd_paths_answer_a_json_4xx(api, path):
    response = await api.get(path)
    assert 400 <= response.status < 500, (path[:60], response.status, response.text[:200])
    assert response.headers["Content-Type"].startswith("application/json"), (path[:60], response.headers)
    assert error_body(response), (path[:60], response.text[:200])


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _concrete(pattern: str) -> str:
    """A request path for a route pattern: ids 1, the first choice of an alternation, a real file."""
    path = pattern.replace(r"(\d{1,18})", "1").replace("/?()", "/").replace(r"\.", ".")
    path = re.sub(r"\((\w+)\|\w+\)", r"\1", path)
    return path.replace("/demo/(.+)", "/demo/index.html").replace("(.*)", "swagger-ui.css")


async def test_an_unsupported_method_is_405_with_allow_before_any_permission_check(api, make_shop, make_member):
    from handlers.routes import ROUTES

    shop = await make_shop()
    member = await make_member(shop.id)
    checked = 0
    for pattern, handler, *_ in ROUTES:
        base = tornado.web.RequestHandler
        implemented = {m for m in HTTP_METHODS if getattr(handler, m.lower()) is not getattr(base, m.lower())}
        path = _concrete(pattern)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method in implemented:
                continue
            for token in (None, shop.owner_token, member.token):
                response = await api.call(method, path, token=token)
                assert response.status == 405, (method, path, token and token[:10], response.status, response.body)
                assert response.body["error"]["code"] == "method_not_allowed", (method, path)
                assert set(response.headers["Allow"].split(", ")) == implemented, (method, path, response.headers)
                checked += 1
    assert checked > 300


# every enum-like filter of every list, in the three audiences (OpenAPI must list them as enums too)
ENUM_FILTERS = [
    ("/api/admin/shops", "status", "active"), ("/api/admin/metrics", "format", "json"),
    ("/api/merchant/goods", "status", "on_sale"), ("/api/merchant/members", "blacklisted", "true"),
    ("/api/merchant/members/{member_id}/ledger", "currency", "points"),
    ("/api/merchant/groups/teams", "status", "open"), ("/api/merchant/withdrawals", "status", "pending"),
    ("/api/merchant/finance/ledger", "currency", "balance"), ("/api/merchant/finance/ledger.csv", "currency", "balance"),
    ("/api/merchant/distributors", "status", "approved"),
    ("/api/mobile/{shop_id}/goods", "sort", "price_asc"), ("/api/mobile/{shop_id}/me/coupons", "status", "unused"),
    ("/api/mobile/{shop_id}/me/ledger", "currency", "points"),
    ("/api/mobile/{shop_id}/distribution/commissions", "status", "settled"),
]


async def test_unknown_filter_values_are_422_and_known_ones_filter(api, admin_token, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    tokens = {"admin": admin_token, "merchant": shop.owner_token, "mobile": member.token}

    def concrete(path: str) -> str:
        return path.replace("{shop_id}", str(shop.id)).replace("{member_id}", str(member.id))

    for path, name, known in ENUM_FILTERS:
        token = tokens[path.split("/")[2]]
        for unknown in ("onsale", "ON_SALE", "1", "*"):
            refused = await api.get(f"{concrete(path)}?{name}={unknown}", token=token)
            assert refused.status == 422, (path, name, unknown, refused.status, refused.text[:200])
            assert refused.body["error"]["details"]["fields"][0]["field"] == name, (path, refused.body)
            assert known in refused.body["error"]["details"]["fields"][0]["allowed"], (path, refused.body)
        for value in ("", known):
            accepted = await api.get(f"{concrete(path)}?{name}={value}", token=token)
            assert accepted.status == 200, (path, name, value, accepted.status, accepted.text[:200])
    # the spec lists every allowed value, and each one is accepted
    spec = (await api.get("/api/openapi.json")).body
    enums = {(path, p["name"]): p["schema"]["enum"] for path, operations in spec["paths"].items()
             for p in operations.get("get", {}).get("parameters", []) if "enum" in p["schema"] and p["in"] == "query"}
    assert {(path, name) for path, name, _ in ENUM_FILTERS} <= set(enums), set(enums)
    for (path, name), allowed in enums.items():
        token = tokens[path.split("/")[2]]
        for value in allowed:
            accepted = await api.get(f"{concrete(path)}?{name}={value}", token=token)
            assert accepted.status == 200, (path, name, value, accepted.status, accepted.text[:200])
