"""Group-buy (拼团): campaigns with team tiers, teams that fill live, expiry with refunds.

Seats and payments are two counters on the team row, each moved by a conditional UPDATE:
- `seats_taken` (members whose orders hold a seat, paid or not) never exceeds `team_size`: a join
  takes a seat or gets 409; a cancelled or expired unpaid order gives its seat back.
- `paid_count` never exceeds `team_size` either, even when payments race: a payment that finds
  no paid seat left is refused (balance: nothing charged) or refunded (WeChat: money already taken).
A team is `pending` until its leader pays, then `open`; it becomes `success` in the transaction
that takes its last paid seat, and `failed` at `expires_at`, when every paid order is refunded
exactly once (the order transition is conditional) and stock returns.
Time is state: a team is over at `expires_at` whatever the job has done. A payment reaching us
at or after that instant takes no seat (balance: refused, nothing charged; WeChat: refunded),
a join is refused, and any read of an overdue team ends it then and there (the job only tidies
up what the rule already decided). A team never outlives its campaign's `ends_at`.
Refunds while a team fills are allowed (退团, as CRMEB does): the refunded member's seat is free
again and `paid_count` drops; a refunded leader hands the team to the earliest paid member, and
a team with nobody paid left closes (`failed`, closed_by `emptied`). After success a refund does
not undo the team, but `paid_count` and the member list show only the members still paying.
Goods with SKUs: every order names its `sku_id` (open, join, buy alone); members of one team may
choose different SKUs; a campaign may price SKUs per team size (`sku_prices`), else the tier's
price applies to every SKU. At expiry a
campaign may instead simulate success (模拟成团) for teams with enough paid members; a merchant
may end a filling team early either way (audited). Once a team has ended, its unpaid seats are
cancelled. Pick-up campaigns (核销) give each collectable paid order a redemption code.
Campaign orders (team or buy-alone) carry `activity_id`: the purchase limit and the one-unpaid-
order rule count them, and the campaign page's sales and recent buyers read them.
Events: `team.progress` (on every seat taken or given back and every payment or refund) /
`team.success` / `team.failed` on `team:{id}`, `activity.joined` on
`activity:{id}` (the live "just joined" stream), `team.success` to the shop's order channel.
"""
from __future__ import annotations

import datetime
import json

import events
from lib import richtext
from lib.errors import conflict, field_error, not_found
from models.base import iso, naive_utc, paginate, utcnow
from models.groups import (
    TEAM_FAILED,
    TEAM_OPEN,
    TEAM_PENDING,
    TEAM_SUCCESS,
    GroupActivity,
    GroupMember,
    GroupTeam,
)
from models.locks import lock_member
from models.member import Member
from models.order import CANCELLED, COMPLETED, PAID, REFUND_FULL, SHIPPED, UNPAID, Order
from services import audit, counters, orders, sysset
from services import goods as goods_service
from services.orders import lifecycle, pricing

JOB_BATCH = 100
RECENT_BUYERS = 10


# ---------------------------------------------------------------- campaigns
ACTIVITY_TEXT_FIELDS = ("title", "share_title", "share_image", "share_desc", "service_contact", "content")


def render_activity(activity: GroupActivity) -> dict:
    return {"id": activity.id, "title": activity.title, "goods_id": activity.goods_id,
            "tiers": json.loads(activity.tiers), "sku_prices": json.loads(activity.sku_prices),
            "single_price_fen": activity.single_price_fen,
            "duration_seconds": activity.duration_seconds, "purchase_limit": activity.purchase_limit,
            "starts_at": iso(activity.starts_at), "ends_at": iso(activity.ends_at), "enabled": activity.enabled,
            "simulate_min_paid": activity.simulate_min_paid, "pickup": activity.pickup,
            "share": {"title": activity.share_title or activity.title, "image": activity.share_image,
                      "description": activity.share_desc},
            "service_contact": activity.service_contact, "content": activity.content,
            "visits": activity.visits + counters.pending(GroupActivity.visits, activity.id),
            "shares": activity.shares + counters.pending(GroupActivity.shares, activity.id)}



def _activity_columns(fields: dict, current: GroupActivity | None = None) -> dict:
    """Validate a create or a partial update against the campaign it would produce."""
    columns = dict(fields)
    if "tiers" in columns:
        sizes = [tier["team_size"] for tier in columns["tiers"]]
        if len(set(sizes)) != len(sizes):
            raise field_error("tiers", "team sizes must be distinct")
        columns["tiers"] = json.dumps(sorted(columns["tiers"], key=lambda t: t["team_size"]))
    if columns.get("sku_prices") is not None:
        pairs = [(p["sku_id"], p["team_size"]) for p in columns["sku_prices"]]
        if len(set(pairs)) != len(pairs):
            raise field_error("sku_prices", "one price per SKU and team size")
        columns["sku_prices"] = json.dumps(sorted(columns["sku_prices"], key=lambda p: (p["sku_id"], p["team_size"])))
    elif "sku_prices" in columns:
        columns["sku_prices"] = "[]"
    for key in ("starts_at", "ends_at"):
        if key in columns:
            columns[key] = naive_utc(columns[key])
    starts = columns.get("starts_at", current.starts_at if current else None)
    ends = columns.get("ends_at", current.ends_at if current else None)
    if starts and ends and ends <= starts:
        raise field_error("ends_at", "must be after starts_at")
    tiers = json.loads(columns.get("tiers") or (current.tiers if current else "[]"))
    simulate = columns.get("simulate_min_paid", current.simulate_min_paid if current else 0)
    if simulate and simulate >= max(t["team_size"] for t in tiers):
        raise field_error("simulate_min_paid", "must be below the largest team size (0 turns it off)")
    if columns.get("content"):
        columns["content"] = richtext.clean(columns["content"])
    return columns


async def _check_buyable(shop_id: int, goods_id: int, tiers_json: str, sku_prices_json: str) -> None:
    """Refuse at creation (or edit) what would fail at checkout: goods with SKUs must have one
    that can be bought, and every SKU price must name a live SKU of this goods and a tier."""
    goods = await goods_service.get_goods(shop_id, goods_id)
    live = {sku.id for sku in await goods_service.live_skus(goods)} if goods.has_skus else set()
    if goods.has_skus and not live:
        raise field_error("goods_id", "this goods has no SKU that can be bought")
    sizes = {tier["team_size"] for tier in json.loads(tiers_json)}
    for entry in json.loads(sku_prices_json):
        if entry["sku_id"] not in live:
            raise field_error("sku_prices", f"SKU {entry['sku_id']} is not a SKU of goods {goods_id}")
        if entry["team_size"] not in sizes:
            raise field_error("sku_prices", f"team size {entry['team_size']} is not a tier of this campaign")


async def create_activity(shop_id: int, fields: dict) -> dict:
    columns = _activity_columns(fields)
    await _check_buyable(shop_id, columns["goods_id"], columns["tiers"], columns.get("sku_prices") or "[]")
    return render_activity(await GroupActivity.aio_create(shop_id=shop_id, **columns))


async def update_activity(shop_id: int, activity_id: int, changes: dict) -> dict:
    """Partial update; tiers and prices apply to teams opened from now on (a team keeps its price)."""
    activity = await get_activity(shop_id, activity_id)
    columns = _activity_columns(changes, activity)
    if {"goods_id", "tiers", "sku_prices"} & columns.keys():
        goods_id = columns.get("goods_id", activity.goods_id)
        sku_prices = columns.get("sku_prices", activity.sku_prices if goods_id == activity.goods_id else "[]")
        if goods_id != activity.goods_id and "sku_prices" not in columns:
            columns["sku_prices"] = "[]"  # another goods' SKUs: its old SKU prices cannot apply
        await _check_buyable(shop_id, goods_id, columns.get("tiers", activity.tiers), sku_prices)
    if columns:
        await GroupActivity.update(**columns).where((GroupActivity.shop_id == shop_id)
                                                    & (GroupActivity.id == activity_id)).aio_execute()
    return render_activity(await get_activity(shop_id, activity_id))


async def delete_activity(shop_id: int, activity_id: int) -> None:
    """Hide a campaign for good. Refused while teams are still filling: end them first."""
    await get_activity(shop_id, activity_id)
    running = await GroupTeam.select().where((GroupTeam.activity_id == activity_id)
                                             & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_exists()
    if running:
        raise conflict("teams_running", "this group-buy has teams still filling; turn it off and let them end first")
    await GroupActivity.update(deleted=True, enabled=False).where(
        (GroupActivity.shop_id == shop_id) & (GroupActivity.id == activity_id)).aio_execute()


async def get_activity(shop_id: int, activity_id: int, live_only: bool = False) -> GroupActivity:
    activity = await GroupActivity.aio_get_or_none((GroupActivity.shop_id == shop_id) & (GroupActivity.id == activity_id)
                                                   & (GroupActivity.deleted == False))  # noqa: E712
    if activity is None or (live_only and not activity.enabled):
        raise not_found("activity")
    return activity


async def list_activities(shop_id: int, page: int, page_size: int, live_only: bool) -> dict:
    query = (GroupActivity.select().where((GroupActivity.shop_id == shop_id) & (GroupActivity.deleted == False))  # noqa: E712
             .order_by(GroupActivity.id.desc()))
    if live_only:
        now = utcnow()
        query = query.where((GroupActivity.enabled == True)  # noqa: E712
                            & (GroupActivity.starts_at.is_null() | (GroupActivity.starts_at <= now))
                            & (GroupActivity.ends_at.is_null() | (GroupActivity.ends_at > now)))
    return await paginate(query, page, page_size, render_activity)


async def activity_detail(shop_id: int, activity_id: int) -> dict:
    """The campaign page: tiers, teams to join (most nearly full first), recent buyers, counters.
    Counts as a visit."""
    channel = await events.position(f"activity:{activity_id}")  # before the reads: nothing after it is missed
    activity = await get_activity(shop_id, activity_id, live_only=True)
    counters.bump(GroupActivity.visits, activity.id)
    open_teams = await (GroupTeam.select().where((GroupTeam.shop_id == shop_id) & (GroupTeam.activity_id == activity_id)
                                                 & (GroupTeam.status == TEAM_OPEN) & (GroupTeam.expires_at > utcnow()))
                        .order_by((GroupTeam.team_size - GroupTeam.paid_count), GroupTeam.expires_at).limit(10).aio_execute())
    sold = Order.status.in_([PAID, SHIPPED, COMPLETED])
    mine = (Order.shop_id == shop_id) & (Order.activity_id == activity_id)
    recent = await (Order.select(Order.paid_at, Member.nickname, Member.avatar)
                    .join(Member, on=(Member.id == Order.member_id)).where(mine & sold)
                    .order_by(Order.paid_at.desc(), Order.id.desc()).limit(RECENT_BUYERS).objects().aio_execute())
    return {**render_activity(activity), "sales": await Order.select().where(mine & sold).aio_count(),
            "open_teams": [render_team(t) for t in open_teams],
            "recent_buyers": [{"nickname": r.nickname, "avatar": r.avatar, "paid_at": iso(r.paid_at)} for r in recent],
            "channel": channel}


async def share_activity(shop_id: int, activity_id: int) -> None:
    await get_activity(shop_id, activity_id, live_only=True)
    counters.bump(GroupActivity.shares, activity_id)


# ---------------------------------------------------------------- teams
def render_team(team: GroupTeam, merchant: bool = False) -> dict:
    data = {"id": team.id, "activity_id": team.activity_id, "status": team.status, "team_size": team.team_size,
            "price_fen": team.price_fen, "paid_count": team.paid_count, "seats_left": team.team_size - team.seats_taken,
            "expires_at": iso(team.expires_at)}
    if merchant:  # shoppers are not told that a success was simulated or forced
        data.update(closed_by=team.closed_by, leader_member_id=team.leader_member_id,
                    created_at=iso(team.created_at), succeeded_at=iso(team.succeeded_at), failed_at=iso(team.failed_at))
    return data


async def _get_team(shop_id: int, team_id: int) -> GroupTeam:
    team = await GroupTeam.aio_get_or_none((GroupTeam.shop_id == shop_id) & (GroupTeam.id == team_id))
    if team is None:
        raise not_found("team")
    return team


async def team_detail(shop_id: int, team_id: int, merchant: bool = False) -> dict:
    position = await events.position(f"team:{team_id}")  # before the read: nothing after it is missed
    team = await _get_team(shop_id, team_id)
    if team.status in (TEAM_PENDING, TEAM_OPEN) and team.expires_at <= utcnow():
        # time is state: a read of an overdue team ends it now rather than at the next job run
        await _expire(team.id)
        await _close_orders([team.id])
        team = await _get_team(shop_id, team_id)
    where = GroupMember.team_id == team_id
    if not merchant:  # shoppers see who has paid; the merchant sees unpaid seats too
        where &= Order.status > UNPAID
    rows = await (GroupMember.select(GroupMember.is_leader, GroupMember.order_id, Member.id.alias("member_id"),
                                     Member.nickname, Member.avatar, Order.status.alias("order_status"))
                  .join(Member, on=(GroupMember.member_id == Member.id))
                  .join(Order, on=(Order.id == GroupMember.order_id), src=GroupMember)
                  .where(where).order_by(GroupMember.id).dicts().aio_execute())
    keys = ("nickname", "avatar", "is_leader") + (("member_id", "order_id", "order_status") if merchant else ())
    return {**render_team(team, merchant), "members": [{k: row[k] for k in keys} for row in rows],
            "seq": position["seq"], "epoch": position["epoch"], "channel": position}


async def my_teams(shop_id: int, member_id: int, page: int, page_size: int) -> dict:
    """The member's teams, newest first, with their own order in each."""
    query = (GroupTeam.select(GroupTeam, GroupMember.order_id.alias("order_id"))
             .join(GroupMember, on=(GroupMember.team_id == GroupTeam.id))
             .where((GroupMember.shop_id == shop_id) & (GroupMember.member_id == member_id))
             .order_by(GroupTeam.id.desc()).objects())
    return await paginate(query, page, page_size, lambda t: {**render_team(t), "order_id": t.order_id})


async def list_teams(shop_id: int, page: int, page_size: int, activity_id: int | None, status: str | None) -> dict:
    query = GroupTeam.select().where(GroupTeam.shop_id == shop_id).order_by(GroupTeam.id.desc())
    if activity_id:
        query = query.where(GroupTeam.activity_id == activity_id)
    if status:
        query = query.where(GroupTeam.status == status)
    return await paginate(query, page, page_size, lambda t: render_team(t, merchant=True))


def _unit_price(activity: GroupActivity, team_size: int, default_fen: int, sku_id: int | None) -> int:
    """What one unit costs in a team of `team_size`: the SKU's own campaign price, else `default_fen`."""
    for entry in json.loads(activity.sku_prices):
        if entry["sku_id"] == sku_id and entry["team_size"] == team_size:
            return entry["price_fen"]
    return default_fen


def _tier_price(activity: GroupActivity, team_size: int) -> int:
    for tier in json.loads(activity.tiers):
        if tier["team_size"] == team_size:
            return tier["price_fen"]
    raise field_error("team_size", "not a tier of this activity")


async def _check_sku(shop_id: int, activity: GroupActivity, sku_id: int | None) -> None:
    """`sku_id` is required for goods with SKUs and refused for goods without (422)."""
    goods = await goods_service.get_goods(shop_id, activity.goods_id)
    if goods.has_skus and sku_id is None:
        raise field_error("sku_id", "choose a SKU of this goods")
    if not goods.has_skus and sku_id is not None:
        raise field_error("sku_id", "this goods has no SKUs")


async def _check_rules(shop_id: int, member: Member, activity: GroupActivity) -> None:
    """Campaign window, one unpaid order per member, purchase limit (team and buy-alone orders
    alike). Call after lock_member, inside the transaction that creates the order."""
    now = utcnow()
    started = activity.starts_at is None or activity.starts_at <= now
    if not activity.enabled or not started or (activity.ends_at and activity.ends_at <= now):
        raise conflict("activity_closed", "this group-buy is not running")
    rows = await (Order.select(Order.id, Order.status)
                  .where((Order.shop_id == shop_id) & (Order.activity_id == activity.id) & (Order.member_id == member.id)
                         & (Order.status != CANCELLED)).dicts().aio_execute())
    unpaid = [row["id"] for row in rows if row["status"] == UNPAID]
    if unpaid:
        raise conflict("unpaid_order_exists", "pay or cancel your open order of this group-buy first",
                       {"order_id": unpaid[0]})
    if activity.purchase_limit and len(rows) >= activity.purchase_limit:
        raise conflict("purchase_limit_exceeded", f"at most {activity.purchase_limit} per member in this group-buy")


async def _place_campaign_order(shop_id: int, member: Member, activity: GroupActivity, price_fen: int, address_id: int,
                 sku_id: int | None, team: GroupTeam | None = None):
    """One unit of the campaign's goods (the chosen SKU) at `price_fen`, inside the caller's transaction."""
    snapshot = await orders.address_snapshot(shop_id, member, address_id)
    settings = await sysset.get_settings(shop_id)
    lines = await pricing.load_lines(shop_id, [{"goods_id": activity.goods_id, "sku_id": sku_id, "quantity": 1}])
    lines[0].unit_price_fen = price_fen
    priced = await pricing.price(shop_id, member, lines, None, settings)
    order = await orders.place_order(shop_id, member, priced, snapshot, settings,
                                            team_id=team.id if team else None, activity_id=activity.id)
    if team is not None:
        await GroupMember.aio_create(shop_id=shop_id, team_id=team.id, member_id=member.id, order_id=order.id,
                                     is_leader=team.leader_member_id == member.id)
    return order


async def buy_alone(shop_id: int, member: Member, activity_id: int, address_id: int, sku_id: int | None = None) -> dict:
    """An ordinary order of the campaign's goods at its buy-alone price (no team, every SKU alike);
    it counts toward the purchase limit like a team order."""
    activity = await get_activity(shop_id, activity_id, live_only=True)
    if activity.single_price_fen is None:
        raise conflict("buy_alone_unavailable", "this group-buy is sold in teams only")
    await _check_sku(shop_id, activity, sku_id)
    async with events.atomic():
        await lock_member(member.id)
        await _check_rules(shop_id, member, activity)
        order = await _place_campaign_order(shop_id, member, activity, activity.single_price_fen, address_id, sku_id)
    return await orders.order_detail(shop_id, order.id, member.id)


async def open_team(shop_id: int, member: Member, activity_id: int, team_size: int, address_id: int,
                    sku_id: int | None = None) -> dict:
    activity = await get_activity(shop_id, activity_id, live_only=True)
    price = _tier_price(activity, team_size)
    await _check_sku(shop_id, activity, sku_id)
    async with events.atomic():
        await lock_member(member.id)
        await _check_rules(shop_id, member, activity)
        expires_at = utcnow() + datetime.timedelta(seconds=activity.duration_seconds)
        if activity.ends_at is not None:
            expires_at = min(expires_at, activity.ends_at)  # a team never outlives its campaign
        team = await GroupTeam.aio_create(shop_id=shop_id, activity_id=activity.id, leader_member_id=member.id,
                                          team_size=team_size, price_fen=price, expires_at=expires_at)
        unit_price = _unit_price(activity, team_size, price, sku_id)
        order = await _place_campaign_order(shop_id, member, activity, unit_price, address_id, sku_id, team)
    return {"team": await team_detail(shop_id, team.id),
            "order": await orders.order_detail(shop_id, order.id, member.id)}


def _join_refusal(team: GroupTeam, now: datetime.datetime):
    """Why a seat could not be taken, in words a shopper understands (409)."""
    if team.status == TEAM_PENDING and team.expires_at > now:
        return conflict("team_not_open", "this team opens once its leader has paid")
    if team.status == TEAM_OPEN and team.expires_at > now:
        return conflict("team_full", "this team is full")
    return conflict("team_closed", "this team has ended", {"status": team.status})


async def join_team(shop_id: int, member: Member, team_id: int, address_id: int, sku_id: int | None = None) -> dict:
    team = await _get_team(shop_id, team_id)
    activity = await get_activity(shop_id, team.activity_id, live_only=True)
    await _check_sku(shop_id, activity, sku_id)
    async with events.atomic():
        await lock_member(member.id)
        await _check_rules(shop_id, member, activity)
        if await GroupMember.select().where((GroupMember.team_id == team_id) & (GroupMember.member_id == member.id)).aio_exists():
            raise conflict("already_in_team", "you are already in this team")
        now = utcnow()
        took = await GroupTeam.update(seats_taken=GroupTeam.seats_taken + 1).where(
            (GroupTeam.id == team_id) & (GroupTeam.status == TEAM_OPEN) & (GroupTeam.seats_taken < GroupTeam.team_size)
            & (GroupTeam.expires_at > now)).aio_execute()
        if not took:
            raise _join_refusal(await GroupTeam.aio_get(GroupTeam.id == team_id), now)
        unit_price = _unit_price(activity, team.team_size, team.price_fen, sku_id)
        order = await _place_campaign_order(shop_id, member, activity, unit_price, address_id, sku_id, team)
        await _team_event(await GroupTeam.aio_get(GroupTeam.id == team_id), "team.progress")
    return {"team": await team_detail(shop_id, team_id),
            "order": await orders.order_detail(shop_id, order.id, member.id)}


async def check_shippable(order: Order, items: list) -> None:
    """A group-buy order ships once its team is complete (a `shipping` check)."""
    if order.team_id is not None and not await GroupTeam.select().where(
            (GroupTeam.id == order.team_id) & (GroupTeam.status == TEAM_SUCCESS)).aio_exists():
        raise conflict("team_not_complete", "a group-buy order ships once its team is complete")


async def _team_event(team: GroupTeam, type_: str) -> None:
    await events.record(f"team:{team.id}", type_, {
        "team_id": team.id, "status": team.status, "paid_count": team.paid_count,
        "seats_left": team.team_size - team.seats_taken, "team_size": team.team_size, "expires_at": iso(team.expires_at)})


async def _issue_pickup_codes(activity_id: int, order_ids: list[int]) -> None:
    """Pick-up campaigns: a paid order that can be collected gets its redemption code."""
    activity = await GroupActivity.aio_get(GroupActivity.id == activity_id)
    if not activity.pickup:
        return
    for order_id in order_ids:
        await orders.issue_pickup_code(order_id)


async def _paid_order_ids(team_id: int) -> list[int]:
    rows = await Order.select(Order.id).where((Order.team_id == team_id) & (Order.status == PAID)).aio_execute()
    return [row.id for row in rows]


async def _succeed(team: GroupTeam) -> None:
    """In the transaction that made `team` a success: codes, and the events everyone waits for."""
    await _issue_pickup_codes(team.activity_id, await _paid_order_ids(team.id))
    await _team_event(team, "team.success")
    await events.record(f"shop:{team.shop_id}:orders", "team.success",
                        {"team_id": team.id, "activity_id": team.activity_id, "team_size": team.team_size})


async def take_paid_seat(order: Order, items: list) -> None:
    """`paid` reaction of a campaign order: a team order takes a paid seat, or the payment is
    refused (PaymentRefused) when none is left or the team's time was up when it was paid."""
    if order.activity_id is None:
        return
    if order.team_id is None:  # bought alone
        await _issue_pickup_codes(order.activity_id, [order.id])
        return
    took = await GroupTeam.update(paid_count=GroupTeam.paid_count + 1).where(
        (GroupTeam.id == order.team_id) & (GroupTeam.paid_count < GroupTeam.team_size)
        & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN]) & (GroupTeam.expires_at > order.paid_at)).aio_execute()
    if not took:
        raise lifecycle.PaymentRefused("team_unavailable", "this team is full or closed")
    team = await GroupTeam.aio_get(GroupTeam.id == order.team_id)
    changes = {}
    if team.status == TEAM_PENDING:
        changes["status"] = TEAM_OPEN
    if team.paid_count == team.team_size:
        changes.update(status=TEAM_SUCCESS, succeeded_at=order.paid_at)
    if changes:
        await GroupTeam.update(**changes).where(GroupTeam.id == team.id).aio_execute()
        team = await GroupTeam.aio_get(GroupTeam.id == team.id)
    member = await Member.aio_get(Member.id == order.member_id)
    await _team_event(team, "team.progress")
    await events.record(f"activity:{team.activity_id}", "activity.joined",
                        {"team_id": team.id, "nickname": member.nickname, "avatar": member.avatar})
    if team.status == TEAM_SUCCESS:
        await _succeed(team)


async def release_paid_seat(order: Order, items: list) -> None:
    """`refunded` reaction of a paid team order: the member stops counting. While the
    team fills, the seat is free again (a refunded leader hands over to the earliest paid member;
    with nobody paid left the team closes); after success only `paid_count` drops. A failed
    team's refunds change nothing here: the team is over. Only a full refund gives the seat up
    (returning one of several units keeps the member in the team)."""
    if order.team_id is None or order.refund_status != REFUND_FULL:
        return
    filling = GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])
    mine = (GroupTeam.id == order.team_id) & (GroupTeam.paid_count > 0)
    if await GroupTeam.update(paid_count=GroupTeam.paid_count - 1, seats_taken=GroupTeam.seats_taken - 1).where(
            mine & filling).aio_execute():
        await GroupMember.delete().where(GroupMember.order_id == order.id).aio_execute()
        team = await GroupTeam.aio_get(GroupTeam.id == order.team_id)
        if team.leader_member_id == order.member_id:
            await _hand_over(team)
            team = await GroupTeam.aio_get(GroupTeam.id == order.team_id)
        await _team_event(team, "team.failed" if team.status == TEAM_FAILED else "team.progress")
    elif await GroupTeam.update(paid_count=GroupTeam.paid_count - 1).where(
            mine & (GroupTeam.status == TEAM_SUCCESS)).aio_execute():
        await _team_event(await GroupTeam.aio_get(GroupTeam.id == order.team_id), "team.progress")


async def _hand_over(team: GroupTeam) -> None:
    """The leader left a filling team: the earliest paid member leads it, or it closes."""
    heir = await (GroupMember.select(GroupMember.id, GroupMember.member_id)
                  .join(Order, on=(Order.id == GroupMember.order_id))
                  .where((GroupMember.team_id == team.id) & (Order.status == PAID))
                  .order_by(GroupMember.id).aio_first())
    if heir is None:
        await GroupTeam.update(status=TEAM_FAILED, failed_at=utcnow(), closed_by="emptied").where(
            (GroupTeam.id == team.id) & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_execute()
        return
    await GroupTeam.update(leader_member_id=heir.member_id).where(GroupTeam.id == team.id).aio_execute()
    await GroupMember.update(is_leader=True).where(GroupMember.id == heir.id).aio_execute()


async def release_seat(order: Order, items: list) -> None:
    """`cancelled` reaction of an unpaid team order: its seat is given back; a pending team
    whose leader never paid fails."""
    if order.team_id is None:
        return
    released = await GroupTeam.update(seats_taken=GroupTeam.seats_taken - 1).where(
        (GroupTeam.id == order.team_id) & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_execute()
    await GroupMember.delete().where(GroupMember.order_id == order.id).aio_execute()
    failed = await GroupTeam.update(status=TEAM_FAILED, failed_at=utcnow(), closed_by="leader_unpaid").where(
        (GroupTeam.id == order.team_id) & (GroupTeam.status == TEAM_PENDING)
        & (GroupTeam.leader_member_id == order.member_id)).aio_execute()
    if failed or released:
        await _team_event(await GroupTeam.aio_get(GroupTeam.id == order.team_id),
                          "team.failed" if failed else "team.progress")


# ---------------------------------------------------------------- ending teams
async def _end_team(team_id: int, outcome: str, closed_by: str) -> GroupTeam | None:
    """Inside a transaction: a filling team -> success or failed, once. Success needs a paid
    leader (an `open` team). Returns the team as it now is, or None if it had already ended."""
    now = utcnow()
    if outcome == TEAM_SUCCESS:
        changed = await GroupTeam.update(status=TEAM_SUCCESS, succeeded_at=now, closed_by=closed_by).where(
            (GroupTeam.id == team_id) & (GroupTeam.status == TEAM_OPEN)).aio_execute()
    else:
        changed = await GroupTeam.update(status=TEAM_FAILED, failed_at=now, closed_by=closed_by).where(
            (GroupTeam.id == team_id) & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_execute()
    if not changed:
        return None
    team = await GroupTeam.aio_get(GroupTeam.id == team_id)
    if outcome == TEAM_SUCCESS:
        await _succeed(team)
    else:
        await _team_event(team, "team.failed")
    return team


async def _close_orders(team_ids: list[int] | None = None) -> None:
    """Orders left behind by ended teams: unpaid ones of any ended team are cancelled (seat and
    stock back); paid ones of a failed team are refunded. Each order's change is conditional, so
    re-running (or running in N processes) is harmless; a run that died half-way is finished later.
    Historic orders brought over by import-ewei stay as the old system left them (read-only): were
    they picked, the first one's refusal would stop every run before the teams after it."""
    ended = GroupTeam.status.in_([TEAM_SUCCESS, TEAM_FAILED])
    query = (Order.select(Order.shop_id, Order.id, Order.status).join(GroupTeam, on=(GroupTeam.id == Order.team_id))
             .where(((ended & (Order.status == UNPAID)) | ((GroupTeam.status == TEAM_FAILED) & (Order.status == PAID)))
                    & (Order.imported == False)))  # noqa: E712 (SQL)
    if team_ids is not None:
        query = query.where(GroupTeam.id.in_(team_ids))
    for order in await query.order_by(Order.id).limit(JOB_BATCH * 10).aio_execute():
        if order.status == UNPAID:
            await orders.cancel_order(order.shop_id, order.id, "system", "team_closed")
        else:
            await orders.refund_for_failed_team(order.shop_id, order.id)


async def _expire(team_id: int) -> bool:
    """End one team whose time is up: success when the campaign simulates it (模拟成团) and
    enough members paid, else failed. False when it had already ended."""
    async with events.atomic():
        team = await GroupTeam.aio_get(GroupTeam.id == team_id)
        activity = await GroupActivity.aio_get(GroupActivity.id == team.activity_id)
        if 0 < activity.simulate_min_paid <= team.paid_count:
            return await _end_team(team_id, TEAM_SUCCESS, "simulated") is not None
        return await _end_team(team_id, TEAM_FAILED, "expiry") is not None


async def expire_teams() -> int:
    """Teams past expires_at end, then their leftover orders are closed. Safe in N processes."""
    due = await (GroupTeam.select(GroupTeam.id)
                 .where(GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN]) & (GroupTeam.expires_at <= utcnow()))
                 .order_by(GroupTeam.id).limit(JOB_BATCH).aio_execute())
    ended = 0
    for row in due:
        ended += await _expire(row.id)
    await _close_orders()
    return ended


async def force_end_team(shop_id: int, team_id: int, outcome: str, staff_id: int, note: str) -> dict:
    """A merchant ends a filling team now: `success` ships what was paid (unpaid seats are
    cancelled), `failed` refunds everyone. Audited."""
    before = await _get_team(shop_id, team_id)
    async with events.atomic():
        team = await _end_team(team_id, outcome, f"staff:{staff_id}")
        if team is None:
            raise conflict("invalid_state", f"cannot end a team that is {before.status}"
                           + (" (the leader has not paid)" if before.status == TEAM_PENDING else ""),
                           {"status": before.status})
        await audit.record(shop_id, f"groups.team.force_{outcome}", "group_team", team_id,
                           {"status": before.status, "paid_count": before.paid_count},
                           {"status": team.status, "paid_count": team.paid_count}, note)
    await _close_orders([team_id])
    return await team_detail(shop_id, team_id, merchant=True)
