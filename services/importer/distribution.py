"""Distributors, the referral tree, commission as ewei recorded it (never recomputed), and the
distributors' withdrawals.

The tree is `ewei_shop_member.agentid` (a member id). MyISAM enforced nothing, so a source may
hold loops (A under B under A): each loop is broken at its lowest id, which keeps no referrer,
and reported. Commission per order and level is read from the order lines' `commissions`
(PHP-serialized {level1, level2, level3}) or else `commissionN`'s "default"; its state from
`statusN`, per line:
  -1 invalid                      -> reversed (nothing earned)
   0 earned, not applied for      -> frozen; withdrawable (settled, in the member's commission
                                     balance with a ledger row) once the order completed
                                     `distribution.settle_days` ago, as our settle job would
   1 applied, 2 approved, 3 paid  -> settled: the money is in a withdrawal (`commission_apply`,
                                     imported as pending / paid withdrawals), not in a balance
So a distributor's centre shows what the old shop's did: not yet withdrawable (frozen), withdrawable,
and withdrawn, each to the fen. What the importer booked into a member's commission balances is
remembered per commission row (id map `commission_booking`), so a re-run that rewrites an order
takes back exactly what it booked before — also when our settle job moved it since."""
from __future__ import annotations

import datetime

from peewee import fn

from events import transaction
from models.base import utcnow
from models.distribution import (
    COMMISSION_FROZEN,
    COMMISSION_REVERSED,
    COMMISSION_SETTLED,
    DIST_APPROVED,
    DIST_PENDING,
    Commission,
    Distributor,
)
from models.finance import COMMISSION, WITHDRAW_PAID, WITHDRAW_PENDING, WITHDRAW_REJECTED, CreditLedger, Withdrawal
from models.importer import ImportMap
from models.member import Member
from models.order import COMPLETED, Order
from models.prepared import insert_rows
from services import sysset
from services.importer.context import Context
from services.importer.source import clip, fen, moment, unphp


def break_loops(ctx: Context) -> None:
    parents = dict(ctx.agent_of)
    for start in sorted(parents):
        path, node = [], start
        while node in parents and node not in path:
            path.append(node)
            node = parents[node]
        if node in path:  # a loop: node .. back to node
            loop = path[path.index(node):]
            cut = min(loop)
            ctx.report.problem("member", cut, f"referral loop {' -> '.join(map(str, loop + [node]))}: "
                                              f"#{cut} keeps no referrer")
            del parents[cut]
    ctx.agent_of = parents


async def import_tree(ctx: Context) -> None:
    break_loops(ctx)
    items = sorted(ctx.agent_of.items())
    for start in range(0, len(items), 1000):
        async def page(chunk=items[start:start + 1000]) -> None:
            for child, parent in chunk:
                child_id, parent_id = ctx.member_by_source.get(child), ctx.member_by_source.get(parent)
                if child_id is None:
                    continue
                if parent_id is None:
                    ctx.report.problem("member", child, f"referrer #{parent} is not in the source: none set")
                    continue
                await Member.update(parent_id=parent_id).where((Member.id == child_id)
                                                               & (Member.shop_id == ctx.shop_id)).aio_execute()
        await transaction(page)
    ctx.report.notes.append(f"{len(ctx.agent_of)} referral links imported")


async def import_distributors(ctx: Context) -> None:
    columns = ["uniacid", "isagent", "status", "realname", "mobile", "agenttime", "createtime"]
    for rows in ctx.source.pages("ewei_shop_member", columns, {"uniacid": ctx.uniacid, "isagent": 1}):
        ctx.report.read("distributor", len(rows))

        async def page(rows=rows) -> None:
            for row in rows:
                member_id = ctx.member_by_source.get(row["id"])
                if member_id is None:
                    ctx.report.skip("distributor", row["id"], "its member was not imported")
                    continue
                approved = int(row["status"] or 0) == 1
                values = {"member_id": member_id, "status": DIST_APPROVED if approved else DIST_PENDING,
                          "real_name": clip(row["realname"], 32), "mobile": clip(row["mobile"], 20),
                          "approved_at": moment(row["agenttime"]) if approved else None}
                if await ctx.target("distributor", row["id"]) is None:
                    mine = await Distributor.select(Distributor.id).where(Distributor.member_id == member_id).aio_first()
                    if mine is not None:  # became a distributor here already
                        await ctx.remember("distributor", row["id"], mine.id)
                await ctx.upsert("distributor", row["id"], Distributor, values)
        await transaction(page)


def _line_amount(line: dict, level: int) -> int:
    recorded = unphp(line.get("commissions"))
    if isinstance(recorded, dict) and f"level{level}" in recorded:
        return fen(recorded[f"level{level}"])
    own = unphp(line.get(f"commission{level}"))
    if isinstance(own, dict):
        return fen(own.get("default", 0))
    return 0


# booking tags: what a commission row put into its earner's balances
FROZEN, WITHDRAWABLE, PAID_OUT, NOTHING = "f", "w", "x", "r"


async def _settle_days(ctx: Context) -> int:
    if not hasattr(ctx, "settle_days"):
        ctx.settle_days = (await sysset.get_settings(ctx.shop_id)).distribution.settle_days
    return ctx.settle_days


async def plan_order_commission(ctx: Context, order: dict, buyer_id: int, lines: list[dict], values: dict) -> list[dict]:
    """The commission rows of one imported order, as recorded at the source, up its agent chain
    (each with its booking tag under `_tag`)."""
    agent = int(order.get("agentid") or 0)
    base = sum(fen(line.get("realprice") if line.get("realprice") is not None else line.get("price")) for line in lines)
    completed = values["completed_at"] if values["status"] == COMPLETED else None
    due = completed is not None and completed <= utcnow() - datetime.timedelta(days=await _settle_days(ctx))
    planned = []
    for level in (1, 2, 3):
        if not agent:
            break
        parts: dict[int, int] = {}
        for line in lines:
            state = int(line.get(f"status{level}") or 0)
            state = state if state in (-1, 1, 2, 3) else 0
            parts[state] = parts.get(state, 0) + _line_amount(line, level)
        valid = sum(amount for state, amount in parts.items() if state != -1)
        earner = ctx.member_by_source.get(agent)
        if (valid or parts.get(-1)) and earner is None:
            ctx.report.problem("order", order["id"], f"level-{level} commission: agent #{agent} not imported")
        elif valid or parts.get(-1):
            waiting, out = parts.get(0, 0), valid - parts.get(0, 0)
            if not valid:
                status, amount, tag = COMMISSION_REVERSED, 0, NOTHING
            elif not waiting:
                status, amount, tag = COMMISSION_SETTLED, valid, PAID_OUT
            else:
                status, amount, tag = (COMMISSION_SETTLED, waiting, WITHDRAWABLE) if due else \
                    (COMMISSION_FROZEN, waiting, FROZEN)
                if out:
                    ctx.report.problem("order", order["id"], f"level-{level} commission partly applied for at the "
                                                             f"source: {out} fen are in its withdrawal, {waiting} here")
            planned.append({
                "order_no": values["order_no"], "buyer_id": buyer_id, "member_id": earner, "level": level,
                "base_fen": base, "amount_fen": amount, "reversed_fen": parts.get(-1, 0), "status": status,
                "created_at": values["created_at"], "settled_at": completed if status == COMMISSION_SETTLED else None,
                "reversed_at": values["created_at"] if status == COMMISSION_REVERSED else None,
                "_tag": tag, "_source": {str(k): v for k, v in sorted(parts.items())}})
        agent = ctx.agent_of.get(agent, 0)
    return planned


def note_commission(ctx: Context, rows: list[dict]) -> None:
    """The source's commission by state, for the reconciliation (every imported order, written or not)."""
    for row in rows:
        parts = row["_source"]
        valid = sum(v for k, v in parts.items() if k != "-1")
        split_off = valid - row["amount_fen"] if row["_tag"] in (FROZEN, WITHDRAWABLE) else 0  # in a withdrawal
        ctx.report.add_sum("commission recorded (fen)", valid, split_off)
        ctx.report.add_sum("commission in withdrawals (fen)", parts.get("1", 0) + parts.get("2", 0), 0)
        ctx.report.add_sum("commission paid out (fen)", parts.get("3", 0), 0)


def stored(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


async def _move(ctx: Context, frozen: dict[int, int], withdrawable: dict[int, int], reference: str) -> None:
    for member_id, delta in frozen.items():
        if delta:
            await Member.update(commission_frozen_fen=Member.commission_frozen_fen + delta).where(
                (Member.id == member_id) & (Member.shop_id == ctx.shop_id)).aio_execute()
    for member_id, delta in withdrawable.items():
        if delta:
            await Member.update(commission_fen=Member.commission_fen + delta).where(
                (Member.id == member_id) & (Member.shop_id == ctx.shop_id)).aio_execute()
            after = await Member.select(Member.commission_fen).where(Member.id == member_id).aio_scalar()
            await CreditLedger.insert(shop_id=ctx.shop_id, member_id=member_id, currency=COMMISSION,
                                      type="import" if delta > 0 else "import_adjust", amount=delta, balance_after=after,
                                      reference=reference, remark="commission earned in ewei_shopv2").aio_execute()


async def book_commission(ctx: Context, rows: list[dict], reference: str) -> None:
    """Inside the page's transaction: what the new rows (with `order_id`) put into balances, and
    their booking tags, one INSERT for the page."""
    frozen: dict[int, int] = {}
    withdrawable: dict[int, int] = {}
    for row in rows:
        into = frozen if row["_tag"] == FROZEN else withdrawable if row["_tag"] == WITHDRAWABLE else None
        if into is not None:
            into[row["member_id"]] = into.get(row["member_id"], 0) + row["amount_fen"]
    await _move(ctx, frozen, withdrawable, reference)
    now = utcnow()
    await insert_rows(ImportMap, [{"shop_id": ctx.shop_id, "source_table": "commission_booking",
                                   "source_id": f"{row['order_id']}:{row['level']}", "target_id": row["member_id"],
                                   "value": row["_tag"], "updated_at": now} for row in rows])


async def drop_order_commission(ctx: Context, order_ids: list[int]) -> None:
    """Inside a transaction, before an imported order's commission is written again: take back
    what its rows booked, from where they are now (a frozen row our job settled since is in the
    withdrawable balance), and delete them."""
    rows = list(await Commission.select().where((Commission.shop_id == ctx.shop_id)
                                                & Commission.order_id.in_(order_ids)).aio_execute())
    keys = [f"{row.order_id}:{row.level}" for row in rows]
    booking = ImportMap.select().where((ImportMap.shop_id == ctx.shop_id)
                                       & (ImportMap.source_table == "commission_booking")
                                       & ImportMap.source_id.in_(keys or [""]))
    tags = {m.source_id: m.value for m in await booking.aio_execute()}
    frozen: dict[int, int] = {}
    withdrawable: dict[int, int] = {}
    for row in rows:
        tag = tags.get(f"{row.order_id}:{row.level}")
        if tag == FROZEN and row.status == COMMISSION_FROZEN:
            frozen[row.member_id] = frozen.get(row.member_id, 0) - row.amount_fen
        elif tag in (FROZEN, WITHDRAWABLE) and row.status == COMMISSION_SETTLED:
            withdrawable[row.member_id] = withdrawable.get(row.member_id, 0) - row.amount_fen
    await _move(ctx, frozen, withdrawable, "ewei:reimport")
    await ImportMap.delete().where((ImportMap.shop_id == ctx.shop_id) & (ImportMap.source_table == "commission_booking")
                                   & ImportMap.source_id.in_(keys or [""])).aio_execute()
    await Commission.delete().where((Commission.shop_id == ctx.shop_id)
                                    & Commission.order_id.in_(order_ids)).aio_execute()


APPLY_COLUMNS = ["uniacid", "applyno", "mid", "type", "commission", "status", "applytime", "checktime", "paytime",
                 "invalidtime", "refusetime"]


async def import_withdrawals(ctx: Context) -> None:
    """Distributors' withdrawal applications (`commission_apply`): paid (3) ones are the centre's
    "withdrawn"; applied (1) and approved-not-paid (2) ones come over pending, for the merchant to
    pay or refuse here (nothing is sent to WeChat without them); invalid (-1) ones rejected."""
    for rows in ctx.source.pages("ewei_shop_commission_apply", APPLY_COLUMNS, {"uniacid": ctx.uniacid}):
        ctx.report.read("commission_apply", len(rows))

        async def page(rows=rows) -> None:
            for row in rows:
                member_id = ctx.member_by_source.get(int(row["mid"] or 0))
                if member_id is None:
                    ctx.report.skip("commission_apply", row["id"], f"orphan: member #{row['mid']} not imported")
                    continue
                state = int(row["status"] or 0)
                amount = fen(row["commission"])
                status = {3: WITHDRAW_PAID, -1: WITHDRAW_REJECTED}.get(state, WITHDRAW_PENDING)
                if state == 2:
                    ctx.report.problem("commission_apply", row["id"], "approved but not paid at the source: pending "
                                                                      "here, for the merchant to pay or refuse")
                kind = int(row["type"] or 0)
                if kind not in (0, 1):
                    ctx.report.problem("commission_apply", row["id"], f"paid out by type {kind} (Alipay / bank) "
                                                                      "at the source: WeChat here")
                ctx.report.add_sum("commission in withdrawals (fen)", 0, amount if status == WITHDRAW_PENDING else 0)
                ctx.report.add_sum("commission paid out (fen)", 0, amount if status == WITHDRAW_PAID else 0)
                here = await ctx.target("commission_apply", row["id"])
                if here is not None and await Withdrawal.select(Withdrawal.status).where(
                        Withdrawal.id == here).aio_scalar() != await ctx.value("commission_apply", row["id"]):
                    # paid or refused here since the last run: the merchant's decision stands
                    ctx.report.tables["commission_apply"].unchanged += 1
                    continue
                await ctx.upsert("commission_apply", row["id"], Withdrawal, {
                    "member_id": member_id, "source": COMMISSION, "target": "balance" if kind == 0 else "wechat",
                    "amount_fen": amount, "status": status,
                    "reject_reason": "invalid at the source" if status == WITHDRAW_REJECTED else "",
                    "transfer_no": clip(f"E{ctx.shop_id}x{row['id']}", 32),
                    "created_at": moment(row["applytime"]) or utcnow(),
                    "reviewed_at": moment(row["checktime"]) or moment(row["invalidtime"]) or moment(row["refusetime"]),
                    "paid_at": moment(row["paytime"]) if status == WITHDRAW_PAID else None}, value=status)
        await transaction(page)


async def reconcile_commission(ctx: Context) -> None:
    """What imported orders' commission rows hold now, against the source's sums."""
    held = await (Commission.select(fn.COALESCE(fn.SUM(Commission.amount_fen), 0))
                  .join(Order, on=(Order.id == Commission.order_id))
                  .where((Commission.shop_id == ctx.shop_id) & Order.imported
                         & (Commission.status != COMMISSION_REVERSED)).aio_scalar())
    ctx.report.add_sum("commission recorded (fen)", 0, int(held or 0))
    ctx.report.notes.append("commission: frozen until settle_days after completion, then withdrawable; what was "
                            "applied for or paid at the source is in the imported withdrawals")
