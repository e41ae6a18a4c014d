"""`server.py seed-demo`: a demo shop with accounts, idempotent. Grows with each module."""
from __future__ import annotations

from models.member import Member
from models.shop import Shop
from models.user import Staff
from services import member as member_service, shop as shop_service

DEMO_OWNER = ("demo_owner", "demo123456")
DEMO_MEMBERS = [("13800000001", "demo123456", "小明"), ("13800000002", "demo123456", "小红")]


async def seed_demo(config) -> dict:
    owner = await Staff.aio_get_or_none(Staff.username == DEMO_OWNER[0])
    if owner is None:
        created = await shop_service.create_shop("Demo Shop 演示商城", *DEMO_OWNER)
        shop_id = created["id"]
    else:
        shop_id = owner.shop_id
    shop = await Shop.aio_get(Shop.id == shop_id)
    for mobile, password, nickname in DEMO_MEMBERS:
        if not await Member.aio_get_or_none((Member.shop_id == shop_id) & (Member.mobile == mobile)):
            await member_service.register(shop_id, mobile, password, nickname)
    base = f"http://127.0.0.1:{config.port}"
    lines = [
        f"demo shop: {shop.name} (id {shop_id})",
        f"merchant login: POST {base}/api/merchant/auth/login  username={DEMO_OWNER[0]} password={DEMO_OWNER[1]}",
        *(f"member login:   POST {base}/api/mobile/{shop_id}/auth/login  mobile={m} password={p}"
          for m, p, _ in DEMO_MEMBERS),
        f"demo page: {base}/demo/",
    ]
    return {"shop_id": shop_id, "lines": lines}
