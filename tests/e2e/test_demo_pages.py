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
    await board.screenshot(path=str(SCREENSHOTS / "order-board.png"), full_page=True)


async def test_api_docs_render_every_operation(server, page_factory):
    docs = await page_factory()
    await docs.goto(f"http://127.0.0.1:{server.port}/api/docs")
    await expect(docs.locator(".opblock").first).to_be_visible(timeout=TIMEOUT_MS)
    assert await docs.locator(".opblock").count() > 140
    await docs.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
