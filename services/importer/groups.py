"""Group-buy (拼团): campaigns with their tier or ladder prices, and the teams with their orders.

A campaign must point at shop goods (`gid`); its `endtime` is how many hours a team has to fill.
Group-buy orders live in their own table (`groups_order`): each is imported as a historic order
of its campaign (read-only, like the shop's orders), and the orders of one `teamid` (the
leader's order id; `heads` marks the leader, `is_team` 0 is a buy-alone order) make a team.
A team's `success` 1 is a team that filled, -1 one that failed; 0 (still forming at the
source) is imported ended, as failed, and reported: its orders cannot move here. Its deadline is
`starttime` + `endtime` hours."""
from __future__ import annotations

import datetime
import hashlib
import json

from events import transaction
from models.base import utcnow
from models.groups import TEAM_FAILED, TEAM_SUCCESS, GroupActivity, GroupMember, GroupTeam
from models.order import CANCELLED, REFUND_FULL, REFUND_NONE, UNPAID, Order
from services.importer.context import Context
from services.importer.orders import Planned, address_json, imported_total, pay_method_of, write_orders
from services.importer.source import clip, fen, moment, unphp

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


# ---------------------------------------------------------------- teams and their orders
# ewei groups_order.pay_type -> the shop order paytype code the imported facts keep
GROUP_PAYTYPES = {"credit": 1, "wechat": 21, "alipay": 22, "cash": 3}
ORDER_COLUMNS = ["uniacid", "openid", "orderno", "groupnum", "paytime", "price", "freight", "status", "pay_type", "goodid",
                 "teamid", "is_team", "heads", "starttime", "endtime", "createtime", "success", "credit", "creditmoney",
                 "address", "discount", "canceltime", "finishtime", "refundtime", "express", "expresscom", "expresssn",
                 "sendtime", "remark", "message", "deleted", "goods_option_id", "specs", "is_ladder", "ladder_id"]


def _transaction_ids(ctx: Context, numbers: list[str]) -> dict[str, str]:
    """微擎 keeps the payment of a plugin order in `core_paylog`: `tag` (PHP-serialized) holds
    WeChat's transaction id."""
    found = {}
    for row in ctx.source.rows("core_paylog", ["tid", "tag", "status"], {"uniacid": ctx.uniacid, "tid": numbers}):
        tag = unphp(row["tag"])
        if isinstance(tag, dict) and tag.get("transaction_id") and int(row["status"] or 0) == 1:
            found[row["tid"]] = str(tag["transaction_id"])
    return found


async def import_group_orders(ctx: Context) -> None:
    """Group-buy orders (`groups_order`, a table of their own in ewei), then their teams."""
    source = ctx.source
    where = {"uniacid": ctx.uniacid}
    campaigns = {row["id"]: row for row in source.rows("ewei_shop_groups_goods", ["id", "gid", "title"], where)}
    teams: dict[int, dict] = {}
    bar = ctx.progress_bar("group-buy orders", source.count("ewei_shop_groups_order", where))
    for rows in source.pages("ewei_shop_groups_order", ORDER_COLUMNS, where):
        ctx.report.read("groups_order", len(rows))
        paid_by = _transaction_ids(ctx, [r["orderno"] for r in rows if r["orderno"]])
        planned = []
        for row in rows:
            member_id = ctx.member_by_openid.get(row["openid"] or "")
            if member_id is None:
                ctx.report.skip("groups_order", row["id"], f"orphan: no member with openid {row['openid']}")
                continue
            campaign = campaigns.get(row["goodid"]) or {}
            activity_id = await ctx.target("groups_goods", row["goodid"])
            goods_id = await ctx.target("goods", campaign.get("gid")) if campaign.get("gid") else None
            if activity_id is None:
                ctx.report.problem("groups_order", row["id"], f"campaign {row['goodid']} not imported: "
                                                              "order kept without it")
            status = int(row["status"] or 0)
            created = moment(row["createtime"]) or utcnow()
            paytype = GROUP_PAYTYPES.get(str(row["pay_type"] or ""), 0)
            price, points_fen, shipping = fen(row["price"]), fen(row.get("creditmoney")), fen(row["freight"])
            total = price - points_fen + shipping
            refunded = status == CANCELLED and bool(row.get("refundtime")) and bool(row.get("paytime"))
            values = {
                "member_id": member_id, "order_no": clip(row["orderno"], 32),
                "status": CANCELLED if status == UNPAID else status,
                "refund_status": REFUND_FULL if refunded else REFUND_NONE, "refunded_fen": total if refunded else 0,
                "goods_total_fen": price, "points_deduction_fen": points_fen, "points_used": int(row.get("credit") or 0),
                "shipping_fee_fen": shipping, "total_fen": total, "activity_id": activity_id,
                "pay_method": pay_method_of(paytype) if row.get("paytime") else "",
                "address": address_json(unphp(row.get("address"))), "remark": clip(row.get("message"), 255),
                "merchant_remark": clip(row.get("remark"), 255),
                "express_company": clip(row.get("expresscom") or row.get("express"), 64),
                "express_no": clip(row.get("expresssn"), 64),
                "cancel_reason": "imported unpaid" if status == UNPAID else "",
                "expires_at": created, "paid_at": moment(row.get("paytime")), "shipped_at": moment(row.get("sendtime")),
                "completed_at": moment(row.get("finishtime")),
                "cancelled_at": (moment(row.get("canceltime")) or created) if status in (CANCELLED, UNPAID) else None,
                "refunded_at": moment(row.get("refundtime")) if refunded else None, "created_at": created,
                "updated_at": utcnow()}
            sku_id = await ctx.target("goods_option", row["goods_option_id"]) if row.get("goods_option_id") else None
            line = {"goods_id": goods_id or 0, "sku_id": sku_id, "title": clip(campaign.get("title"), 200) or "-",
                    "sku_title": clip(row.get("specs"), 200), "price_fen": price, "quantity": 1, "total_fen": price,
                    "paid_fen": price - points_fen}
            facts = {"source_table": "groups_order", "source_id": row["id"], "ordersn": clip(row["orderno"], 64),
                     "paytype": paytype, "source_status": status,
                     "transaction_id": clip(paid_by.get(row["orderno"], ""), 64)}
            ctx.report.add_sum("group-buy orders' totals (fen)", total, 0)
            planned.append(Planned(row["id"], values, [line], facts))
            if int(row.get("is_team") or 0) and row.get("teamid"):
                team = teams.setdefault(int(row["teamid"]), {"orders": []})
                team["orders"].append({"source_id": row["id"], "member_id": member_id, "leader": bool(row["heads"]),
                                       "paid": bool(row.get("paytime")) and status != UNPAID,
                                       "paytime": int(row.get("paytime") or 0)})
                if row["heads"] or "size" not in team:
                    team.update(size=int(row["groupnum"] or 0), start=int(row["starttime"] or 0),
                                hours=int(row["endtime"] or 0), success=int(row["success"] or 0),
                                activity_id=activity_id, price_fen=price + fen(row.get("discount")),
                                created=created)
        ids = await write_orders(ctx, "groups_order", planned)
        for team in teams.values():
            for entry in team["orders"]:
                if entry["source_id"] in ids:
                    entry["order_id"] = ids[entry["source_id"]]
        bar.advance(len(rows))
    bar.close()
    ctx.report.add_sum("group-buy orders' totals (fen)", 0, await imported_total(ctx, "groups_order"))
    await _import_teams(ctx, teams)


def _team_values(ctx: Context, team_sid: int, team: dict) -> dict | None:
    members = [e for e in team["orders"] if "order_id" in e]
    if not members or team.get("activity_id") is None:
        ctx.report.skip("groups_team", team_sid, "its campaign or every order of it was not imported")
        return None
    leader = next((e for e in members if e["leader"]), members[0])
    size = max(team.get("size") or 0, 2)
    start = moment(team.get("start")) or team["created"]
    hours = team.get("hours") or 24  # endtime: how many hours the team had, from starttime
    expires = start + datetime.timedelta(hours=hours)
    paid = min(sum(1 for e in members if e["paid"]), size)
    success = team.get("success", 0)
    if success == 1:
        status, closed_by = TEAM_SUCCESS, ""
    elif success == -1:
        status, closed_by = TEAM_FAILED, "expiry"
    else:
        status, closed_by = TEAM_FAILED, "import"
        ctx.report.problem("groups_team", team_sid, "still forming at the source: imported ended (failed); its paid "
                                                    "orders are refunded or completed in the old shop")
    last_paid = max((e["paytime"] for e in members if e["paid"]), default=0)
    return {"activity_id": team["activity_id"], "leader_member_id": leader["member_id"], "team_size": size,
            "price_fen": team.get("price_fen") or 0, "status": status, "seats_taken": paid, "paid_count": paid,
            "expires_at": expires, "succeeded_at": (moment(last_paid) or expires) if status == TEAM_SUCCESS else None,
            "failed_at": expires if status == TEAM_FAILED else None, "closed_by": closed_by, "created_at": start}


async def _import_teams(ctx: Context, teams: dict[int, dict]) -> None:
    """Teams in pages of 1000: the team, its members (one per member: a source that seated someone
    twice keeps the first), and their orders pointed at it."""
    items = sorted(teams.items())
    ctx.report.read("groups_team", len(items))
    for start in range(0, len(items), 1000):
        chunk = items[start:start + 1000]
        known = await ctx.page_map("groups_team", [sid for sid, _ in chunk])
        planned = []
        for team_sid, team in chunk:
            values = _team_values(ctx, team_sid, team)
            if values is None:
                continue
            seated, members = set(), []
            for entry in sorted((e for e in team["orders"] if "order_id" in e), key=lambda e: (not e["leader"],
                                                                                               e["source_id"])):
                if entry["member_id"] in seated:
                    ctx.report.problem("groups_team", team_sid, f"member of order #{entry['source_id']} is in it twice: "
                                                                "that order stays outside the team")
                    continue
                seated.add(entry["member_id"])
                members.append(entry)
            fp = hashlib.sha1(json.dumps([values, members], default=str, sort_keys=True).encode()).hexdigest()
            mapped = known.get(str(team_sid))
            if mapped is not None and mapped[1] == fp:
                ctx.report.tables["groups_team"].unchanged += 1
                continue
            planned.append((team_sid, values, members, fp, mapped[0] if mapped else None))

        async def page(planned=planned) -> tuple[int, int]:
            fresh, moved = {}, {}
            for team_sid, values, members, fp, team_id in planned:
                if team_id is None:
                    team_id = (await GroupTeam.aio_create(shop_id=ctx.shop_id, **values)).id
                    fresh[str(team_sid)] = (team_id, fp)
                else:
                    await GroupTeam.update(**values).where((GroupTeam.id == team_id)
                                                           & (GroupTeam.shop_id == ctx.shop_id)).aio_execute()
                    await GroupMember.delete().where(GroupMember.team_id == team_id).aio_execute()
                    moved[str(team_sid)] = (team_id, fp)
                await GroupMember.insert_many([{"shop_id": ctx.shop_id, "team_id": team_id, "member_id": e["member_id"],
                                                "order_id": e["order_id"], "is_leader": e["leader"],
                                                "created_at": values["created_at"]} for e in members]).aio_execute()
                await Order.update(team_id=team_id).where((Order.shop_id == ctx.shop_id) & Order.id.in_(
                    [e["order_id"] for e in members])).aio_execute()
            await ctx.remember_page("groups_team", fresh, moved)
            return len(fresh), len(moved)
        created, updated = await transaction(page)
        ctx.report.tables["groups_team"].created += created
        ctx.report.tables["groups_team"].updated += updated
