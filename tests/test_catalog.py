"""Catalog, banners and shop settings through the real API, both backends."""
from __future__ import annotations

import asyncio
import datetime

from models.user import Staff
from services.credentials import hash_password, issue_token
from tests.builders import assert_invalid
from tests.conftest import unique
from tests.ws_client import WsClient


def goods_body(**overrides) -> dict:
    body = {"title": "Tea 茶叶", "price_fen": 3900, "stock": 10, "status": "on_sale",
            "images": ["https://img.example.com/tea.jpg"]}
    body.update(overrides)
    return body


COLOUR_SIZE = [{"name": "颜色", "values": ["红", "蓝"]}, {"name": "尺码", "values": ["M", "L"]}]


def colour_size_skus(stock=5) -> list[dict]:
    return [{"spec_values": [c, s], "price_fen": 1000 + i * 100, "stock": stock, "code": f"C{i}"}
            for i, (c, s) in enumerate([("红", "M"), ("红", "L"), ("蓝", "M"), ("蓝", "L")])]


async def test_category_tree_round_trip(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    top = await api.post("/api/merchant/categories", {"name": "Drinks", "sort": 2}, token=token)
    assert top.status == 201
    child = await api.post("/api/merchant/categories", {"name": "Tea", "parent_id": top.body["id"]}, token=token)
    assert child.status == 201 and child.body["parent_id"] == top.body["id"]
    third = await api.post("/api/merchant/categories", {"name": "Green", "parent_id": child.body["id"]}, token=token)
    assert_invalid(third, "parent_id")
    hidden = await api.post("/api/merchant/categories", {"name": "Hidden", "enabled": False}, token=token)
    tree = await api.get(f"/api/mobile/{shop.id}/categories")
    assert tree.status == 200
    assert [c["name"] for c in tree.body["items"]] == ["Drinks"]
    assert [c["name"] for c in tree.body["items"][0]["children"]] == ["Tea"]
    merchant_tree = await api.get("/api/merchant/categories", token=token)
    assert {c["name"] for c in merchant_tree.body["items"]} == {"Drinks", "Hidden"}
    renamed = await api.patch(f"/api/merchant/categories/{child.body['id']}", {"name": "Tea leaves"}, token=token)
    assert renamed.status == 200 and renamed.body["name"] == "Tea leaves"
    not_empty = await api.delete(f"/api/merchant/categories/{top.body['id']}", token=token)
    assert not_empty.status == 409
    assert (await api.delete(f"/api/merchant/categories/{hidden.body['id']}", token=token)).status == 204


async def test_goods_crud_round_trip_with_spec_skus(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    category = (await api.post("/api/merchant/categories", {"name": "Clothes"}, token=token)).body
    created = await api.post("/api/merchant/goods", goods_body(
        title="T-shirt", subtitle="cotton", category_id=category["id"], description="<p>soft</p>",
        market_price_fen=5000, weight_g=200, purchase_limit=3, specs=COLOUR_SIZE, skus=colour_size_skus()),
        token=token)
    assert created.status == 201, created.body
    goods = created.body
    assert goods["price_fen"] == 1000 and goods["stock"] == 20  # lowest SKU price, summed stock
    assert [s["title"] for s in goods["skus"]] == ["红 / M", "红 / L", "蓝 / M", "蓝 / L"]
    assert goods["status"] == "on_sale" and goods["purchase_limit"] == 3 and goods["description"] == "<p>soft</p>"

    fetched = await api.get(f"/api/merchant/goods/{goods['id']}", token=token)
    assert fetched.body == goods
    mobile = await api.get(f"/api/mobile/{shop.id}/goods/{goods['id']}")
    assert mobile.status == 200 and len(mobile.body["skus"]) == 4 and "status" not in mobile.body
    assert mobile.body["channel"]["channel"] == f"goods:{goods['id']}"

    # drop one size: the L SKUs retire, the M SKUs keep their ids and stock
    specs = [{"name": "颜色", "values": ["红", "蓝"]}, {"name": "尺码", "values": ["M"]}]
    patched = await api.patch(f"/api/merchant/goods/{goods['id']}", {
        "title": "T-shirt v2", "specs": specs,
        "skus": [{"spec_values": ["红", "M"], "price_fen": 900, "stock": 99},
                 {"spec_values": ["蓝", "M"], "price_fen": 1200}]}, token=token)
    assert patched.status == 200, patched.body
    assert patched.body["title"] == "T-shirt v2" and patched.body["price_fen"] == 900
    kept = {s["title"]: s for s in patched.body["skus"]}
    assert set(kept) == {"红 / M", "蓝 / M"}
    assert kept["红 / M"]["id"] == goods["skus"][0]["id"] and kept["红 / M"]["stock"] == 5  # stock not overwritten
    assert patched.body["stock"] == 10

    assert (await api.delete(f"/api/merchant/goods/{goods['id']}", token=token)).status == 204
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=token)).status == 404
    assert (await api.get(f"/api/mobile/{shop.id}/goods/{goods['id']}")).status == 404


async def test_goods_validation_reports_fields_and_changes_nothing(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    cases = [
        (goods_body(price_fen=-1), "price_fen"),
        (goods_body(stock=-5), "stock"),
        (goods_body(title=""), "title"),
        (goods_body(price_fen="39"), "price_fen"),
        (goods_body(category_id=999999), "category_id"),
        (goods_body(images=["javascript:alert(1)"]), "images.0"),
        (goods_body(status="sold"), "status"),
        (goods_body(specs=COLOUR_SIZE, skus=colour_size_skus()[:3]), "skus"),
        (goods_body(specs=COLOUR_SIZE, skus=colour_size_skus() + [{"spec_values": ["绿", "M"], "price_fen": 1}]), "skus"),
        (goods_body(skus=[{"title": "A", "price_fen": 1}, {"title": "A", "price_fen": 2}]), "skus"),
        (goods_body(unknown_field=1), "unknown_field"),
        (goods_body(sort=10**12), "sort"),  # found by the fuzzer: MySQL would have clamped it silently
    ]
    for body, field in cases:
        assert_invalid(await api.post("/api/merchant/goods", body, token=token), field)
    missing = await api.post("/api/merchant/goods", goods_body(specs=COLOUR_SIZE, skus=colour_size_skus()[:3]), token=token)
    assert missing.body["error"]["details"]["fields"][0]["missing"] == ["蓝 / L"]
    assert (await api.get("/api/merchant/goods", token=token)).body["total"] == 0
    goods = (await api.post("/api/merchant/goods", goods_body(), token=token)).body
    no_stock_edit = await api.patch(f"/api/merchant/goods/{goods['id']}", {"stock": 500}, token=token)
    assert_invalid(no_stock_edit, "stock")
    assert (await api.get(f"/api/merchant/goods/{goods['id']}", token=token)).body["stock"] == 10


async def test_goods_of_another_shop_are_404(api, make_shop):
    shop_a, shop_b = await make_shop(), await make_shop()
    goods_b = (await api.post("/api/merchant/goods", goods_body(), token=shop_b.owner_token)).body
    path = f"/api/merchant/goods/{goods_b['id']}"
    for response in (
        await api.get(path, token=shop_a.owner_token),
        await api.patch(path, {"title": "stolen"}, token=shop_a.owner_token),
        await api.delete(path, token=shop_a.owner_token),
        await api.post(f"{path}/stock", {"delta": 5}, token=shop_a.owner_token),
        await api.get(f"/api/mobile/{shop_a.id}/goods/{goods_b['id']}"),
    ):
        assert response.status == 404, response.body
    shelf = await api.post("/api/merchant/goods/shelf", {"ids": [goods_b["id"]], "status": "off_sale"},
                           token=shop_a.owner_token)
    assert shelf.body == {"updated": 0}
    after = await api.get(path, token=shop_b.owner_token)
    assert after.body["title"] == goods_b["title"] and after.body["status"] == "on_sale" and after.body["stock"] == 10


async def test_rich_descriptions_are_sanitized_for_shoppers(api, make_shop):
    shop = await make_shop()
    dirty = ('<h2 onmouseover="steal()">新茶</h2><script>document.cookie</script>'
             '<a href="javascript:alert(1)">看</a><img src="https://img.example.com/t.jpg" onerror="x()">')
    created = (await api.post("/api/merchant/goods", goods_body(description=dirty), token=shop.owner_token)).body
    shown = (await api.get(f"/api/mobile/{shop.id}/goods/{created['id']}")).body["description"]
    assert shown == '<h2>新茶</h2><a rel="noopener noreferrer">看</a><img src="https://img.example.com/t.jpg">'
    patched = await api.patch(f"/api/merchant/goods/{created['id']}", {"description": "<p>ok<iframe src=x></iframe></p>"},
                              token=shop.owner_token)
    assert patched.body["description"] == "<p>ok</p>"


async def test_mobile_never_sees_off_sale_or_deleted_goods(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    visible = (await api.post("/api/merchant/goods", goods_body(title="visible"), token=token)).body
    off = (await api.post("/api/merchant/goods", goods_body(title="off", status="off_sale"), token=token)).body
    gone = (await api.post("/api/merchant/goods", goods_body(title="gone"), token=token)).body
    await api.delete(f"/api/merchant/goods/{gone['id']}", token=token)
    listing = await api.get(f"/api/mobile/{shop.id}/goods")
    assert [g["id"] for g in listing.body["items"]] == [visible["id"]]
    assert (await api.get(f"/api/mobile/{shop.id}/goods/{off['id']}")).status == 404
    shelf = await api.post("/api/merchant/goods/shelf", {"ids": [off["id"], visible["id"]], "status": "on_sale"}, token=token)
    assert shelf.body == {"updated": 2}
    await api.post("/api/merchant/goods/shelf", {"ids": [visible["id"]], "status": "off_sale"}, token=token)
    listing = await api.get(f"/api/mobile/{shop.id}/goods")
    assert [g["id"] for g in listing.body["items"]] == [off["id"]]


async def test_search_sort_and_pagination_over_many_goods(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    drinks = (await api.post("/api/merchant/categories", {"name": "Drinks"}, token=token)).body
    tea = (await api.post("/api/merchant/categories", {"name": "Tea", "parent_id": drinks["id"]}, token=token)).body
    semaphore = asyncio.Semaphore(10)

    async def create(i):
        async with semaphore:
            title = f"{'Green tea' if i % 3 == 0 else 'Coffee'} #{i:03d}"
            response = await api.post("/api/merchant/goods", goods_body(
                title=title, price_fen=100 + i, category_id=tea["id"] if i % 3 == 0 else drinks["id"],
                status="off_sale" if i % 10 == 9 else "on_sale"), token=token)
            assert response.status == 201
    await asyncio.gather(*(create(i) for i in range(120)))
    visible = [i for i in range(120) if i % 10 != 9]
    teas = [i for i in visible if i % 3 == 0]

    seen, page = [], 1
    while True:
        body = (await api.get(f"/api/mobile/{shop.id}/goods?sort=price_asc&page={page}&page_size=25")).body
        assert body["total"] == len(visible)
        seen += [g["price_fen"] for g in body["items"]]
        if len(body["items"]) < 25:
            break
        page += 1
    assert seen == [100 + i for i in visible]  # every visible goods once, in price order

    search = (await api.get(f"/api/mobile/{shop.id}/goods?q=green&page_size=100")).body
    assert search["total"] == len(teas) == len(search["items"]) and all("Green tea" in g["title"] for g in search["items"])
    by_child = (await api.get(f"/api/mobile/{shop.id}/goods?category_id={tea['id']}&page_size=100")).body
    assert by_child["total"] == len(teas)
    by_parent = (await api.get(f"/api/mobile/{shop.id}/goods?category_id={drinks['id']}&page_size=100")).body
    assert by_parent["total"] == len(visible)  # a top-level category includes its children
    desc = (await api.get(f"/api/mobile/{shop.id}/goods?sort=price_desc&page_size=3")).body
    assert [g["price_fen"] for g in desc["items"]] == [100 + i for i in sorted(visible, reverse=True)[:3]]
    merchant_all = (await api.get("/api/merchant/goods?page_size=1", token=token)).body
    assert merchant_all["total"] == 120


async def test_stock_adjustment_is_ledgered_and_never_negative_under_concurrency(server, api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    goods = (await api.post("/api/merchant/goods", goods_body(stock=10), token=token)).body
    watcher = await WsClient.connect(server.port)
    await watcher.subscribe(f"goods:{goods['id']}")
    results = await asyncio.gather(*(
        api.post(f"/api/merchant/goods/{goods['id']}/stock", {"delta": -1, "remark": "breakage"}, token=token)
        for _ in range(25)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 10 and statuses.count(409) == 15
    assert all(r.body["error"]["code"] == "out_of_stock" for r in results if r.status == 409)
    detail = await api.get(f"/api/merchant/goods/{goods['id']}", token=token)
    assert detail.body["stock"] == 0
    ledger = (await api.get(f"/api/merchant/goods/{goods['id']}/stock-ledger?page_size=100", token=token)).body
    adjustments = [row for row in ledger["items"] if row["reason"] == "adjust"]
    assert len(adjustments) == 10 and sum(row["delta"] for row in adjustments) == -10
    assert sorted(row["stock_after"] for row in adjustments) == list(range(10))
    assert all(row["remark"] == "breakage" and row["staff_id"] for row in adjustments)
    stocks = [(await watcher.recv())["data"]["stock"] for _ in range(10)]
    assert stocks == list(range(9, -1, -1))  # live stock, in commit order
    watcher.close()


async def test_sku_stock_adjustment(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    goods = (await api.post("/api/merchant/goods", goods_body(specs=COLOUR_SIZE, skus=colour_size_skus(2)),
                            token=token)).body
    sku = goods["skus"][1]
    path = f"/api/merchant/goods/{goods['id']}/stock"
    assert_invalid(await api.post(path, {"delta": 3}, token=token), "sku_id")  # which SKU?
    assert (await api.post(path, {"delta": -3, "sku_id": sku["id"]}, token=token)).status == 409
    added = await api.post(path, {"delta": 8, "sku_id": sku["id"]}, token=token)
    assert added.body["stock"] == 10
    detail = (await api.get(f"/api/merchant/goods/{goods['id']}", token=token)).body
    assert detail["stock"] == 16 and {s["id"]: s["stock"] for s in detail["skus"]}[sku["id"]] == 10


async def test_staff_without_goods_permission_cannot_edit(api, make_shop):
    shop = await make_shop()
    viewer = await Staff.aio_create(shop_id=shop.id, username=unique("viewer"), permissions='["goods.view"]',
                                    password_hash=await hash_password("viewer-pass-1"))
    token = issue_token("merchant", viewer.id, viewer.token_version, shop_id=shop.id)
    assert (await api.get("/api/merchant/goods", token=token)).status == 200
    refused = await api.post("/api/merchant/goods", goods_body(), token=token)
    assert refused.status == 403 and refused.body["error"]["code"] == "permission_denied"
    assert (await api.get("/api/merchant/goods", token=shop.owner_token)).body["total"] == 0


async def test_banners_respect_enabled_and_time_window(api, make_shop):
    shop = await make_shop()
    token = shop.owner_token
    now = datetime.datetime.now(datetime.timezone.utc)
    hour = datetime.timedelta(hours=1)

    def at(moment):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    image = "https://img.example.com/b.jpg"
    live = await api.post("/api/merchant/banners", {"title": "live", "image": image, "sort": 1}, token=token)
    assert live.status == 201
    await api.post("/api/merchant/banners", {"title": "off", "image": image, "enabled": False}, token=token)
    await api.post("/api/merchant/banners", {"title": "future", "image": image, "starts_at": at(now + hour)}, token=token)
    await api.post("/api/merchant/banners", {"title": "past", "image": image, "ends_at": at(now - hour)}, token=token)
    window = await api.post("/api/merchant/banners", {"title": "now", "image": image, "sort": 5,
                                                      "starts_at": at(now - hour), "ends_at": at(now + hour)}, token=token)
    assert window.body["starts_at"] == at(now - hour)
    bad = await api.post("/api/merchant/banners", {"image": image, "starts_at": at(now), "ends_at": at(now - hour)},
                         token=token)
    assert_invalid(bad, "ends_at")
    shown = await api.get(f"/api/mobile/{shop.id}/banners")
    assert [b["title"] for b in shown.body["items"]] == ["now", "live"]
    await api.patch(f"/api/merchant/banners/{live.body['id']}", {"enabled": False}, token=token)
    assert [b["title"] for b in (await api.get(f"/api/mobile/{shop.id}/banners")).body["items"]] == ["now"]
    assert (await api.get("/api/merchant/banners", token=token)).body["total"] == 5
    other = await make_shop()
    assert (await api.delete(f"/api/merchant/banners/{live.body['id']}", token=other.owner_token)).status == 404


async def test_settings_defaults_merge_and_validation(api, make_shop):
    shop = await make_shop("Tea House")
    token = shop.owner_token
    defaults = (await api.get("/api/merchant/settings", token=token)).body
    assert defaults["shop"]["name"] == "Tea House"
    assert defaults["order"] == {"unpaid_cancel_minutes": 30, "auto_confirm_days": 7, "refund_window_days": 7,
                                 "shipping_fee_fen": 0, "restock_on_refund": True, "confirm_days_after_delivered": None}
    assert defaults["tracking"] == {"provider": "kuaidi100", "customer": "", "key_set": False, "cache_minutes": 30}
    patched = await api.patch("/api/merchant/settings", {"order": {"auto_confirm_days": 10},
                                                          "shop": {"notice": "新品上市"}}, token=token)
    assert patched.status == 200
    assert patched.body["order"]["auto_confirm_days"] == 10 and patched.body["order"]["unpaid_cancel_minutes"] == 30
    assert patched.body["shop"]["notice"] == "新品上市" and patched.body["shop"]["name"] == "Tea House"
    for bad, field in (({"order": {"auto_confirm_days": 0}}, "order.auto_confirm_days"),
                       ({"order": {"auto_confirm_days": "7"}}, "order.auto_confirm_days"),
                       ({"order": {"no_such_rule": 1}}, "order.no_such_rule"), ({"nonsense": {}}, "nonsense"),
                       ({"points": {"deduct_max_percent": 101}}, "points.deduct_max_percent")):
        assert_invalid(await api.patch("/api/merchant/settings", bad, token=token), field)
    again = (await api.get("/api/merchant/settings", token=token)).body
    assert again == patched.body
    public = (await api.get(f"/api/mobile/{shop.id}/settings")).body
    assert public["shop"]["notice"] == "新品上市" and public["order"]["auto_confirm_days"] == 10
    assert "balance" in public and "min_withdraw_fen" not in public["balance"]
    # every section of the document can be changed, the flash-sale rules too
    flash = await api.patch("/api/merchant/settings", {"flash": {"unpaid_cancel_minutes": 3}}, token=token)
    assert flash.status == 200 and flash.body["flash"] == {"unpaid_cancel_minutes": 3}, flash.body


async def test_suspended_shop_hides_its_catalog(api, admin_token, make_shop):
    shop = await make_shop()
    await api.post("/api/merchant/goods", goods_body(), token=shop.owner_token)
    await api.patch(f"/api/admin/shops/{shop.id}", {"status": "suspended"}, token=admin_token)
    for path in ("goods", "categories", "banners", "settings"):
        response = await api.get(f"/api/mobile/{shop.id}/{path}")
        assert response.status == 403 and response.body["error"]["code"] == "shop_suspended"


async def test_seed_demo_gives_a_browsable_shop(fresh_database_url):
    from tests.conftest import Api, make_config
    from tests.helpers import free_port, run_cli, server_env, start_server_process

    config = make_config(fresh_database_url)
    env = server_env(config, MALL_REDIS_PREFIX=f"{config.redis_prefix}seed:")
    first = run_cli(["seed-demo"], env)
    assert first.returncode == 0, first.stderr
    assert run_cli(["seed-demo"], env).returncode == 0  # idempotent
    shop_id = int(first.stdout.split("(id ")[1].split(")")[0])
    port = free_port()
    process = await start_server_process(env, port)
    try:
        api = Api(port)
        goods = await api.get(f"/api/mobile/{shop_id}/goods?page_size=100")
        assert goods.status == 200 and goods.body["total"] == 20
        with_skus = [g for g in goods.body["items"] if "T恤" in g["title"]]
        detail = await api.get(f"/api/mobile/{shop_id}/goods/{with_skus[0]['id']}")
        assert len(detail.body["skus"]) >= 4
        tree = (await api.get(f"/api/mobile/{shop_id}/categories")).body["items"]
        assert len(tree) == 3 and all(len(c["children"]) == 2 for c in tree)
        assert len((await api.get(f"/api/mobile/{shop_id}/banners")).body["items"]) == 3
        login = await api.post(f"/api/mobile/{shop_id}/auth/login", {"mobile": "13800000001", "password": "demo123456"})
        assert login.status == 200 and login.body["member"]["balance_fen"] == 100_000
        page_url = first.stdout.split("group-buy page: ")[1].split()[0]
        activity_id = int(page_url.split("activity=")[1])
        page = await api.get(page_url.replace("http://127.0.0.1:8888", "").replace(f"http://127.0.0.1:{config.port}", ""))
        assert page.status == 200 and "LiveChannel" in page.text
        activity = (await api.get(f"/api/mobile/{shop_id}/groups/activities/{activity_id}")).body
        assert activity["tiers"] == [{"team_size": 3, "price_fen": 2900}]
        assert "order alerts:" in first.stdout and "/demo/board.html" in first.stdout
    finally:
        process.terminate()
        process.wait(15)
