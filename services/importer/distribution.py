"""Distributors, the referral tree, and commission as ewei recorded it (never recomputed).

The tree is `ewei_shop_member.agentid` (a member id). MyISAM enforced nothing, so a source may
hold loops (A under B under A): each loop is broken at its lowest id, which keeps no referrer,
and reported. Commission per order and level is read from the order lines' `commissions`
(PHP-serialized {level1, level2, level3}) or else `commissionN`'s "default"; its state from
`statusN`: -1 invalid -> reversed, 3 paid -> settled, anything else -> frozen."""
from __future__ import annotations

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
from models.member import Member
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


async def import_order_commission(ctx: Context, order: dict, order_id: int, buyer_id: int, lines: list[dict]) -> None:
    """Commission rows of one imported order, as recorded at the source, up its agent chain."""
    agent = int(order.get("agentid") or 0)
    base = sum(fen(line.get("realprice") if line.get("realprice") is not None else line.get("price")) for line in lines)
    for level in (1, 2, 3):
        if not agent:
            return
        amount = sum(_line_amount(line, level) for line in lines)
        states = {int(line.get(f"status{level}") or 0) for line in lines}
        earner = ctx.member_by_source.get(agent)
        if amount and earner is None:
            ctx.report.problem("order", order["id"], f"level-{level} commission: agent #{agent} not imported")
        elif amount:
            status = (COMMISSION_REVERSED if states == {-1} else COMMISSION_SETTLED if states <= {3, -1}
                      else COMMISSION_FROZEN)
            await ctx.upsert("commission", f"{order['id']}:{level}", Commission, {
                "order_id": order_id, "order_no": clip(order["ordersn"], 32), "buyer_id": buyer_id, "member_id": earner,
                "level": level, "base_fen": base, "amount_fen": amount,
                "reversed_fen": amount if status == COMMISSION_REVERSED else 0, "status": status,
                "created_at": moment(order["createtime"]) or utcnow(), "settled_at": moment(order.get("finishtime"))
                if status == COMMISSION_SETTLED else None})
            ctx.report.add_sum("commission recorded (fen)", amount, amount)
        agent = ctx.agent_of.get(agent, 0)
