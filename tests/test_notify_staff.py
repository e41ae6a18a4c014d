"""WeChat alerts to the merchant's staff (issue 23): a staff member binds their WeChat on the shop's
official account (OAuth), and staff who are bound, active and hold orders.view get an
official-account template message for each new paid order and each after-sale request — once,
with the send log's retry and outcome rules. WeChat is tests/fake_wechat.py through wechatpy."""
from __future__ import annotations

import asyncio
import secrets
import sqlite3
from urllib.parse import urlparse

import pymysql
import pytest

from services import notify
from tests.builders import assert_invalid, configure_wechat, eventually, new_goods
from tests.conftest import make_config, unique
from tests.helpers import run_cli, server_env
from tests.test_notify import buy, log, wechat_member

TEMPLATE = "/cgi-bin/message/template/send"
STAFF_FIELDS = {"first": "新订单 {order_no}", "keyword1": "{goods_title}", "keyword2": "¥{total_yuan}",
                "keyword3": "{buyer}"}
REFUND_FIELDS = {"keyword1": "{order_no}", "keyword2": "{aftersale_type}", "keyword3": "¥{amount_yuan}",
                 "remark": "{reason}"}
CONSOLE = "https://merchant.example.com/orders"


async def alerting_shop(api, make_shop, fake_wechat):
    """A shop with a mini-program and an official account, and templates for both staff alerts:
    (shop, mini app id, official account app id, {event: template id})."""
    shop = await make_shop()
    mini, oa = await configure_wechat(api, shop, fake_wechat)
    ids = {"staff_order_paid": unique("OATPL"), "staff_aftersale_requested": unique("OATPL")}
    saved = await api.call("PUT", "/api/merchant/notifications/templates", {"templates": [
        {"event": "staff_order_paid", "template_id": ids["staff_order_paid"], "page": CONSOLE, "fields": STAFF_FIELDS},
        {"event": "staff_aftersale_requested", "template_id": ids["staff_aftersale_requested"], "fields": REFUND_FIELDS},
    ]}, token=shop.owner_token)
    assert saved.status == 200, saved.body
    assert saved.body["official_account_events"] == ["staff_aftersale_requested", "staff_order_paid"]
    return shop, mini, oa, ids


async def new_staff(api, shop, permissions=(), role_id=None) -> tuple[int, str]:
    """A staff member with these permissions (and role), signed in: (staff id, token)."""
    username = unique("clerk")
    body = {"username": username, "password": "clerk-pass-1", "permissions": list(permissions)}
    if role_id:
        body["role_id"] = role_id
    created = await api.post("/api/merchant/staff", body, token=shop.owner_token)
    assert created.status == 201, created.body
    login = await api.post("/api/merchant/auth/login", {"username": username, "password": "clerk-pass-1"})
    assert login.status == 200, login.body
    return created.body["id"], login.body["token"]


async def bind(api, fake_wechat, oa, token, openid=None) -> str:
    """Bind the staff member's WeChat through an OAuth code of the official account; their openid."""
    openid = openid or "oa_" + secrets.token_hex(8)
    bound = await api.post("/api/merchant/me/wechat", {"code": fake_wechat.login_code(oa, openid)}, token=token)
    assert bound.status == 200 and bound.body["bound"] and bound.body["openid"] == openid, bound.body
    return openid


async def staff_log(api, shop, **query):
    return [row for row in await log(api, shop, **query) if row["channel"] == "official_account"]


async def test_bound_staff_with_the_orders_permission_hear_of_paid_orders_and_aftersale_requests(
        api, make_shop, fake_wechat):
    shop, mini, oa, ids = await alerting_shop(api, make_shop, fake_wechat)
    me = (await api.get("/api/merchant/me", token=shop.owner_token)).body["staff"]
    owner_openid = await bind(api, fake_wechat, oa, shop.owner_token)
    role = await api.post("/api/merchant/roles", {"name": unique("客服"), "permissions": ["orders.view"]},
                          token=shop.owner_token)
    clerk, clerk_token = await new_staff(api, shop, role_id=role.body["id"])  # orders.view through a role
    clerk_openid = await bind(api, fake_wechat, oa, clerk_token)
    stocker, stocker_token = await new_staff(api, shop, ["goods.view"])  # bound, but not an orders person
    stocker_openid = await bind(api, fake_wechat, oa, stocker_token)
    await new_staff(api, shop, ["orders.view"])  # never bound
    leaver, leaver_token = await new_staff(api, shop, ["orders.view"])
    leaver_openid = await bind(api, fake_wechat, oa, leaver_token)
    disabled = await api.patch(f"/api/merchant/staff/{leaver}", {"is_active": False}, token=shop.owner_token)
    assert disabled.status == 200, disabled.body
    assert (await api.get("/api/merchant/me/wechat", token=clerk_token)).body["receives_alerts"] is True
    mine = (await api.get("/api/merchant/me/wechat", token=stocker_token)).body
    assert mine["bound"] and mine["app_id"] == oa and mine["receives_alerts"] is False

    token, member_id, _, address_id = await wechat_member(api, shop, fake_wechat, mini)
    order = await buy(api, shop, token, address_id, await new_goods(api, shop, title="龙井", price_fen=1990))
    asked = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/refund", {"reason": "买错了"}, token=token)
    assert asked.status == 200, asked.body
    await asyncio.gather(notify.send_due(), notify.send_due())  # runs racing the timed job

    async def settled():
        rows = await staff_log(api, shop)
        assert len(rows) == 4 and {row["status"] for row in rows} == {"sent"}, rows
        return rows
    rows = await eventually(settled, timeout=15)
    assert {(row["event"], row["staff_id"]) for row in rows} == {
        (event, staff_id) for event in ids for staff_id in (me["id"], clerk)}
    assert all(row["member_id"] == member_id for row in rows)
    await asyncio.sleep(1.5)  # several job runs later, still one each
    for openid in (owner_openid, clerk_openid):
        paid, refund = sorted(fake_wechat.sent_to(openid), key=lambda m: m["template_id"] != ids["staff_order_paid"])
        assert paid["template_id"] == ids["staff_order_paid"] and paid["appid"] == oa and paid["url"] == CONSOLE
        assert paid["data"] == {"first": {"value": f"新订单 {order['order_no']}"}, "keyword1": {"value": "龙井"},
                                "keyword2": {"value": "¥19.90"}, "keyword3": {"value": "微信用户"}}
        assert refund["template_id"] == ids["staff_aftersale_requested"] and "url" not in refund
        assert refund["data"] == {"keyword1": {"value": order["order_no"]}, "keyword2": {"value": "仅退款"},
                                  "keyword3": {"value": "¥19.90"}, "remark": {"value": "买错了"}}
    for openid in (stocker_openid, leaver_openid):
        assert fake_wechat.sent_to(openid) == []
    # staff alerts are not members' subscriptions: no member can consent to them
    assert_invalid(await api.post(f"/api/mobile/{shop.id}/me/subscriptions",
                                  {"template_ids": [ids["staff_order_paid"]]}, token=token), "template_ids.0")


async def test_staff_alerts_follow_wechats_outcomes_and_a_lost_permission_stops_them(api, make_shop, fake_wechat):
    """43004 (no longer following) is final; 45009 is retried and sent once; 40037 is the merchant's
    configuration error; a staff member who loses orders.view while a retry is due gets nothing."""
    shop, mini, oa, _ = await alerting_shop(api, make_shop, fake_wechat)
    clerk, clerk_token = await new_staff(api, shop, ["orders.view", "goods.view"])
    openid = await bind(api, fake_wechat, oa, clerk_token)
    token, _, _, address_id = await wechat_member(api, shop, fake_wechat, mini)
    goods = await new_goods(api, shop, price_fen=100, stock=10)

    async def next_order():
        """Buy once more; the clerk's alert of it, once it has left `pending`/`sending` or is due for a retry."""
        order = await buy(api, shop, token, address_id, goods)

        async def settled():
            rows = [row for row in await staff_log(api, shop) if row["data"]["first"]["value"].endswith(order["order_no"])]
            assert len(rows) == 1 and rows[0]["staff_id"] == clerk and rows[0]["status"] != "sending", rows
            assert rows[0]["status"] != "pending" or rows[0]["attempts"], rows
            return rows[0]
        return await eventually(settled, timeout=10)

    fake_wechat.unfollowed.add(openid)
    refused = await next_order()
    assert (refused["status"], refused["errcode"], refused["attempts"]) == ("refused", 43004, 1)

    fake_wechat.unfollowed.discard(openid)
    fake_wechat.answer_next(TEMPLATE, errcode=45009)
    retried = await next_order()
    assert (retried["status"], retried["errcode"]) == ("pending", 45009) and retried["next_attempt_at"]
    sent = await eventually(lambda: staff_log(api, shop, status="sent"), timeout=15)
    assert [(row["id"], row["attempts"]) for row in sent] == [(retried["id"], 2)]
    assert len(fake_wechat.sent_to(openid)) == 1

    fake_wechat.answer_next(TEMPLATE, errcode=40037)
    broken = await next_order()
    assert (broken["status"], broken["errcode"]) == ("config_error", 40037) and "40037" in broken["error"]

    fake_wechat.answer_next(TEMPLATE, errcode=45009)
    waiting = await next_order()
    assert waiting["status"] == "pending"
    changed = await api.patch(f"/api/merchant/staff/{clerk}", {"permissions": ["goods.view"]}, token=shop.owner_token)
    assert changed.status == 200, changed.body
    skipped = await eventually(lambda: staff_log(api, shop, status="skipped"), timeout=10)
    assert [row["id"] for row in skipped] == [waiting["id"]] and "no longer receives" in skipped[0]["error"]
    await asyncio.sleep(2.5)  # refusals and configuration errors are final: nothing was tried again
    rows = {row["id"]: row for row in await staff_log(api, shop)}
    assert (rows[refused["id"]]["status"], rows[refused["id"]]["attempts"]) == ("refused", 1)
    assert (rows[broken["id"]]["status"], rows[broken["id"]]["attempts"]) == ("config_error", 1)
    assert len(fake_wechat.sent_to(openid)) == 1
    assert (await api.get("/api/merchant/me/wechat", token=clerk_token)).body["receives_alerts"] is False


async def test_binding_a_staff_members_wechat(api, make_shop, fake_wechat):
    shop, _, oa, _ = await alerting_shop(api, make_shop, fake_wechat)
    path = "/api/merchant/me/wechat"
    assert (await api.get(path, token=shop.owner_token)).body == {
        "bound": False, "app_id": None, "openid": None, "bound_at": None, "receives_alerts": False}
    assert_invalid(await api.post(path, {}, token=shop.owner_token), "code")
    assert_invalid(await api.post(path, {"code": "not-a-code"}, token=shop.owner_token), "code")
    code = fake_wechat.login_code(oa, "oa_" + secrets.token_hex(8))
    first = await api.post(path, {"code": code}, token=shop.owner_token)
    assert first.status == 200 and first.body["bound"] and first.body["receives_alerts"], first.body
    openid = first.body["openid"]
    assert_invalid(await api.post(path, {"code": code}, token=shop.owner_token), "code")  # codes are single-use
    assert (await api.get(path, token=shop.owner_token)).body["openid"] == openid
    # a WeChat account a colleague holds is not bound twice
    clerk, clerk_token = await new_staff(api, shop, ["orders.view"])
    taken = await api.post(path, {"code": fake_wechat.login_code(oa, openid)}, token=clerk_token)
    assert taken.status == 409 and taken.body["error"]["code"] == "wechat_already_bound", taken.body
    assert (await api.get(path, token=clerk_token)).body["bound"] is False
    rebound = await bind(api, fake_wechat, oa, shop.owner_token)  # a new WeChat replaces the old one
    assert (await api.get(path, token=shop.owner_token)).body["openid"] == rebound != openid
    assert await bind(api, fake_wechat, oa, clerk_token, openid) == openid  # the old one is free now
    audit = await api.get("/api/merchant/audit?action=staff.wechat", token=shop.owner_token)
    assert [entry["action"] for entry in audit.body["items"]].count("staff.wechat_bind") == 3, audit.body

    # a code of another shop's official account is not one of this shop's
    other, _, other_oa, _ = await alerting_shop(api, make_shop, fake_wechat)
    assert_invalid(await api.post(path, {"code": fake_wechat.login_code(other_oa, "oa_x")}, token=shop.owner_token),
                   "code")
    assert (await api.get(path, token=other.owner_token)).body["bound"] is False
    # a shop that changes its official account: bindings on the old one receive nothing
    moved = await api.call("PUT", "/api/merchant/wechat", {"oa_app_id": other_oa, "oa_app_secret": "oa-secret-" + other_oa},
                           token=shop.owner_token)
    assert moved.status == 200, moved.body
    assert (await api.get(path, token=clerk_token)).body["receives_alerts"] is False
    assert (await api.delete(path, token=clerk_token)).status == 204
    assert (await api.delete(path, token=clerk_token)).status == 204  # twice is fine
    assert (await api.get(path, token=clerk_token)).body["bound"] is False
    # without an official account there is nothing to bind on
    bare = await make_shop()
    refused = await api.post(path, {"code": "whatever"}, token=bare.owner_token)
    assert refused.status == 409 and refused.body["error"]["code"] == "wechat_not_configured"


async def test_staff_alert_templates_open_web_addresses(api, make_shop, fake_wechat):
    shop, _, _, ids = await alerting_shop(api, make_shop, fake_wechat)
    templates = "/api/merchant/notifications/templates"
    entry = {"event": "staff_order_paid", "template_id": "T1", "page": "pages/order/detail", "fields": STAFF_FIELDS}
    assert_invalid(await api.call("PUT", templates, {"templates": [entry]}, token=shop.owner_token), "templates.0.page")
    entry = {**entry, "fields": {"keyword1": "{team_size}"}, "page": ""}  # not a placeholder staff alerts offer
    assert_invalid(await api.call("PUT", templates, {"templates": [entry]}, token=shop.owner_token),
                   "templates.0.fields.keyword1")
    listed = (await api.get(templates, token=shop.owner_token)).body
    assert {item["event"]: item["template_id"] for item in listed["items"]} == ids
    assert "buyer" in listed["events"]["staff_order_paid"] and "reason" in listed["events"]["staff_aftersale_requested"]
    # a member's subscription template keeps its mini-program page
    member_entry = {"event": "order_paid", "template_id": "T2", "page": "pages/order/detail", "fields": {"thing1": "{order_no}"}}
    assert (await api.call("PUT", templates, {"templates": [member_entry]}, token=shop.owner_token)).status == 200


async def test_staff_alerts_are_the_shops_own(api, make_shop, fake_wechat):
    """Shop B's staff never hear of shop A's orders, even bound to the same WeChat user."""
    shop, mini, oa, _ = await alerting_shop(api, make_shop, fake_wechat)
    other, _, other_oa, _ = await alerting_shop(api, make_shop, fake_wechat)
    await bind(api, fake_wechat, other_oa, other.owner_token, "oa_same_person")
    await bind(api, fake_wechat, oa, shop.owner_token, "oa_same_person")
    token, _, _, address_id = await wechat_member(api, shop, fake_wechat, mini)
    await buy(api, shop, token, address_id, await new_goods(api, shop, price_fen=100))
    await eventually(lambda: staff_log(api, shop, status="sent"), timeout=10)
    assert await staff_log(api, other) == []
    assert [m["appid"] for m in fake_wechat.sent_to("oa_same_person")] == [oa]


def _connect(database_url: str):
    """A plain DB-API connection to the database (sqlite3 or pymysql, autocommit) and its placeholder."""
    parsed = urlparse(database_url)
    if parsed.scheme == "sqlite":
        return sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None), "?"
    return pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                           password=parsed.password or "", database=parsed.path.lstrip("/"), autocommit=True), "%s"


def test_the_migration_gives_an_existing_send_log_a_row_per_staff_member(fresh_database_url):
    """A database migrated before staff alerts (the send log keyed on event, member and template):
    the step adds staff_id (0 on the old rows) and swaps the unique key without losing a row."""
    env = server_env(make_config(fresh_database_url))
    assert run_cli(["migrate"], env).returncode == 0
    connection, mark = _connect(fresh_database_url)
    cursor = connection.cursor()
    on_table = "" if mark == "?" else " ON notification"
    for statement in (f"DROP INDEX notification_event_id_member_id_staff_id_template_id{on_table}",
                      "ALTER TABLE notification DROP COLUMN staff_id", "DROP TABLE staff_wechat",
                      "CREATE UNIQUE INDEX notification_event_id_member_id_template_id "
                      "ON notification (event_id, member_id, template_id)",
                      "DELETE FROM schema_version WHERE version = 22"):
        cursor.execute(statement)
    columns = "shop_id, event_id, event, member_id, openid, template_id, payload, status, credit_spent, attempts, " \
              "next_attempt_at, claim, error, created_at"
    cursor.execute(f"INSERT INTO notification ({columns}) VALUES ({', '.join([mark] * 14)})",
                   (1, 7, "order_paid", 3, "o_1", "T1", "{}", "sent", 1, 1, "2026-01-01 00:00:00", "", "",
                    "2026-01-01 00:00:00"))
    upgraded = run_cli(["migrate"], env)
    assert upgraded.returncode == 0 and "22" in upgraded.stdout, upgraded.stdout + upgraded.stderr
    cursor.execute("SELECT event_id, member_id, staff_id, status FROM notification")
    assert [tuple(row) for row in cursor.fetchall()] == [(7, 3, 0, "sent")]
    for staff_id in (5, 6):  # one event, one template, two staff members: two rows now
        cursor.execute(f"INSERT INTO notification ({columns}, staff_id) VALUES ({', '.join([mark] * 15)})",
                       (1, 7, "staff_order_paid", 3, "oa_1", "T1", "{}", "pending", 0, 0, "2026-01-01 00:00:00", "",
                        "", "2026-01-01 00:00:00", staff_id))
    with pytest.raises((sqlite3.IntegrityError, pymysql.err.IntegrityError)):  # but one per staff member
        cursor.execute(f"INSERT INTO notification ({columns}, staff_id) VALUES ({', '.join([mark] * 15)})",
                       (1, 7, "staff_order_paid", 3, "oa_1", "T1", "{}", "pending", 0, 0, "2026-01-01 00:00:00", "",
                        "", "2026-01-01 00:00:00", 5))
    cursor.execute("SELECT COUNT(*) FROM staff_wechat")
    assert cursor.fetchone()[0] == 0
    connection.close()
    again = run_cli(["migrate"], env)
    assert again.returncode == 0 and "up to date" in again.stdout
