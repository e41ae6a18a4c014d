"""The OpenAPI document is good enough for a real client generator: a Python client generated
from the served /api/openapi.json by openapi-python-client drives a whole shopper flow —
register, browse the goods, open a team, pay, read the order — with typed answers."""
from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.builders import ADDRESS, campaign


def _generate(document: dict, where: Path):
    """Generate the client package `mall_client` into `where` and import it."""
    (where / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    (where / "config.yaml").write_text("post_hooks: []\n", encoding="utf-8")  # no formatter run needed
    tool = shutil.which("openapi-python-client") or str(Path(sys.executable).parent / "openapi-python-client")
    done = subprocess.run([tool, "generate", "--path", str(where / "openapi.json"), "--output-path",
                           str(where / "mall_client"), "--meta", "none", "--config", str(where / "config.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # nothing left out
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("mall_client")
    finally:
        sys.path.remove(str(where))


def _unload():
    for name in [n for n in sys.modules if n == "mall_client" or n.startswith("mall_client.")]:
        del sys.modules[name]


async def test_a_generated_client_drives_a_shopper_flow(api, make_shop, tmp_path):
    document = (await api.get("/api/openapi.json")).body
    shop = await make_shop()
    goods, activity = await campaign(api, shop)
    _generate(document, tmp_path)
    try:
        from mall_client import AuthenticatedClient, Client
        from mall_client.api.auth import mobile_auth_register_post
        from mall_client.api.goods import mobile_catalog_goods_get, mobile_catalog_goods_list_get
        from mall_client.api.groups import mobile_groups_team_get, mobile_groups_teams_post
        from mall_client.api.members import merchant_members_balance_post, mobile_addresses_addresses_post
        from mall_client.api.orders import mobile_orders_order_get, mobile_orders_pay_post
        from mall_client.models import (
            AddressBody,
            BalanceBody,
            GoodsDetail,
            GoodsSummaryPage,
            OpenTeamBody,
            Order,
            PayBody,
            PayBodyMethod,
            RegisterBody,
            Session,
            TeamDetail,
            TeamPlaced,
        )

        anonymous = Client(base_url=api.base, raise_on_unexpected_status=True)
        session = await mobile_auth_register_post.asyncio(
            shop.id, client=anonymous, body=RegisterBody(mobile="13800009999", password="secret123", nickname="客户端"))
        assert isinstance(session, Session) and session.member.nickname == "客户端"
        shopper = AuthenticatedClient(base_url=api.base, token=session.token, raise_on_unexpected_status=True)
        merchant = AuthenticatedClient(base_url=api.base, token=shop.owner_token, raise_on_unexpected_status=True)

        listed = await mobile_catalog_goods_list_get.asyncio(shop.id, client=anonymous, q="拼团")
        assert isinstance(listed, GoodsSummaryPage) and [g.id for g in listed.items] == [goods["id"]]
        page = await mobile_catalog_goods_get.asyncio(shop.id, goods["id"], client=anonymous)
        assert isinstance(page, GoodsDetail) and page.price_fen == 5900 and page.channel.channel == f"goods:{goods['id']}"

        topped = await merchant_members_balance_post.asyncio_detailed(
            session.member.id, client=merchant, body=BalanceBody(delta_fen=10000))
        assert topped.status_code == 200
        address = await mobile_addresses_addresses_post.asyncio_detailed(shop.id, client=shopper,
                                                                         body=AddressBody.from_dict(ADDRESS))
        assert address.status_code == 201

        placed = await mobile_groups_teams_post.asyncio(shop.id, client=shopper, body=OpenTeamBody(
            activity_id=activity["id"], team_size=3, address_id=json.loads(address.content)["id"]))
        assert isinstance(placed, TeamPlaced) and placed.order.total_fen == 3900 and placed.order.status_name == "unpaid"
        paid = await mobile_orders_pay_post.asyncio(shop.id, placed.order.id, client=shopper,
                                                    body=PayBody(method=PayBodyMethod.BALANCE))
        assert isinstance(paid, Order) and paid.status_name == "paid" and paid.pay_method == "balance"

        order = await mobile_orders_order_get.asyncio(shop.id, placed.order.id, client=shopper)
        assert isinstance(order, Order) and order.team_id == placed.team.id and order.items[0].goods_id == goods["id"]
        assert order.items[0].quantity == 1 and order.paid_at
        team = await mobile_groups_team_get.asyncio(shop.id, placed.team.id, client=anonymous)
        assert isinstance(team, TeamDetail) and team.status == "open" and team.paid_count == 1
        assert [m.nickname for m in team.members] == ["客户端"]
    finally:
        _unload()
