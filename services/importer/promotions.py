"""Coupons (购物券 only: recharge coupons and cash-back coupons have nothing to map to) and the
coupons members hold unused. A coupon valid N days from claim keeps N days; a fixed window keeps it.
A template's claimed and used counts are the source's (every coupon it gave out, used or not), so
what is left to claim here is what was left there."""
from __future__ import annotations

import datetime
import json
from decimal import Decimal

from events import transaction
from lib.errors import DomainError
from models.sale import (
    COUPON_UNUSED,
    KIND_AMOUNT,
    KIND_PERCENT,
    SCOPE_ALL,
    SCOPE_CATEGORIES,
    SCOPE_GOODS,
    CouponTemplate,
    MemberCoupon,
)
from services import sysset
from services.importer.context import Context
from services.importer.source import clip, fen, moment, php_list, unphp

COUPON_COLUMNS = ["uniacid", "merchid", "couponname", "coupontype", "backtype", "deduct", "discount", "enough",
                  "timelimit", "timedays", "timestart", "timeend", "total", "getmax", "gettype", "status",
                  "limitgoodtype", "limitgoodids", "limitgoodcatetype", "limitgoodcateids", "createtime"]


async def _ids(ctx: Context, table: str, raw) -> list[int]:
    found = []
    for part in str(raw or "").split(","):
        if part.strip().isdigit():
            target = await ctx.target(table, int(part))
            if target is not None:
                found.append(target)
    return found


async def import_coupons(ctx: Context) -> None:
    rows = ctx.source.rows("ewei_shop_coupon", ["id", *COUPON_COLUMNS], {"uniacid": ctx.uniacid})
    ctx.report.read("coupon", len(rows))

    async def page() -> None:
        for row in rows:
            if int(row["merchid"] or 0) != ctx.merchid:
                ctx.report.skip("coupon", row["id"], f"sub-merchant {row['merchid']}'s coupon")
                continue
            if int(row["coupontype"] or 0) != 0:
                ctx.report.skip("coupon", row["id"], "a recharge coupon: nothing here to map it to")
                continue
            backtype = int(row["backtype"] or 0)
            if backtype == 0:
                kind, amount, percent = KIND_AMOUNT, fen(row["deduct"]), 0
            elif backtype == 1:  # discount 9 = pay 90%
                kind, amount = KIND_PERCENT, 0
                percent = 100 - int(Decimal(str(row["discount"] or 10)) * 10)
                if not 1 <= percent <= 99:
                    ctx.report.skip("coupon", row["id"], f"discount {row['discount']} is no discount")
                    continue
            else:
                ctx.report.skip("coupon", row["id"], "a cash-back (返利) coupon: nothing here to map it to")
                continue
            scope, scope_ids = SCOPE_ALL, []
            if int(row.get("limitgoodtype") or 0):
                scope, scope_ids = SCOPE_GOODS, await _ids(ctx, "goods", row["limitgoodids"])
            elif int(row.get("limitgoodcatetype") or 0):
                scope, scope_ids = SCOPE_CATEGORIES, await _ids(ctx, "category", row["limitgoodcateids"])
            fixed = int(row["timelimit"] or 0) == 1
            await ctx.upsert("coupon", row["id"], CouponTemplate, {
                "name": clip(row["couponname"], 100) or f"#{row['id']}", "kind": kind, "amount_fen": amount,
                "percent_off": percent, "min_spend_fen": fen(row["enough"]), "scope": scope,
                "scope_ids": json.dumps(scope_ids), "valid_from": moment(row["timestart"]) if fixed else None,
                "valid_until": moment(row["timeend"]) if fixed else None,
                "valid_days": 0 if fixed else max(0, int(row["timedays"] or 0)),
                "total_quantity": max(0, int(row["total"] or 0)), "per_member_limit": max(0, int(row["getmax"] or 0)),
                "claimable": int(row.get("gettype") or 0) == 1, "enabled": int(row.get("status") or 0) != 0})
    await transaction(page)


async def import_member_coupons(ctx: Context) -> None:
    columns = ["uniacid", "openid", "couponid", "used", "gettime", "merchid"]
    templates = {row["id"]: row for row in ctx.source.rows("ewei_shop_coupon", ["id", "timelimit", "timedays",
                                                                                 "timestart", "timeend"],
                                                           {"uniacid": ctx.uniacid})}
    for rows in ctx.source.pages("ewei_shop_coupon_data", columns, {"uniacid": ctx.uniacid}):
        ctx.report.read("coupon_data", len(rows))

        async def page(rows=rows) -> None:
            for row in rows:
                if int(row["used"] or 0):
                    ctx.report.skip("coupon_data", row["id"], "used: history only, not imported")
                    continue
                if await ctx.target("coupon_data", row["id"]) is not None:
                    # already here, and perhaps used here since: a re-run never hands it back unused
                    ctx.report.tables["coupon_data"].unchanged += 1
                    continue
                template_id = await ctx.target("coupon", row["couponid"])
                member_id = ctx.member_by_openid.get(row["openid"] or "")
                if template_id is None or member_id is None:
                    ctx.report.skip("coupon_data", row["id"], "coupon not imported" if template_id is None
                                    else f"orphan: no member with openid {row['openid']}")
                    continue
                template = templates.get(row["couponid"]) or {}
                claimed = moment(row["gettime"])
                if int(template.get("timelimit") or 0) == 1:
                    valid_from, valid_until = moment(template["timestart"]), moment(template["timeend"])
                else:
                    days = int(template.get("timedays") or 0)
                    valid_from = claimed
                    valid_until = claimed + datetime.timedelta(days=days) if claimed and days else None
                values = {"template_id": template_id, "member_id": member_id, "status": COUPON_UNUSED,
                          "valid_from": valid_from, "valid_until": valid_until, "source": "issue"}
                if claimed:
                    values["claimed_at"] = claimed
                await ctx.upsert("coupon_data", row["id"], MemberCoupon, values)
        await transaction(page)
    await _claimed_counts(ctx)


async def _claimed_counts(ctx: Context) -> None:
    if not ctx.source.has("ewei_shop_coupon_data"):
        return
    given = ctx.source.query(f"SELECT couponid, COUNT(*) AS given, SUM(used > 0) AS used "
                             f"FROM `{ctx.source.prefix}ewei_shop_coupon_data` WHERE uniacid = %s GROUP BY couponid",
                             [ctx.uniacid])

    async def page() -> None:
        for row in given:
            template_id = await ctx.target("coupon", row["couponid"])
            if template_id is None:
                continue
            total = await CouponTemplate.select(CouponTemplate.total_quantity).where(
                CouponTemplate.id == template_id).aio_scalar()
            claimed = int(row["given"] or 0)
            if total and claimed > total:
                ctx.report.problem("coupon", row["couponid"], f"{claimed} given out of {total}: counted as all claimed")
                claimed = total
            await CouponTemplate.update(claimed_count=claimed, used_count=int(row["used"] or 0)).where(
                (CouponTemplate.id == template_id) & (CouponTemplate.shop_id == ctx.shop_id)).aio_execute()
    await transaction(page)


async def import_sale_rules(ctx: Context) -> None:
    """The shop-wide promotions of ewei's sale plugin (`sysset.plugins`, PHP-serialized, key
    `sale`): 满减 tiers (`enoughmoney`/`enoughdeduct` and the `enoughs` list), 满额包邮
    (`enoughfree` with `enoughorder`; -1 or 0: every order ships free) and 充值满送 (`recharges`,
    itself serialized again; a percentage bonus has no counterpart here). They replace this shop's
    three rules; everything else in its settings stays."""
    rows = ctx.source.rows("ewei_shop_sysset", ["id", "plugins"], {"uniacid": ctx.uniacid})
    plugins = unphp(rows[0]["plugins"]) if rows else None
    sale = plugins.get("sale") if isinstance(plugins, dict) else None
    if not isinstance(sale, dict):
        return
    ctx.report.read("sysset.sale")
    tiers = []
    if fen(sale.get("enoughmoney")) > 0 and fen(sale.get("enoughdeduct")) > 0:
        tiers.append((fen(sale["enoughmoney"]), fen(sale["enoughdeduct"])))
    for entry in php_list(sale.get("enoughs")):
        if isinstance(entry, dict) and fen(entry.get("enough")) > 0 and fen(entry.get("give")) > 0:
            tiers.append((fen(entry["enough"]), fen(entry["give"])))
    reduction = []
    for min_fen, off_fen in sorted(set(tiers))[:10]:
        if off_fen >= min_fen:
            ctx.report.problem("sysset.sale", "enoughs", f"spend {min_fen} fen, {off_fen} off: not below the spend")
            continue
        reduction.append({"min_fen": min_fen, "off_fen": off_fen})
    free_min = 0
    if sale.get("enoughfree"):
        free_min = fen(sale.get("enoughorder"))
        if free_min <= 0:
            free_min = 1
            ctx.report.notes.append("free shipping on every order (enoughorder -1): free from 1 fen")
    recharges = sale.get("recharges")
    recharges = unphp(recharges) if isinstance(recharges, str) else recharges
    bonus = []
    for entry in php_list(recharges):
        if not isinstance(entry, dict) or fen(entry.get("enough")) <= 0 or not str(entry.get("give") or "").strip():
            continue
        if "%" in str(entry["give"]):
            ctx.report.problem("sysset.sale", "recharges", f"recharge {entry['enough']} gives {entry['give']}: "
                                                           "a percentage bonus has no counterpart here")
            continue
        if fen(entry["give"]) > 0:
            bonus.append({"min_fen": fen(entry["enough"]), "bonus_fen": fen(entry["give"])})
    rules = {"full_reduction": reduction, "free_shipping_min_fen": free_min,
             "recharge_bonus": sorted(bonus, key=lambda b: b["min_fen"])[:10]}
    try:
        await sysset.update_settings(ctx.shop_id, {"sale": rules})
    except DomainError as exc:
        ctx.report.skip("sysset.sale", rows[0]["id"], f"not valid here: {exc.details or exc.message}")
        return
    ctx.report.done("sysset.sale", created=False)
