"""The live demo pages in a real browser: a group-buy team filling without reload, the merchant
order-alert board, and recovery after the server drops the WebSocket."""
from __future__ import annotations

from playwright.async_api import expect

from tests.builders import ADDRESS, campaign, join_and_pay, members_with_money, new_goods, open_and_pay
from tests.e2e.conftest import SCREENSHOTS

TIMEOUT_MS = 10_000


async def test_team_page_fills_live_and_a_second_tab_joins(server, api, make_shop, make_member, page_factory):
    shop = await make_shop()
    _, activity = await campaign(api, shop)
    people = await members_with_money(api, shop, 2)
    opened = await open_and_pay(api, shop, activity, *people[0])
    team_id = opened["team"]["id"]
    url = f"http://127.0.0.1:{server.port}/demo/team.html?shop={shop.id}&activity={activity['id']}&team={team_id}"

    watcher = await page_factory()
    await watcher.goto(url)
    await expect(watcher.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    await expect(watcher.locator("#paid")).to_have_text("1")
    await expect(watcher.locator("#size")).to_have_text("3")

    await join_and_pay(api, shop, team_id, *people[1])  # paid through the API: the page follows live
    await expect(watcher.locator("#paid")).to_have_text("2", timeout=TIMEOUT_MS)
    await expect(watcher.locator(".seat.filled")).to_have_count(2)
    await expect(watcher.locator("#stream li")).to_have_count(1)

    third = await make_member(shop.id, nickname="第三位")
    await api.post(f"/api/merchant/members/{third.id}/balance", {"delta_fen": 10000}, token=shop.owner_token)
    await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=third.token)
    second_tab = await page_factory()
    await second_tab.goto(url)
    await second_tab.fill("input[name=mobile]", third.mobile)
    await second_tab.fill("input[name=password]", "member-pass-1")
    await second_tab.click("#login button")
    await expect(second_tab.locator("#me")).to_contain_text("第三位", timeout=TIMEOUT_MS)
    await expect(second_tab.locator("#join")).to_be_enabled(timeout=TIMEOUT_MS)
    await second_tab.click("#join")
    await expect(second_tab.locator("#message")).to_have_text("Joined and paid", timeout=TIMEOUT_MS)

    await expect(watcher.locator("#paid")).to_have_text("3", timeout=TIMEOUT_MS)
    await expect(watcher.locator("#team-status")).to_have_text("success", timeout=TIMEOUT_MS)
    await expect(watcher.locator(".seat.filled")).to_have_count(3)
    await watcher.screenshot(path=str(SCREENSHOTS / "team-success.png"), full_page=True)


async def test_board_shows_paid_orders_and_recovers_from_a_dropped_socket(server, api, make_shop, make_member,
                                                                          page_factory):
    from events import connections

    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=2500, stock=20)
    member = await make_member(shop.id)
    await api.post(f"/api/merchant/members/{member.id}/balance", {"delta_fen": 100000}, token=shop.owner_token)
    address_id = (await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=member.token)).body["id"]

    async def buy() -> str:
        order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                                  "address_id": address_id}, token=member.token)).body
        paid = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "balance"}, token=member.token)
        assert paid.status == 200
        return order["order_no"]

    board = await page_factory()
    await board.goto(f"http://127.0.0.1:{server.port}/demo/board.html")
    await board.fill("input[name=username]", shop.owner_username)
    await board.fill("input[name=password]", shop.owner_password)
    await board.click("#login button")
    await expect(board.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)

    first = await buy()
    paid_alerts = board.locator("li[data-type='order.paid']")
    await expect(paid_alerts).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(paid_alerts.first).to_contain_text(first)

    connections.close_all(1001, "going away")  # the server drops every socket (a deploy, a crash)
    missed = await buy()  # committed while the page is reconnecting: replayed with `since`
    await expect(paid_alerts).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(paid_alerts.first).to_contain_text(missed)
    await expect(board.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    after = await buy()
    await expect(paid_alerts).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(paid_alerts.first).to_contain_text(after)
    # an after-sale (售后) reaches the board the moment the shopper asks for it
    order = (await api.get(f"/api/mobile/{shop.id}/orders?page_size=1", token=member.token)).body["items"][0]
    asked = await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/aftersales", {
        "type": "refund", "items": [{"order_item_id": order["items"][0]["id"], "quantity": 1}], "reason": "不想要了"},
        token=member.token)
    assert asked.status == 201, asked.body
    aftersale_alerts = board.locator("li[data-type='aftersale.requested']")
    await expect(aftersale_alerts).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(aftersale_alerts.first).to_contain_text(after)
    await board.screenshot(path=str(SCREENSHOTS / "order-board.png"), full_page=True)


async def test_api_docs_render_every_operation(server, page_factory):
    docs = await page_factory()
    await docs.goto(f"http://127.0.0.1:{server.port}/api/docs")
    await expect(docs.locator(".opblock").first).to_be_visible(timeout=TIMEOUT_MS)
    assert await docs.locator(".opblock").count() > 140
    await docs.screenshot(path=str(SCREENSHOTS / "api-docs.png"))


async def test_flash_page_counts_down_enables_buying_at_the_start_and_follows_stock(server, api, make_shop,
                                                                                  make_member, page_factory):
    import datetime

    shop = await make_shop()
    goods = await new_goods(api, shop, stock=5)
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None) + datetime.timedelta(seconds=4)
    created = await api.post("/api/merchant/flash/sales", {
        "title": "整点秒杀", "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": [{"goods_id": goods["id"], "price_fen": 990, "stock": 2, "per_member_limit": 1}]},
        token=shop.owner_token)
    assert created.status == 201, created.body
    sale = created.body
    shopper = await make_member(shop.id, nickname="抢购者")
    await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=shopper.token)
    page = await page_factory()
    await page.goto(f"http://127.0.0.1:{server.port}/demo/flash.html?shop={shop.id}&sale={sale['id']}")
    await expect(page.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    await page.fill("input[name=mobile]", shopper.mobile)
    await page.fill("input[name=password]", "member-pass-1")
    await page.click("#login button")
    await expect(page.locator("#me")).to_contain_text("抢购者", timeout=TIMEOUT_MS)
    await expect(page.locator("#phase")).to_have_text("Starts in")
    await expect(page.locator("button.buy")).to_be_disabled()

    await expect(page.locator("button.buy")).to_be_enabled(timeout=TIMEOUT_MS)  # at the start, no reload
    await expect(page.locator("#phase")).to_have_text("Ends in")
    await page.click("button.buy")
    await expect(page.locator("#message")).to_contain_text("Got it", timeout=TIMEOUT_MS)
    await expect(page.locator(".remaining")).to_have_text("1", timeout=TIMEOUT_MS)
    (other, other_address), = await members_with_money(api, shop, 1)
    bought = await api.post(f"/api/mobile/{shop.id}/flash/sales/{sale['id']}/orders",
                            {"item_id": sale["items"][0]["id"], "address_id": other_address}, token=other.token)
    assert bought.status == 201, bought.body
    await expect(page.locator(".remaining")).to_have_text("0", timeout=TIMEOUT_MS)  # live, through flash:{id}
    await expect(page.locator("button.buy")).to_have_text("Sold out 已抢光")
    await expect(page.locator("button.buy")).to_be_disabled()
    await page.screenshot(path=str(SCREENSHOTS / "flash-sold-out.png"), full_page=True)


async def test_board_shows_wechat_notification_failures(server, api, make_shop, fake_wechat, page_factory):
    """A message WeChat refused for the merchant's own configuration (40037: bad template id) is
    listed on the board, where the merchant looks."""
    import secrets

    from tests.builders import configure_wechat, eventually

    shop = await make_shop()
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    template_id = "TPL" + secrets.token_hex(4)
    saved = await api.call("PUT", "/api/merchant/notifications/templates", {"templates": [
        {"event": "order_paid", "template_id": template_id, "fields": {"character_string1": "{order_no}"}}]},
        token=shop.owner_token)
    assert saved.status == 200, saved.body
    login = await api.post(f"/api/mobile/{shop.id}/auth/wechat",
                           {"code": fake_wechat.login_code(mini, "o_" + secrets.token_hex(8))})
    token, member_id = login.body["token"], login.body["member"]["id"]
    await api.post(f"/api/merchant/members/{member_id}/balance", {"delta_fen": 10000}, token=shop.owner_token)
    address_id = (await api.post(f"/api/mobile/{shop.id}/addresses", ADDRESS, token=token)).body["id"]
    assert (await api.post(f"/api/mobile/{shop.id}/me/subscriptions", {"template_ids": [template_id]},
                           token=token)).status == 200
    fake_wechat.answer_next("/cgi-bin/message/subscribe/send", errcode=40037)
    goods = await new_goods(api, shop, price_fen=100)
    order = (await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address_id}, token=token)).body
    await api.post(f"/api/mobile/{shop.id}/orders/{order['id']}/pay", {"method": "balance"}, token=token)

    async def refused():
        return (await api.get("/api/merchant/notifications?status=config_error", token=shop.owner_token)).body["items"]
    await eventually(refused, timeout=10)

    board = await page_factory()
    await board.goto(f"http://127.0.0.1:{server.port}/demo/board.html")
    await board.fill("input[name=username]", shop.owner_username)
    await board.fill("input[name=password]", shop.owner_password)
    await board.click("#login button")
    failures = board.locator("#failures li")
    await expect(failures).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(failures.first).to_contain_text("order_paid")
    await expect(failures.first).to_contain_text("40037")
    await expect(board.locator("#failure-count")).to_have_text("1")
