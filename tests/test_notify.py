"""WeChat reaching shoppers who are not watching (issue 23): subscription messages from committed
outbox events, spent from consent credits, settled by WeChat's answers, never sent twice; and the
shipping info of WeChat-paid orders reported to WeChat until it is accepted. WeChat is the fake of
tests/fake_wechat.py, called through the real wechatpy client."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal

import jsonschema

from lib.runtime import current
from models.notify import NotifyTemplate
from services import finance, notify
from tests.builders import (
    ADDRESS,
    assert_invalid,
    campaign,
    configure_wechat,
    eventually,
    new_goods,
    place_and_prepay,
    wechat_shop,
)
from tests.builders import notify as pay_notify
from tests.conftest import unique
from tests.helpers import free_port, server_env, start_server_process
from tests.ws_client import WsClient

SUBSCRIBE = "/cgi-bin/message/subscribe/send"
SHIPPING = "/wxa/sec/order/upload_shipping_info"
FIELDS = {"thing1": "{goods_title}", "character_string2": "{order_no}", "amount3": "{total_yuan}"}


async def notifying_shop(api, make_shop, fake_wechat, *events):
    """A shop with a mini-program and a template for each of `events`; returns (shop, mini, {event: template id})."""
    shop = await make_shop()
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    ids = {event: unique("TPL") for event in events}
    saved = await api.call("PUT", "/api/merchant/notifications/templates", {"templates": [
        {"event": event, "template_id": ids[event], "page": "pages/order/detail", "fields": FIELDS} for event in events]},
        token=shop.owner_token)
    assert saved.status == 200, saved.body
    return shop, mini, ids


async def wechat_member(api, shop, fake_wechat, mini, balance_fen=100_000):
    """A member signed in through the mini-program (so WeChat knows their openid), with money and an
    address: (token, member id, openid, address id)."""
    openid = "o_" + secrets.token_hex(8)
    login = await api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": fake_wechat.login_code(mini, openid)})
    assert login.status == 200, login.body
    token, member_id = login.body["token"], login.body["member"]["id"]
    topped = await api.post(f"/api/merchant/members/{member_id}/balance", {"delta_fen": balance_fen}, token=shop.owner_token)
    assert topped.status == 200, topped.body
    address = await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=token)
    return token, member_id, openid, address.body["id"]


async def subscribe(api, shop, token, *template_ids):
    answer = await api.post(f"/api/mobile/{shop.id}/me/subscriptions", {"template_ids": list(template_ids)}, token=token)
    assert answer.status == 200, answer.body
    return {item["template_id"]: item["credits"] for item in answer.body["items"]}


async def buy(api, shop, token, address_id, goods):
    order = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                             "address_id": address_id}, token=token)
    assert order.status == 201, order.body
    paid = await api.post(f"/api/mobile/{shop.id}/orders/{order.body['id']}/pay", {"method": "balance"}, token=token)
    assert paid.status == 200, paid.body
    return paid.body


async def log(api, shop, **query):
    path = "/api/merchant/notifications?page_size=100" + "".join(f"&{k}={v}" for k, v in query.items())
    answer = await api.get(path, token=shop.owner_token)
    assert answer.status == 200, answer.body
    return answer.body["items"]


async def only(api, shop, **query):
    rows = await log(api, shop, **query)
    assert len(rows) == 1, rows
    return rows[0]


async def test_team_success_messages_each_member_with_a_credit_exactly_once(api, make_shop, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "team_success")
    _, activity = await campaign(api, shop)
    members = [await wechat_member(api, shop, fake_wechat, mini) for _ in range(3)]
    for token, *_ in members[:2]:  # the third never accepted the subscription prompt
        assert await subscribe(api, shop, token, ids["team_success"]) == {ids["team_success"]: 1}
    (leader, _, _, leader_address), *others = members
    opened = await api.post(f"/api/mobile/{shop.id}/groups/teams", {"activity_id": activity["id"], "team_size": 3,
                                                                   "address_id": leader_address}, token=leader)
    assert opened.status == 201, opened.body
    team_id = opened.body["team"]["id"]
    await api.post(f"/api/mobile/{shop.id}/orders/{opened.body['order']['id']}/pay", {"method": "balance"}, token=leader)
    for token, _, _, address_id in others:
        joined = await api.post(f"/api/mobile/{shop.id}/groups/teams/{team_id}/join", {"address_id": address_id},
                                token=token)
        assert joined.status == 201, joined.body
        paid = await api.post(f"/api/mobile/{shop.id}/orders/{joined.body['order']['id']}/pay", {"method": "balance"},
                              token=token)
        assert paid.status == 200, paid.body

    async def settled():
        rows = await log(api, shop)
        assert sorted(row["status"] for row in rows) == ["sent", "sent", "skipped"]
        return rows
    rows = await eventually(settled, timeout=15)
    await asyncio.sleep(1.5)  # several job runs later, still one each
    for _, member_id, openid, _ in members[:2]:
        messages = fake_wechat.sent_to(openid)
        assert len(messages) == 1
        assert messages[0]["template_id"] == ids["team_success"] and messages[0]["appid"] == mini
        assert messages[0]["data"]["thing1"] == {"value": "拼团茶"}
        assert messages[0]["page"] == "pages/order/detail"
    assert fake_wechat.sent_to(members[2][2]) == []
    assert {row["member_id"]: row["status"] for row in rows}[members[2][1]] == "skipped"
    credits = await api.get(f"/api/mobile/{shop.id}/me/subscriptions", token=members[0][0])
    assert credits.body["items"] == [{"template_id": ids["team_success"], "credits": 0}]


async def test_consent_credits_are_counted_and_spent_once_under_concurrency(api, make_shop, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    token, member_id, openid, address_id = await wechat_member(api, shop, fake_wechat, mini)
    grants = await asyncio.gather(*(api.post(f"/api/mobile/{shop.id}/me/subscriptions",
                                             {"template_ids": [ids["order_paid"]]}, token=token) for _ in range(6)))
    assert all(grant.status == 200 for grant in grants)
    assert (await subscribe(api, shop, token, ids["order_paid"]))[ids["order_paid"]] == 7
    goods = await new_goods(api, shop, price_fen=100, stock=100)
    await asyncio.gather(*(buy(api, shop, token, address_id, goods) for _ in range(10)))
    await asyncio.gather(notify.send_due(), notify.send_due(), notify.send_due())  # runs racing the timed job

    async def settled():
        rows = await log(api, shop)
        assert len(rows) == 10 and sorted({row["status"] for row in rows}) == ["sent", "skipped"]
        return rows
    rows = await eventually(settled, timeout=15)
    assert sum(row["status"] == "sent" for row in rows) == 7
    assert len(fake_wechat.sent_to(openid)) == 7
    assert len({row["event_id"] for row in rows}) == 10
    assert (await api.get(f"/api/mobile/{shop.id}/me/subscriptions", token=token)).body["items"][0]["credits"] == 0


async def test_a_refusal_43101_is_final_and_clears_the_credit(api, make_shop, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    token, _, openid, address_id = await wechat_member(api, shop, fake_wechat, mini)
    await subscribe(api, shop, token, ids["order_paid"], ids["order_paid"], ids["order_paid"])
    fake_wechat.refusing.add(openid)
    await buy(api, shop, token, address_id, await new_goods(api, shop, price_fen=100))

    row = await eventually(lambda: only(api, shop, status="refused"), timeout=10)
    assert row["errcode"] == 43101 and row["attempts"] == 1
    await asyncio.sleep(2.5)  # a retry would be due by now
    row = await only(api, shop)
    assert row["status"] == "refused" and row["attempts"] == 1
    assert (await api.get(f"/api/mobile/{shop.id}/me/subscriptions", token=token)).body["items"][0]["credits"] == 0


async def test_rate_limit_45009_and_a_5xx_are_retried_and_the_message_sent_once(api, make_shop, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    token, _, openid, address_id = await wechat_member(api, shop, fake_wechat, mini)
    await subscribe(api, shop, token, ids["order_paid"])
    fake_wechat.answer_next(SUBSCRIBE, errcode=45009)
    fake_wechat.answer_next(SUBSCRIBE, http=502)
    await buy(api, shop, token, address_id, await new_goods(api, shop, price_fen=100))

    async def pending_after_45009():
        row = await only(api, shop)
        assert row["status"] == "pending" and row["errcode"] == 45009 and row["next_attempt_at"]
        return row
    await eventually(pending_after_45009, timeout=10)

    row = await eventually(lambda: only(api, shop, status="sent"), timeout=20)
    assert row["attempts"] == 3 and row["errcode"] == 0
    assert len(fake_wechat.sent_to(openid)) == 1
    assert (await api.get(f"/api/mobile/{shop.id}/me/subscriptions", token=token)).body["items"][0]["credits"] == 0


async def test_a_bad_template_40037_is_a_configuration_error_shown_to_the_merchant(api, make_shop, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    token, _, openid, address_id = await wechat_member(api, shop, fake_wechat, mini)
    await subscribe(api, shop, token, ids["order_paid"])
    fake_wechat.answer_next(SUBSCRIBE, errcode=40037)
    await buy(api, shop, token, address_id, await new_goods(api, shop, price_fen=100))

    row = await eventually(lambda: only(api, shop, status="config_error"), timeout=10)
    assert row["errcode"] == 40037 and "40037" in row["error"] and row["attempts"] == 1
    assert fake_wechat.sent_to(openid) == []
    # the message never went: the member's consent is still there for the fixed template
    assert (await api.get(f"/api/mobile/{shop.id}/me/subscriptions", token=token)).body["items"][0]["credits"] == 1


async def test_concurrent_sends_fetch_the_access_token_once(api, make_shop, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    goods = await new_goods(api, shop, price_fen=100, stock=100)
    members = [await wechat_member(api, shop, fake_wechat, mini) for _ in range(6)]
    # (wechatpy's code2session fetched a token of its own for the logins: count from here)
    fetched_before = fake_wechat.token_fetches[mini]
    fake_wechat.delays["/cgi-bin/token"] = 0.3  # every sender arrives while the first fetch is under way
    try:
        for token, *_ in members:
            await subscribe(api, shop, token, ids["order_paid"])
        await asyncio.gather(*(buy(api, shop, token, address_id, goods) for token, _, _, address_id in members))
        await asyncio.gather(notify.send_due(), notify.send_due())

        async def all_sent():
            assert [row["status"] for row in await log(api, shop)] == ["sent"] * 6
            return True
        await eventually(all_sent, timeout=15)
    finally:
        fake_wechat.delays.pop("/cgi-bin/token")
    assert fake_wechat.token_fetches[mini] == fetched_before + 1


async def test_two_processes_and_a_kill_mid_send_never_send_twice(server, api, make_shop, fake_wechat):
    """A second server.py on the same database (and Redis): both relays offer the events, both
    send jobs race for the rows; the second is killed -9 while its sends are in flight."""
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    goods = await new_goods(api, shop, price_fen=100, stock=100)
    members = [await wechat_member(api, shop, fake_wechat, mini) for _ in range(8)]
    for token, *_ in members:
        await subscribe(api, shop, token, ids["order_paid"])
    port = free_port()
    other = await start_server_process(server_env(server.config, MALL_WECHAT_API_BASE=fake_wechat.base_url), port)
    fake_wechat.delays[SUBSCRIBE] = 0.8  # sends in flight when the kill comes
    try:
        await asyncio.gather(*(buy(api, shop, token, address_id, goods) for token, _, _, address_id in members))

        async def some_in_flight():
            return [row for row in await log(api, shop) if row["status"] in ("sending", "sent")]
        await eventually(some_in_flight, timeout=10, interval=0.02)
        os.kill(other.pid, signal.SIGKILL)
        other.wait()

        async def settled():
            rows = await log(api, shop)
            assert len(rows) == 8 and not [row for row in rows if row["status"] == "pending"]
            return rows
        rows = await eventually(settled, timeout=20)
        await asyncio.sleep(2)
    finally:
        fake_wechat.delays.pop(SUBSCRIBE)
        if other.poll() is None:
            other.kill()
            other.wait()
    for _, _, openid, _ in members:
        assert len(fake_wechat.sent_to(openid)) <= 1
    rows = await log(api, shop)
    # a row the killed process had claimed stays `sending` (later `unknown`), never sent again
    assert {row["status"] for row in rows} <= {"sent", "sending"}
    sent = [row for row in rows if row["status"] == "sent"]
    assert len(sent) == sum(len(fake_wechat.sent_to(openid)) for _, _, openid, _ in members)
    assert len({(row["event_id"], row["member_id"]) for row in rows}) == 8


async def test_shipping_info_is_uploaded_on_ship_and_retried_until_wechat_accepts(api, make_shop, fake_wechat,
                                                                                  fake_wechatpay):
    shop, token, member_id, address_id, goods = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    order = await place_and_prepay(api, shop, token, address_id, goods)
    assert (await pay_notify(api, shop, *fake_wechatpay.notification(order["order_no"]))).status == 200
    fake_wechat.answer_next(SHIPPING, errcode=-1)
    express_no = "SF" + secrets.token_hex(5).upper()
    shipped = await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "SF", "express_no": express_no},
                             token=shop.owner_token)
    assert shipped.status == 200, shipped.body

    async def state(expected):
        answer = await api.get(f"/api/merchant/orders/{order['id']}", token=shop.owner_token)
        # the upload is due once the relay has handed the ship event over: null until then
        assert answer.status == 200 and (answer.body["wechat_shipping"] or {}).get("status") == expected, answer.body
        return answer.body["wechat_shipping"]
    failed = await eventually(lambda: state("failed"), timeout=10)
    assert failed["errcode"] == -1 and failed["error"]
    uploaded = await eventually(lambda: state("uploaded"), timeout=15)
    assert uploaded["attempts"] == 2 and uploaded["uploaded_at"]
    (upload,) = [s for s in fake_wechat.shipments if s["shipping_list"][0].get("tracking_no") == express_no]
    assert upload["order_key"]["order_number_type"] == 2 and upload["order_key"]["transaction_id"]
    assert upload["logistics_type"] == 1 and upload["shipping_list"][0]["express_company"] == "SF"
    assert upload["shipping_list"][0]["contact"]["receiver_contact"] == ADDRESS["mobile"][:3] + "****" + ADDRESS["mobile"][-4:]
    assert upload["payer"]["openid"] and upload["upload_time"].endswith("+08:00")
    # a balance-paid order has nothing to report
    other = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                             "address_id": address_id}, token=token)
    await api.post(f"/api/merchant/members/{member_id}/balance", {"delta_fen": 5000}, token=shop.owner_token)
    await api.post(f"/api/mobile/{shop.id}/orders/{other.body['id']}/pay", {"method": "balance"}, token=token)
    await api.post(f"/api/merchant/orders/{other.body['id']}/ship", {"express_company": "SF", "express_no": "SF1"},
                   token=shop.owner_token)
    await asyncio.sleep(1)
    assert (await api.get(f"/api/merchant/orders/{other.body['id']}", token=shop.owner_token)).body["wechat_shipping"] is None


async def test_notifications_are_the_shops_own(api, make_shop, make_member, fake_wechat):
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    token, _, _, address_id = await wechat_member(api, shop, fake_wechat, mini)
    await subscribe(api, shop, token, ids["order_paid"])
    await buy(api, shop, token, address_id, await new_goods(api, shop, price_fen=100))
    await eventually(lambda: log(api, shop, status="sent"), timeout=10)
    other, _, other_ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    assert await log(api, other) == []
    assert (await api.get("/api/merchant/notifications/templates", token=other.owner_token)).body["items"][0][
        "template_id"] == other_ids["order_paid"]
    # another shop's template is not one this shop sends; another shop's path is not this member's
    assert_invalid(await api.post(f"/api/mobile/{shop.id}/me/subscriptions", {"template_ids": [other_ids["order_paid"]]},
                                  token=token), "template_ids.0")
    foreign = await api.post(f"/api/mobile/{other.id}/me/subscriptions", {"template_ids": [other_ids["order_paid"]]},
                             token=token)
    assert foreign.status in (401, 403, 404), foreign.body
    member = await make_member(other.id)
    assert (await api.get(f"/api/mobile/{other.id}/me/subscriptions", token=member.token)).body["items"] == []


async def test_bad_input_is_422_naming_the_field(api, make_shop, make_member, fake_wechat):
    shop, _, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    member = await make_member(shop.id)
    path = f"/api/mobile/{shop.id}/me/subscriptions"
    assert_invalid(await api.post(path, {}, token=member.token), "template_ids")
    assert_invalid(await api.post(path, {"template_ids": []}, token=member.token), "template_ids")
    assert_invalid(await api.post(path, {"template_ids": [ids["order_paid"], "nope"]}, token=member.token), "template_ids.1")
    templates = "/api/merchant/notifications/templates"
    good = {"event": "order_paid", "template_id": "T1", "fields": {"thing1": "{order_no}"}}
    for entry, field in [({**good, "event": "order_lost"}, "templates.0.event"),
                         ({**good, "fields": {"thing1": "{password}"}}, "templates.0.fields.thing1"),
                         ({**good, "fields": {"thing1": "{order_no"}}, "templates.0.fields.thing1"),
                         ({**good, "template_id": ""}, "templates.0.template_id")]:
        assert_invalid(await api.call("PUT", templates, {"templates": [entry]}, token=shop.owner_token), field)
    assert_invalid(await api.call("PUT", templates, {"templates": [good, good]}, token=shop.owner_token), "templates.1.event")
    bad_status = await api.get("/api/merchant/notifications?status=lost", token=shop.owner_token)
    assert bad_status.status == 422 and bad_status.body["error"]["details"]["fields"][0]["field"] == "status"
    # nothing was changed by the refused requests
    assert [t["template_id"] for t in (await api.get(templates, token=shop.owner_token)).body["items"]] == [ids["order_paid"]]


async def test_a_format_spec_in_a_template_field_is_422(api, make_shop, fake_wechat):
    """Review defect: `{total_yuan:d}`, `{order_no!z}` or `{order_no:>99999999}` pass the placeholder
    check but raise (or allocate 100 MB) when the relay renders the message."""
    shop, _, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    templates = "/api/merchant/notifications/templates"
    for text in ("{total_yuan:d}", "{order_no!z}", "{order_no:>99999999}"):
        entry = {"event": "order_paid", "template_id": "T1", "fields": {"thing1": text}}
        assert_invalid(await api.call("PUT", templates, {"templates": [entry]}, token=shop.owner_token),
                       "templates.0.fields.thing1")
    assert [t["template_id"] for t in (await api.get(templates, token=shop.owner_token)).body["items"]] == [ids["order_paid"]]


async def test_one_shops_unrenderable_template_does_not_lose_another_shops_messages(api, make_shop, fake_wechat):
    """Review defect: the relay hands a whole batch to `take_events`; one row that fails to render
    (a template stored before its text was checked) raised out of the batch, the relay logged it and
    marked the batch published, so every other shop's notifications in that batch were never queued."""
    broken, broken_mini, broken_ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    await NotifyTemplate.update(fields=json.dumps({"thing1": "{total_yuan:d}"})).where(
        NotifyTemplate.shop_id == broken.id).aio_execute()
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    buyers = []
    for where, app in ((broken, broken_mini), (shop, mini)):
        token, _, openid, address_id = await wechat_member(api, where, fake_wechat, app)
        await subscribe(api, where, token, (broken_ids if where is broken else ids)["order_paid"])
        buyers.append((where, token, openid, address_id, await new_goods(api, where, price_fen=100)))
    relay = current().relay
    relay.paused = True  # both payments' events go out in one batch
    try:
        for where, token, _, address_id, goods in buyers:
            await buy(api, where, token, address_id, goods)
    finally:
        relay.paused = False
    relay.wake()
    await eventually(lambda: log(api, shop, status="sent"), timeout=10)
    assert len(fake_wechat.sent_to(buyers[1][2])) == 1


async def test_subscription_messages_open_the_mini_program_version_the_shop_names(api, make_shop, fake_wechat):
    """`notify.miniprogram_state` (formal | trial | developer) goes with every subscription send."""
    shop, mini, ids = await notifying_shop(api, make_shop, fake_wechat, "order_paid")
    token, _, openid, address_id = await wechat_member(api, shop, fake_wechat, mini)
    defaults = await api.get("/api/merchant/settings", token=shop.owner_token)
    assert defaults.body["notify"] == {"miniprogram_state": "formal"}
    assert_invalid(await api.patch("/api/merchant/settings", {"notify": {"miniprogram_state": "beta"}},
                                   token=shop.owner_token), "notify.miniprogram_state")
    goods = await new_goods(api, shop, title="特级西湖龙井明前头采春茶礼盒装二百五十克一级", price_fen=100, stock=10)
    for _ in range(2):  # one consent per prompt: two prompts, two messages
        await subscribe(api, shop, token, ids["order_paid"])
    order = await buy(api, shop, token, address_id, goods)
    await eventually(lambda: len(fake_wechat.sent_to(openid)) == 1, timeout=10)
    patched = await api.patch("/api/merchant/settings", {"notify": {"miniprogram_state": "trial"}}, token=shop.owner_token)
    assert patched.status == 200 and patched.body["notify"] == {"miniprogram_state": "trial"}
    await buy(api, shop, token, address_id, goods)
    await eventually(lambda: len(fake_wechat.sent_to(openid)) == 2, timeout=10)
    assert [m["miniprogram_state"] for m in fake_wechat.sent_to(openid)] == ["formal", "trial"]
    assert all(m["page"] == "pages/order/detail" and m["template_id"] == ids["order_paid"]
               for m in fake_wechat.sent_to(openid))
    # each value within its field type's limit: `thing` 20 characters, `character_string` 32 (a whole order number)
    first = fake_wechat.sent_to(openid)[0]["data"]
    assert first["thing1"]["value"] == goods["title"][:20] and len(goods["title"]) > 20
    assert first["character_string2"]["value"] == order["order_no"] and len(order["order_no"]) > 20


async def test_a_reviewed_withdrawal_reaches_the_member_live_and_through_wechat(server, api, make_shop, fake_wechat,
                                                                               fake_wechatpay):
    """`withdrawal.reviewed` on the member's channel for approved, paid and rejected; the member's
    subscription message for the outcomes (paid, rejected), each spending one credit."""
    shop, token, member_id, _, _ = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    template_id = unique("TPL")
    saved = await api.call("PUT", "/api/merchant/notifications/templates", {"templates": [
        {"event": "withdrawal_reviewed", "template_id": template_id, "page": "pages/withdraw/list",
         "fields": {"amount1": "{amount_yuan}", "phrase2": "{result}", "thing3": "{reject_reason}"}}]},
        token=shop.owner_token)
    assert saved.status == 200, saved.body
    for _ in range(2):
        await subscribe(api, shop, token, template_id)
    await finance.change_credit(shop.id, member_id, "commission", 5000, "commission_settle", reference="seed")
    document = (await api.get("/api/asyncapi.json")).body
    payload = jsonschema.Draft202012Validator({"$ref": "#/components/messages/member_withdrawal_reviewed/payload",
                                               "components": document["components"]})
    watcher = await WsClient.connect(server.port, token)
    try:
        assert (await watcher.recv())["op"] == "authenticated"
        assert (await watcher.subscribe(f"member:{member_id}"))["op"] == "subscribed"
        to_wechat = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "commission", "target": "wechat",
                                                                         "amount_fen": 2000}, token=token)
        to_balance = await api.post(f"/api/mobile/{shop.id}/withdrawals", {"source": "commission",
                                                                          "target": "balance", "amount_fen": 1000},
                                    token=token)
        paid = await api.post(f"/api/merchant/withdrawals/{to_wechat.body['id']}/approve", {}, token=shop.owner_token)
        assert paid.status == 200 and paid.body["status"] == "paid", paid.body
        rejected = await api.post(f"/api/merchant/withdrawals/{to_balance.body['id']}/reject", {"reason": "信息不符"},
                                  token=shop.owner_token)
        assert rejected.status == 200 and rejected.body["status"] == "rejected", rejected.body
        seen = []
        while len(seen) < 3:
            frame = await watcher.recv_op("event")
            assert payload.is_valid(frame), frame
            if frame["type"] == "withdrawal.reviewed":
                seen.append(frame["data"])
    finally:
        watcher.close()
    assert [(e["withdrawal_id"], e["previous_status"], e["status"]) for e in seen] == [
        (to_wechat.body["id"], "pending", "approved"), (to_wechat.body["id"], "approved", "paid"),
        (to_balance.body["id"], "pending", "rejected")]
    assert seen[2] == {"withdrawal_id": to_balance.body["id"], "status": "rejected", "previous_status": "pending",
                       "amount_fen": 1000, "source": "commission", "target": "balance", "reject_reason": "信息不符"}

    def messages():
        return [m for m in fake_wechat.sent if m["template_id"] == template_id]
    await eventually(lambda: len(messages()) == 2, timeout=10)
    assert sorted((m["data"] for m in messages()), key=lambda data: data["amount1"]["value"], reverse=True) == [
        {"amount1": {"value": "20.00"}, "phrase2": {"value": "已到账"}, "thing3": {"value": ""}},
        {"amount1": {"value": "10.00"}, "phrase2": {"value": "已驳回"}, "thing3": {"value": "信息不符"}}]
    assert {m["page"] for m in messages()} == {"pages/withdraw/list"}
    async def both_logged_sent():  # the log row turns `sent` just after WeChat's answer arrives
        rows = await log(api, shop)  # the approval that the payout followed sent nothing of its own
        assert [(row["event"], row["status"]) for row in rows] == [("withdrawal_reviewed", "sent")] * 2
        return True
    await eventually(both_logged_sent, timeout=10)
    credits = await api.get(f"/api/mobile/{shop.id}/me/subscriptions", token=token)
    assert credits.body["items"] == [{"template_id": template_id, "credits": 0}]


async def shipping_state(api, shop, order_id, expected="uploaded"):
    answer = await api.get(f"/api/merchant/orders/{order_id}", token=shop.owner_token)
    assert answer.status == 200 and (answer.body["wechat_shipping"] or {}).get("status") == expected, answer.body
    return answer.body["wechat_shipping"]


async def wechat_paid(api, shop, fake_wechatpay, token, order) -> None:
    prepay = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "wechat"}, token=token)
    assert prepay.status == 200, prepay.body
    assert (await pay_notify(api, shop, *fake_wechatpay.notification(order["order_no"]))).status == 200


async def test_a_pick_up_order_is_reported_when_its_code_is_redeemed(api, make_shop, fake_wechat, fake_wechatpay):
    """logistics_type 4 (self pick-up) once the clerk redeems the member's code; nothing before."""
    shop, token, _, address_id, _ = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    _, activity = await campaign(api, shop, pickup=True, single_price_fen=4900, tiers=[{"team_size": 2, "price_fen": 3900}])
    order = await api.post(f"/api/mobile/{shop.id}/groups/activities/{activity['id']}/buy-alone",
                           {"address_id": address_id}, token=token)
    assert order.status == 201, order.body
    await wechat_paid(api, shop, fake_wechatpay, token, order.body)
    code = (await api.get(f"/api/mobile/{shop.id}/orders/{order.body['id']}", token=token)).body["pickup_code"]
    assert code
    await asyncio.sleep(1)  # jobs ran: a paid pick-up order has nothing to report yet
    assert (await api.get(f"/api/merchant/orders/{order.body['id']}", token=shop.owner_token)).body["wechat_shipping"] is None
    fake_wechat.answer_next(SHIPPING, http=503)
    redeemed = await api.post("/api/merchant/groups/redeem", {"code": code}, token=shop.owner_token)
    assert redeemed.status == 200, redeemed.body
    failed = await eventually(lambda: shipping_state(api, shop, order.body["id"], "failed"), timeout=10)
    assert failed["error"] == "HTTP 503"
    uploaded = await eventually(lambda: shipping_state(api, shop, order.body["id"]), timeout=15)
    assert uploaded["attempts"] == 2
    transaction_id = fake_wechatpay.paid[order.body["order_no"]]
    (upload,) = [s for s in fake_wechat.shipments if s["order_key"]["transaction_id"] == transaction_id]
    assert upload["logistics_type"] == 4 and upload["shipping_list"] == [{"item_desc": "拼团茶"}]
    assert upload["payer"]["openid"] and upload["upload_time"].endswith("+08:00")


async def test_virtual_goods_are_reported_as_virtual_without_a_tracking_number(api, make_shop, fake_wechat,
                                                                              fake_wechatpay):
    shop, token, _, address_id, _ = await wechat_shop(api, make_shop, fake_wechat, fake_wechatpay)
    card = await new_goods(api, shop, title="话费充值卡", price_fen=5000, is_virtual=True)
    order = await place_and_prepay(api, shop, token, address_id, card)
    assert (await pay_notify(api, shop, *fake_wechatpay.notification(order["order_no"]))).status == 200
    shipped = await api.post(f"/api/merchant/orders/{order['id']}/ship", {"express_company": "无", "express_no": "NONE"},
                             token=shop.owner_token)
    assert shipped.status == 200, shipped.body
    await eventually(lambda: shipping_state(api, shop, order["id"]), timeout=10)
    transaction_id = fake_wechatpay.paid[order["order_no"]]
    (upload,) = [s for s in fake_wechat.shipments if s["order_key"]["transaction_id"] == transaction_id]
    assert upload["logistics_type"] == 3 and upload["shipping_list"] == [{"item_desc": "话费充值卡"}]
