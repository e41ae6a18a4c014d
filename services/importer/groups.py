"""Group-buy campaigns (拼团) with their tier or ladder prices. A campaign must point at shop
goods (`gid`); its `endtime` is how many hours a team has to fill."""
from __future__ import annotations

import json

from events import transaction
from models.groups import GroupActivity
from services.importer.context import Context
from services.importer.source import clip, fen, moment

COLUMNS = ["uniacid", "merchid", "title", "gid", "groupnum", "groupsprice", "singleprice", "single", "endtime",
           "purchaselimit", "status", "deleted", "share_title", "share_icon", "share_desc", "content", "is_ladder",
           "createtime"]


async def import_campaigns(ctx: Context) -> None:
    rows = ctx.source.rows("ewei_shop_groups_goods", ["id", *COLUMNS], {"uniacid": ctx.uniacid})
    ladders = ctx.source.rows("ewei_shop_groups_ladder", ["goods_id", "ladder_num", "ladder_price"],
                              {"uniacid": ctx.uniacid})
    ctx.report.read("groups_goods", len(rows))

    async def page() -> None:
        for row in rows:
            if int(row["merchid"] or 0) != ctx.merchid:
                ctx.report.skip("groups_goods", row["id"], f"sub-merchant {row['merchid']}'s campaign")
                continue
            goods_id = await ctx.target("goods", row["gid"]) if row.get("gid") else None
            if goods_id is None:
                ctx.report.skip("groups_goods", row["id"], "not linked to imported shop goods (gid)")
                continue
            if int(row.get("is_ladder") or 0):
                tiers = [{"team_size": int(t["ladder_num"]), "price_fen": fen(t["ladder_price"])}
                         for t in ladders if t["goods_id"] == row["id"]]
            else:
                tiers = [{"team_size": int(row["groupnum"] or 0), "price_fen": fen(row["groupsprice"])}]
            tiers = sorted((t for t in tiers if t["team_size"] >= 2), key=lambda t: t["team_size"])
            if not tiers:
                ctx.report.skip("groups_goods", row["id"], "no team of 2 or more")
                continue
            hours = int(row["endtime"] or 0)
            if hours <= 0:
                ctx.report.problem("groups_goods", row["id"], "no team duration: 24 hours")
                hours = 24
            await ctx.upsert("groups_goods", row["id"], GroupActivity, {
                "title": clip(row["title"], 100) or f"#{row['id']}", "goods_id": goods_id, "tiers": json.dumps(tiers),
                "single_price_fen": fen(row["singleprice"]) if int(row.get("single") or 0) else None,
                "duration_seconds": hours * 3600, "purchase_limit": max(0, int(row["purchaselimit"] or 0)),
                "enabled": int(row["status"] or 0) == 1, "deleted": bool(int(row["deleted"] or 0)),
                "share_title": clip(row.get("share_title"), 100), "share_image": clip(row.get("share_icon"), 500),
                "share_desc": clip(row.get("share_desc"), 255), "content": row.get("content") or "",
                **({"created_at": moment(row["createtime"])} if moment(row.get("createtime")) else {})})
    await transaction(page)
