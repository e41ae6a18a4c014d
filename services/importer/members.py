"""Member levels, members, addresses, and opening balances and points.

A member is an `ewei_shop_member` row, or only a 微擎 fan (`mc_mapping_fans` with its
`mc_members` account) who never opened the shop. Openids carry the app they came from
(`sns_wa_` mini-program, `sns_wx_` open-platform app, `sns_qq_` QQ; bare: the official
account); unionid comes from the fan row. Balance (credit2) and points (credit1) are read from
ONE place per member: `mc_members` when the member is mapped to a 微擎 uid that exists, else
`ewei_shop_member` — never the sum. Passwords are not imported: members log in with WeChat."""
from __future__ import annotations

import json
from decimal import Decimal

from events import transaction
from models.finance import BALANCE, POINTS, CreditLedger
from models.member import Address, Member, MemberLevel
from services.importer.context import Context
from services.importer.source import clip, fen, moment, split_openid, whole

MEMBER_COLUMNS = ["uniacid", "uid", "openid", "openid_wa", "mobile", "nickname", "avatar", "realname", "gender",
                  "level", "credit1", "credit2", "createtime", "isblack", "agentid", "isagent", "status"]


async def import_levels(ctx: Context) -> None:
    rows = ctx.source.rows("ewei_shop_member_level", ["id", "levelname", "ordermoney", "discount", "enabled"],
                           {"uniacid": ctx.uniacid})
    ctx.report.read("member_level", len(rows))

    async def page() -> None:
        for row in rows:
            discount = Decimal(str(row["discount"] or 0))  # 9.5 = pay 95%; 0 or 10 = no discount
            percent = int(discount * 10) if 0 < discount < 10 else 100
            await ctx.upsert("member_level", row["id"], MemberLevel, {
                "name": clip(row["levelname"], 32) or f"#{row['id']}", "threshold_fen": fen(row["ordermoney"]),
                "discount_percent": percent})
    await transaction(page)


def _identity(raw_openid: str | None, openid_wa: str | None, unionid: str | None) -> dict:
    kind, bare = split_openid(raw_openid)
    mini = split_openid(openid_wa)[1] if openid_wa else ""
    return {"oa_openid": bare if kind == "oa" else None, "openid": (bare if kind == "wa" else mini) or None,
            "unionid": unionid or None}


async def _existing_by_identity(ctx: Context, ident: dict) -> Member | None:
    """A member who already logged in here (WeChat) is the same person: linked, not duplicated."""
    for column in ("openid", "oa_openid", "unionid"):
        if ident.get(column):
            found = await Member.aio_get_or_none((Member.shop_id == ctx.shop_id)
                                                 & (getattr(Member, column) == ident[column]))
            if found is not None:
                return found
    return None


async def _free(ctx: Context, member_id: int | None, column: str, value: str | None) -> str | None:
    """`value` unless another member here already has it in a unique column."""
    if not value:
        return None
    other = await Member.select(Member.id).where((Member.shop_id == ctx.shop_id) & (getattr(Member, column) == value)
                                                 & (Member.id != (member_id or 0))).aio_first()
    return None if other else value


async def _save_member(ctx: Context, table: str, source_id, values: dict, ident: dict,
                       balance_fen: int, points: int) -> int:
    existing_id = await ctx.target(table, source_id)
    if existing_id is None:
        found = await _existing_by_identity(ctx, ident)
        existing_id = found.id if found else None
    for column in ("openid", "oa_openid", "mobile"):
        wanted = ident.get(column) if column != "mobile" else values.get("mobile")
        free = await _free(ctx, existing_id, column, wanted)
        if wanted and not free:
            ctx.report.problem(table, source_id, f"{column} {wanted} already belongs to another member: left empty")
        if column == "mobile":
            values["mobile"] = free
        else:
            ident[column] = free
    values = {**values, **{k: v for k, v in ident.items() if v}}
    if existing_id is None:
        member = await Member.aio_create(shop_id=ctx.shop_id, **values)
        member_id = member.id
        ctx.report.done(table, created=True)
    else:
        await Member.update(**values).where((Member.id == existing_id) & (Member.shop_id == ctx.shop_id)).aio_execute()
        member_id = existing_id
        ctx.report.done(table, created=False)
    # opening balances: only what changed at the source since the last run is booked
    last = json.loads(await ctx.value(table, source_id) or "{}") if await ctx.target(table, source_id) else {}
    for currency, column, amount in ((BALANCE, "balance_fen", balance_fen), (POINTS, "points", points)):
        delta = amount - int(last.get(currency, 0))
        if delta:
            current = await Member.select(getattr(Member, column)).where(Member.id == member_id).aio_scalar()
            await Member.update({column: getattr(Member, column) + delta}).where(Member.id == member_id).aio_execute()
            await CreditLedger.insert(shop_id=ctx.shop_id, member_id=member_id, currency=currency,
                                      type="import" if not last else "import_adjust", amount=delta,
                                      balance_after=current + delta, reference=f"ewei:{table}:{source_id}",
                                      remark="opening balance from ewei_shopv2").aio_execute()
    await ctx.remember(table, source_id, member_id, json.dumps({BALANCE: balance_fen, POINTS: points}))
    return member_id


def _points(ctx: Context, table: str, source_id, value) -> int:
    points = whole(value)
    if Decimal(str(value or 0)) != points:
        ctx.report.problem(table, source_id, f"points {value} are not whole: {points} imported")
    return points


async def import_members(ctx: Context) -> None:
    source = ctx.source
    where = {"uniacid": ctx.uniacid}
    bar = ctx.progress_bar("members", source.count("ewei_shop_member", where))
    for rows in source.pages("ewei_shop_member", MEMBER_COLUMNS, where):
        ctx.report.read("member", len(rows))
        openids = [row["openid"] for row in rows if row["openid"]]
        fans = {f["openid"]: f for f in source.rows("mc_mapping_fans", ["openid", "uid", "unionid"],
                                                    {"uniacid": ctx.uniacid, "openid": openids})}
        uids = {row["uid"] for row in rows if row["uid"]} | {f["uid"] for f in fans.values() if f["uid"]}
        accounts = {a["uid"]: a for a in source.rows("mc_members", ["uid", "credit1", "credit2", "mobile"],
                                                     {"uid": sorted(uids)})}

        async def page(rows=rows, fans=fans, accounts=accounts) -> None:
            for row in rows:
                await _one_member(ctx, row, fans.get(row["openid"]), accounts)
        await transaction(page)
        bar.advance(len(rows))
    bar.close()


async def _one_member(ctx: Context, row: dict, fan: dict | None, accounts: dict) -> None:
    if row.get("agentid"):
        ctx.agent_of[row["id"]] = int(row["agentid"])
    if not row["openid"] and not row["mobile"]:
        ctx.report.skip("member", row["id"], "neither openid nor mobile: nobody could log in as it")
        return
    uid = row["uid"] or (fan or {}).get("uid") or 0
    account = accounts.get(uid) if uid else None
    holder = account if account else row
    balance_fen = fen(holder["credit2"])
    points = _points(ctx, "member", row["id"], holder["credit1"])
    ctx.report.add_sum("members' balance (fen)", balance_fen, 0)
    ctx.report.add_sum("members' points", points, 0)
    ident = _identity(row["openid"], row.get("openid_wa"), (fan or {}).get("unionid"))
    values = {"nickname": clip(row["nickname"], 64), "avatar": clip(row["avatar"], 512),
              "mobile": clip(row["mobile"] or (account or {}).get("mobile"), 20) or None,
              "gender": int(row.get("gender") or 0) if int(row.get("gender") or 0) in (0, 1, 2) else 0,
              "is_blacklisted": bool(row.get("isblack")), "created_at": moment(row["createtime"]) or None}
    values = {k: v for k, v in values.items() if v is not None or k == "mobile"}
    if row["level"]:
        values["level_id"] = await ctx.target("member_level", row["level"])
    member_id = await _save_member(ctx, "member", row["id"], values, ident, balance_fen, points)
    ctx.member_by_source[row["id"]] = member_id
    if row["openid"]:
        ctx.member_by_openid[row["openid"]] = member_id
        if ident.get("oa_openid") or ident.get("openid"):
            ctx.member_by_openid.setdefault(split_openid(row["openid"])[1], member_id)


async def import_fans_only(ctx: Context) -> None:
    """Members only on the 微擎 side: a fan with an account who never opened the shop."""
    source = ctx.source
    for rows in source.pages("mc_mapping_fans", ["uniacid", "uid", "openid", "unionid", "nickname"],
                             {"uniacid": ctx.uniacid}, key="fanid"):
        fresh = [f for f in rows if f["openid"] and f["openid"] not in ctx.member_by_openid]
        ctx.report.read("mc_mapping_fans", len(fresh))
        accounts = {a["uid"]: a for a in source.rows("mc_members", ["uid", "credit1", "credit2", "mobile", "nickname",
                                                                    "avatar", "createtime"],
                                                     {"uid": sorted({f["uid"] for f in fresh if f["uid"]})})}

        async def page(fresh=fresh, accounts=accounts) -> None:
            for fan in fresh:
                account = accounts.get(fan["uid"]) or {}
                balance_fen, points = fen(account.get("credit2")), _points(ctx, "mc_mapping_fans", fan["fanid"],
                                                                          account.get("credit1"))
                ctx.report.add_sum("members' balance (fen)", balance_fen, 0)
                ctx.report.add_sum("members' points", points, 0)
                values = {"nickname": clip(account.get("nickname") or fan["nickname"], 64),
                          "avatar": clip(account.get("avatar"), 512), "mobile": clip(account.get("mobile"), 20) or None}
                created = moment(account.get("createtime"))
                if created:
                    values["created_at"] = created
                member_id = await _save_member(ctx, "mc_mapping_fans", fan["fanid"], values,
                                               _identity(fan["openid"], None, fan["unionid"]), balance_fen, points)
                ctx.member_by_openid[fan["openid"]] = member_id
        await transaction(page)


async def import_addresses(ctx: Context) -> None:
    columns = ["uniacid", "openid", "realname", "mobile", "province", "city", "area", "street", "address",
               "isdefault", "deleted"]
    for rows in ctx.source.pages("ewei_shop_member_address", columns, {"uniacid": ctx.uniacid}):
        ctx.report.read("member_address", len(rows))

        async def page(rows=rows) -> None:
            for row in rows:
                if int(row["deleted"] or 0):
                    ctx.report.skip("member_address", row["id"], "deleted at the source")
                    continue
                member_id = ctx.member_by_openid.get(row["openid"] or "")
                if member_id is None:
                    ctx.report.skip("member_address", row["id"], f"orphan: no member with openid {row['openid']}")
                    continue
                await ctx.upsert("member_address", row["id"], Address, {
                    "member_id": member_id, "name": clip(row["realname"], 32), "mobile": clip(row["mobile"], 20),
                    "province": clip(row["province"], 32), "city": clip(row["city"], 32),
                    "district": clip(row["area"], 32),
                    "detail": clip(" ".join(p for p in (row.get("street"), row["address"]) if p), 255),
                    "is_default": bool(row["isdefault"])})
        await transaction(page)


async def reconcile_balances(ctx: Context) -> None:
    """What the imported members hold now, against what the source said (summed above)."""
    from peewee import fn

    ids = [target for table in ("member", "mc_mapping_fans") for target, _ in (await ctx.load_map(table)).values()]
    balance = points = 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        row = await Member.select(fn.COALESCE(fn.SUM(Member.balance_fen), 0).alias("b"),
                                  fn.COALESCE(fn.SUM(Member.points), 0).alias("p")).where(
            (Member.shop_id == ctx.shop_id) & Member.id.in_(chunk)).dicts().aio_get()
        balance += int(row["b"])
        points += int(row["p"])
    ctx.report.add_sum("members' balance (fen)", 0, balance)
    ctx.report.add_sum("members' points", 0, points)
