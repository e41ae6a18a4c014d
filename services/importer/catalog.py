"""Categories, and goods with their spec groups and options (SKUs).

ewei keeps three category levels (pcate/ccate/tcate); ours has two, so a third-level category
becomes a second-level one under its grandparent. Stock -1, or totalcnf 2 ("never reduce"), is
unlimited stock: we give it UNLIMITED_STOCK units and say so."""
from __future__ import annotations

import json

from events import transaction
from models.base import utcnow
from models.goods import OFF_SALE, ON_SALE, Category, Goods, Sku
from services.importer.context import Context
from services.importer.source import clip, fen, moment, php_list, unphp

UNLIMITED_STOCK = 999_999

GOODS_COLUMNS = ["uniacid", "merchid", "pcate", "ccate", "tcate", "status", "displayorder", "title", "subtitle",
                 "thumb", "thumb_url", "content", "marketprice", "productprice", "total", "totalcnf", "sales",
                 "salesreal", "weight", "hasoption", "deleted", "createtime", "usermaxbuy", "type"]


async def import_categories(ctx: Context) -> None:
    rows = ctx.source.rows("ewei_shop_category", ["id", "name", "parentid", "displayorder", "enabled"],
                           {"uniacid": ctx.uniacid})
    ctx.report.read("category", len(rows))
    by_id = {row["id"]: row for row in rows}

    def top_of(row: dict) -> int | None:
        seen = set()
        parent = row["parentid"] or 0
        while parent and parent in by_id and by_id[parent]["parentid"] and parent not in seen:
            seen.add(parent)
            parent = by_id[parent]["parentid"]
        return parent or None

    ordered = sorted(rows, key=lambda r: (bool(r["parentid"]), r["id"]))

    async def page() -> None:
        for row in ordered:
            parent_src = top_of(row)
            parent_id = None
            if parent_src is not None:
                parent_id = await ctx.target("category", parent_src)
                if parent_id is None:
                    ctx.report.skip("category", row["id"], f"parent category {row['parentid']} not in the source")
                    continue
                if parent_src != row["parentid"]:
                    ctx.report.problem("category", row["id"], "third-level category placed under its top-level one")
            await ctx.upsert("category", row["id"], Category, {
                "parent_id": parent_id, "name": clip(row["name"], 64) or f"#{row['id']}",
                "sort": int(row["displayorder"] or 0), "enabled": bool(row["enabled"])})
    await transaction(page)


def _images(row: dict) -> list[str]:
    images = [row["thumb"]] if row.get("thumb") else []
    extra = unphp(row.get("thumb_url"))
    for url in php_list(extra) if extra is not None else []:
        if isinstance(url, str) and url and url not in images:
            images.append(url)
    return images


def _stock(ctx: Context, table: str, source_id: int, total, totalcnf) -> int:
    stock = int(total or 0)
    if stock < 0 or int(totalcnf or 0) == 2:
        ctx.report.problem(table, source_id, f"unlimited stock (total {stock}, totalcnf {totalcnf}): "
                                             f"given {UNLIMITED_STOCK} units")
        return UNLIMITED_STOCK
    return stock


async def import_goods(ctx: Context) -> None:
    source = ctx.source
    where = {"uniacid": ctx.uniacid}
    bar = ctx.progress_bar("goods", source.count("ewei_shop_goods", where))
    taken_at_payment = 0
    for rows in source.pages("ewei_shop_goods", GOODS_COLUMNS, where):
        ctx.report.read("goods", len(rows))
        ids = [row["id"] for row in rows]
        specs = source.rows("ewei_shop_goods_spec", ["id", "goodsid", "title", "content", "displayorder"],
                            {"goodsid": ids, "uniacid": ctx.uniacid})
        items = source.rows("ewei_shop_goods_spec_item", ["id", "specid", "title", "displayorder"],
                            {"specid": [s["id"] for s in specs], "uniacid": ctx.uniacid})
        options = source.rows("ewei_shop_goods_option", ["id", "goodsid", "title", "marketprice", "stock", "specs",
                                                         "displayorder", "goodssn"], {"goodsid": ids, "uniacid": ctx.uniacid})
        taken_at_payment += sum(1 for row in rows if int(row["totalcnf"] or 0) == 1)

        async def page(rows=rows, specs=specs, items=items, options=options) -> None:
            for row in rows:
                await _one_goods(ctx, row, [s for s in specs if s["goodsid"] == row["id"]], items,
                                 [o for o in options if o["goodsid"] == row["id"]])
        await transaction(page)
        bar.advance(len(rows))
    bar.close()
    if taken_at_payment:
        ctx.report.notes.append(f"{taken_at_payment} goods took stock at payment (totalcnf 1); "
                                "here stock is taken when the order is placed")


async def _one_goods(ctx: Context, row: dict, specs: list[dict], items: list[dict], options: list[dict]) -> None:
    if int(row["merchid"] or 0) != ctx.merchid:
        ctx.report.skip("goods", row["id"], f"sub-merchant {row['merchid']}'s goods (import it with --merchid)")
        return
    category_id = None
    for column in ("ccate", "pcate"):
        if row[column]:
            category_id = await ctx.target("category", row[column])
            if category_id is not None:
                break
            ctx.report.problem("goods", row["id"], f"category {row[column]} not found: left without it")
    spec_groups, item_title = [], {}
    for spec in sorted(specs, key=lambda s: (s["displayorder"] or 0, s["id"])):
        own = sorted((i for i in items if i["specid"] == spec["id"]), key=lambda i: (i["displayorder"] or 0, i["id"]))
        for item in own:
            item_title[str(item["id"])] = clip(item["title"], 64)
        spec_groups.append({"name": clip(spec["title"], 32), "values": [item_title[str(i["id"])] for i in own]})
    skus = []
    if int(row["hasoption"] or 0) and options:
        for option in sorted(options, key=lambda o: (o["displayorder"] or 0, o["id"])):
            values = [item_title.get(part, "") for part in str(option["specs"] or "").split("_") if part]
            if len(values) != len(spec_groups) or "" in values:
                values = []  # options whose spec items are gone keep their title only
            skus.append((option, values))
    price_fen = fen(row["marketprice"])
    stock = _stock(ctx, "goods", row["id"], row["total"], row["totalcnf"])
    sku_stock = {option["id"]: _stock(ctx, "goods_option", option["id"], option["stock"], row["totalcnf"])
                 for option, _ in skus}
    if skus:
        price_fen = min(fen(option["marketprice"]) for option, _ in skus)
        stock = min(sum(sku_stock.values()), UNLIMITED_STOCK)
    now = utcnow()
    goods_id, _ = await ctx.upsert("goods", row["id"], Goods, {
        "category_id": category_id, "title": clip(row["title"], 200) or f"#{row['id']}",
        "subtitle": clip(row.get("subtitle"), 255), "images": json.dumps(_images(row)),
        "description": row.get("content") or "", "price_fen": price_fen, "market_price_fen": fen(row["productprice"]),
        "stock": stock, "sales": int(row["sales"] or 0) + int(row.get("salesreal") or 0),
        "weight_g": int(fen(row["weight"]) // 100), "status": ON_SALE if int(row["status"] or 0) == 1 else OFF_SALE,
        "sort": int(row["displayorder"] or 0), "is_virtual": int(row.get("type") or 1) in (2, 3),
        "purchase_limit": max(0, int(row.get("usermaxbuy") or 0)),
        "specs": json.dumps(spec_groups if skus and all(v for _, v in skus) else [], ensure_ascii=False),
        "has_skus": bool(skus), "deleted_at": now if int(row["deleted"] or 0) else None,
        "created_at": moment(row["createtime"]) or now, "updated_at": now})
    for order, (option, values) in enumerate(skus):
        await ctx.upsert("goods_option", option["id"], Sku, {
            "goods_id": goods_id, "title": clip(option["title"], 200) or " / ".join(values) or f"#{option['id']}",
            "spec_values": json.dumps(values, ensure_ascii=False), "price_fen": fen(option["marketprice"]),
            "stock": sku_stock[option["id"]],
            "code": clip(option.get("goodssn"), 64), "sort": order})
