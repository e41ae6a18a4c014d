"""`server.py seed-demo`: a demo shop with accounts, idempotent. Grows with each module."""
from __future__ import annotations

from models.finance import BALANCE
from models.goods import Goods
from models.groups import GroupActivity
from models.member import Member
from models.shop import Shop
from models.user import Staff
from services import adv, finance, groups, sysset
from services import goods as goods_service
from services import member as member_service
from services import shop as shop_service

DEMO_OWNER = ("demo_owner", "demo123456")
DEMO_MEMBERS = [("13800000001", "demo123456", "小明"), ("13800000002", "demo123456", "小红"),
                ("13800000003", "demo123456", "小刚"), ("13800000004", "demo123456", "小美")]
DEMO_BALANCE_FEN = 100_000  # each demo member can pay for a few teams with balance


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
            registered = await member_service.register(shop_id, mobile, password, nickname)
            await finance.change_credit(shop_id, registered["member"]["id"], BALANCE, DEMO_BALANCE_FEN, "adjust",
                                        remark="demo balance")
    if not await Goods.select().where(Goods.shop_id == shop_id).aio_exists():
        await _seed_catalog(shop_id)
    activity = await GroupActivity.aio_get_or_none(GroupActivity.shop_id == shop_id)
    if activity is None:
        goods = await Goods.select().where((Goods.shop_id == shop_id) & (Goods.has_skus == False)).order_by(  # noqa: E712
            Goods.id).aio_first()
        activity_id = (await groups.create_activity(shop_id, {
            "title": "三人拼团 · 西湖龙井", "goods_id": goods.id, "tiers": [{"team_size": 3, "price_fen": 2900}],
            "duration_seconds": 24 * 3600, "single_price_fen": goods.price_fen,
            "share_title": "一起拼, 只要 ¥29", "service_contact": "400-000-0000"}))["id"]
    else:
        activity_id = activity.id
    base = f"http://127.0.0.1:{config.port}"
    lines = [
        f"demo shop: {shop.name} (id {shop_id})",
        f"merchant login: POST {base}/api/merchant/auth/login  username={DEMO_OWNER[0]} password={DEMO_OWNER[1]}",
        *(f"member login:   POST {base}/api/mobile/{shop_id}/auth/login  mobile={m} password={p}"
          for m, p, _ in DEMO_MEMBERS),
        f"browse goods:   GET  {base}/api/mobile/{shop_id}/goods  (categories, banners, settings beside it)",
        f"group-buy page: {base}/demo/team.html?shop={shop_id}&activity={activity_id}"
        "  (open it in two tabs, log in as two members, open a team in one and join from the other)",
        f"order alerts:   {base}/demo/board.html  (sign in as {DEMO_OWNER[0]})",
        f"API docs:       {base}/api/docs",
    ]
    return {"shop_id": shop_id, "activity_id": activity_id, "lines": lines}


IMG = "https://img.example.com/demo"
CATALOG = {
    ("茶饮 Drinks", ("绿茶 Green tea", "咖啡 Coffee")): [
        ("西湖龙井 Longjing", 6800, None), ("碧螺春 Biluochun", 5800, None), ("挂耳咖啡 Drip coffee", 3900, None),
        ("冷萃咖啡 Cold brew", 2500, None), ("茉莉花茶 Jasmine tea", 3200, None),
    ],
    ("服饰 Clothing", ("T恤 T-shirts", "卫衣 Hoodies")): [
        ("纯棉T恤 Cotton tee", 9900, [("颜色", ["白", "黑"]), ("尺码", ["M", "L", "XL"])]),
        ("印花T恤 Print tee", 12900, [("颜色", ["红", "蓝"]), ("尺码", ["M", "L"])]),
        ("连帽卫衣 Hoodie", 19900, [("颜色", ["灰", "黑"]), ("尺码", ["M", "L", "XL"])]),
        ("圆领卫衣 Sweatshirt", 15900, [("尺码", ["M", "L"])]),
    ],
    ("零食 Snacks", ("坚果 Nuts", "糕点 Pastry")): [
        ("每日坚果 Daily nuts", 4990, None), ("夏威夷果 Macadamia", 3990, None), ("腰果 Cashews", 2990, None),
        ("凤梨酥 Pineapple cake", 3600, None), ("蛋黄酥 Egg yolk pastry", 4200, None), ("绿豆糕 Mung bean cake", 1990, None),
        ("桃酥 Walnut cookie", 1590, None), ("牛轧糖 Nougat", 2890, None), ("芝麻糖 Sesame candy", 1290, None),
        ("巴旦木 Almonds", 3390, None), ("开心果 Pistachios", 4590, None),
    ],
}


async def _seed_catalog(shop_id: int) -> None:
    import itertools

    for (top_name, child_names), items in CATALOG.items():
        top = await goods_service.create_category(shop_id, {"name": top_name, "parent_id": None, "sort": 0,
                                                            "enabled": True})
        children = [await goods_service.create_category(shop_id, {"name": name, "parent_id": top["id"],
                                                                  "sort": 0, "enabled": True})
                    for name in child_names]
        for i, (title, price, specs) in enumerate(items):
            fields = {"title": title, "price_fen": price, "stock": 100, "status": "on_sale",
                      "category_id": children[i % len(children)]["id"], "market_price_fen": price * 3 // 2,
                      "images": [f"{IMG}/{shop_id}/{len(title)}-{i}.jpg"], "description": f"<p>{title}</p>"}
            if specs:
                fields["specs"] = [{"name": n, "values": v} for n, v in specs]
                fields["skus"] = [{"spec_values": list(combo), "price_fen": price + 1000 * j, "stock": 50}
                                  for j, combo in enumerate(itertools.product(*(v for _, v in specs)))]
            await goods_service.create_goods(shop_id, fields, staff_id=None)
    for sort, title in enumerate(["新品上市 New arrivals", "拼团特惠 Group deals", "会员日 Member day"]):
        await adv.create_banner(shop_id, {"title": title, "image": f"{IMG}/banner-{sort}.jpg",
                                          "link": f"/pages/goods/list?tab={sort}", "sort": 10 - sort})
    await sysset.update_settings(shop_id, {"shop": {"notice": "欢迎光临演示商城 Welcome to the demo shop",
                                                    "service_phone": "400-000-0000"}})
