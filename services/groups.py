"""Group-buy (拼团): campaigns with team tiers, teams that fill live, expiry with refunds.

Seats and payments are two counters on the team row, each moved by a conditional UPDATE:
- `seats_taken` (members whose orders hold a seat, paid or not) never exceeds `team_size`: a join
  takes a seat or gets 409; a cancelled or expired unpaid order gives its seat back.
- `paid_count` never exceeds `team_size` either, even when payments race: a payment that finds
  no paid seat left is refused (balance: nothing charged) or refunded (WeChat: money already taken).
A team is `pending` until its leader pays, then `open`; it becomes `success` in the transaction
that takes its last paid seat, and `failed` at `expires_at`, when the job refunds every paid
order exactly once (the order transition is conditional) and returns stock.
Events: `team.progress` / `team.success` / `team.failed` on `team:{id}`, `activity.joined` on
`activity:{id}` (the live "just joined" stream), `team.success` to the shop's order channel.
"""
from __future__ import annotations

import datetime
import json

import events
from lib.errors import conflict, invalid, not_found
from models.base import iso, paginate, utcnow
from models.groups import (
    TEAM_FAILED,
    TEAM_OPEN,
    TEAM_PENDING,
    TEAM_SUCCESS,
    GroupActivity,
    GroupMember,
    GroupTeam,
)
from models.member import Member
from models.order import CANCELLED, PAID, UNPAID, Order
from services import goods as goods_service
from services import order as order_service
from services import pricing, sysset

JOB_BATCH = 100


# ---------------------------------------------------------------- campaigns
def render_activity(activity: GroupActivity) -> dict:
    return {"id": activity.id, "title": activity.title, "goods_id": activity.goods_id,
            "tiers": json.loads(activity.tiers), "single_price_fen": activity.single_price_fen,
            "duration_seconds": activity.duration_seconds, "purchase_limit": activity.purchase_limit,
            "starts_at": iso(activity.starts_at), "ends_at": iso(activity.ends_at), "enabled": activity.enabled}


async def create_activity(shop_id: int, fields: dict) -> dict:
    await goods_service.get_goods(shop_id, fields["goods_id"])
    sizes = [tier["team_size"] for tier in fields["tiers"]]
    if len(set(sizes)) != len(sizes):
        raise invalid("request body is invalid", {"fields": [{"field": "tiers", "message": "team sizes must be distinct"}]})
    if fields.get("starts_at") and fields.get("ends_at") and fields["ends_at"] <= fields["starts_at"]:
        raise invalid("request body is invalid", {"fields": [{"field": "ends_at", "message": "must be after starts_at"}]})
    columns = {**fields, "tiers": json.dumps(sorted(fields["tiers"], key=lambda t: t["team_size"]))}
    for key in ("starts_at", "ends_at"):
        if columns.get(key) is not None and columns[key].tzinfo is not None:
            columns[key] = columns[key].astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return render_activity(await GroupActivity.aio_create(shop_id=shop_id, **columns))


async def get_activity(shop_id: int, activity_id: int, live_only: bool = False) -> GroupActivity:
    activity = await GroupActivity.aio_get_or_none((GroupActivity.shop_id == shop_id) & (GroupActivity.id == activity_id))
    if activity is None or (live_only and not activity.enabled):
        raise not_found("activity")
    return activity


async def list_activities(shop_id: int, page: int, page_size: int, live_only: bool) -> dict:
    query = GroupActivity.select().where(GroupActivity.shop_id == shop_id).order_by(GroupActivity.id.desc())
    if live_only:
        now = utcnow()
        query = query.where((GroupActivity.enabled == True)  # noqa: E712
                            & (GroupActivity.starts_at.is_null() | (GroupActivity.starts_at <= now))
                            & (GroupActivity.ends_at.is_null() | (GroupActivity.ends_at > now)))
    return await paginate(query, page, page_size, render_activity)


async def activity_detail(shop_id: int, activity_id: int) -> dict:
    activity = await get_activity(shop_id, activity_id, live_only=True)
    open_teams = await (GroupTeam.select().where((GroupTeam.shop_id == shop_id) & (GroupTeam.activity_id == activity_id)
                                                 & (GroupTeam.status == TEAM_OPEN) & (GroupTeam.expires_at > utcnow()))
                        .order_by((GroupTeam.team_size - GroupTeam.paid_count), GroupTeam.expires_at).limit(10).aio_execute())
    return {**render_activity(activity), "open_teams": [render_team(t) for t in open_teams],
            "channel": await events.position(f"activity:{activity_id}")}


# ---------------------------------------------------------------- teams
def render_team(team: GroupTeam) -> dict:
    return {"id": team.id, "activity_id": team.activity_id, "status": team.status, "team_size": team.team_size,
            "price_fen": team.price_fen, "paid_count": team.paid_count, "seats_left": team.team_size - team.seats_taken,
            "expires_at": iso(team.expires_at)}


async def team_detail(shop_id: int, team_id: int) -> dict:
    position = await events.position(f"team:{team_id}")  # before the read: nothing after it is missed
    team = await GroupTeam.aio_get_or_none((GroupTeam.shop_id == shop_id) & (GroupTeam.id == team_id))
    if team is None:
        raise not_found("team")
    paid = await (Member.select(Member.nickname, Member.avatar)
                  .join(GroupMember, on=(GroupMember.member_id == Member.id))
                  .join(Order, on=(Order.id == GroupMember.order_id))
                  .where((GroupMember.team_id == team_id) & (Order.status > UNPAID)).order_by(GroupMember.id).aio_execute())
    return {**render_team(team), "members": [{"nickname": m.nickname, "avatar": m.avatar} for m in paid],
            "seq": position["seq"], "epoch": position["epoch"]}


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
    return await paginate(query, page, page_size, render_team)


def _tier_price(activity: GroupActivity, team_size: int) -> int:
    for tier in json.loads(activity.tiers):
        if tier["team_size"] == team_size:
            return tier["price_fen"]
    raise invalid("request body is invalid", {"fields": [{"field": "team_size", "message": "not a tier of this activity"}]})


async def _check_rules(shop_id: int, member: Member, activity: GroupActivity) -> None:
    now = utcnow()
    if not activity.enabled or (activity.starts_at and activity.starts_at > now) or (activity.ends_at and activity.ends_at <= now):
        raise conflict("activity_closed", "this group-buy is not running")
    mine = (GroupMember.select(Order.id, Order.status).join(Order, on=(Order.id == GroupMember.order_id))
            .join(GroupTeam, on=(GroupTeam.id == GroupMember.team_id))
            .where((GroupMember.shop_id == shop_id) & (GroupMember.member_id == member.id)
                   & (GroupTeam.activity_id == activity.id) & (Order.status != CANCELLED)))
    rows = list(await mine.dicts().aio_execute())
    unpaid = [row["id"] for row in rows if row["status"] == UNPAID]
    if unpaid:
        raise conflict("unpaid_order_exists", "pay or cancel your open order of this group-buy first",
                       {"order_id": unpaid[0]})
    if activity.purchase_limit and len(rows) >= activity.purchase_limit:
        raise conflict("purchase_limit_exceeded", f"at most {activity.purchase_limit} per member in this group-buy")


async def _order_for(shop_id: int, member: Member, activity: GroupActivity, price_fen: int, address_id: int,
                     team: GroupTeam, is_leader: bool):
    snapshot = await order_service.address_snapshot(shop_id, member, address_id)
    settings = await sysset.get_settings(shop_id)
    lines = await pricing.load_lines(shop_id, [{"goods_id": activity.goods_id, "quantity": 1}])
    lines[0].unit_price_fen = price_fen
    priced = await pricing.price(shop_id, member, lines, None, settings)
    order = await order_service.place_order(shop_id, member, priced, snapshot, settings, team_id=team.id)
    await GroupMember.aio_create(shop_id=shop_id, team_id=team.id, member_id=member.id, order_id=order.id,
                                 is_leader=is_leader)
    return order


async def buy_alone(shop_id: int, member: Member, activity_id: int, address_id: int) -> dict:
    """An ordinary order of the campaign's goods at its buy-alone price (no team)."""
    activity = await get_activity(shop_id, activity_id, live_only=True)
    if activity.single_price_fen is None:
        raise conflict("buy_alone_unavailable", "this group-buy is sold in teams only")
    now = utcnow()
    if (activity.starts_at and activity.starts_at > now) or (activity.ends_at and activity.ends_at <= now):
        raise conflict("activity_closed", "this group-buy is not running")
    snapshot = await order_service.address_snapshot(shop_id, member, address_id)
    settings = await sysset.get_settings(shop_id)
    lines = await pricing.load_lines(shop_id, [{"goods_id": activity.goods_id, "quantity": 1}])
    lines[0].unit_price_fen = activity.single_price_fen
    priced = await pricing.price(shop_id, member, lines, None, settings)
    async with events.atomic():
        order = await order_service.place_order(shop_id, member, priced, snapshot, settings)
    return await order_service.order_detail(shop_id, order.id, member.id)


async def _lock_member(member: Member) -> None:
    # one group-buy order at a time per member: the unpaid-order and purchase-limit rules hold
    await Member.update(token_version=Member.token_version).where(Member.id == member.id).aio_execute()


async def open_team(shop_id: int, member: Member, activity_id: int, team_size: int, address_id: int) -> dict:
    activity = await get_activity(shop_id, activity_id, live_only=True)
    price = _tier_price(activity, team_size)
    async with events.atomic():
        await _lock_member(member)
        await _check_rules(shop_id, member, activity)
        team = await GroupTeam.aio_create(shop_id=shop_id, activity_id=activity.id, leader_member_id=member.id,
                                          team_size=team_size, price_fen=price,
                                          expires_at=utcnow() + datetime.timedelta(seconds=activity.duration_seconds))
        order = await _order_for(shop_id, member, activity, price, address_id, team, is_leader=True)
    return {"team": await team_detail(shop_id, team.id),
            "order": await order_service.order_detail(shop_id, order.id, member.id)}


async def join_team(shop_id: int, member: Member, team_id: int, address_id: int) -> dict:
    team = await GroupTeam.aio_get_or_none((GroupTeam.shop_id == shop_id) & (GroupTeam.id == team_id))
    if team is None:
        raise not_found("team")
    activity = await get_activity(shop_id, team.activity_id, live_only=True)
    async with events.atomic():
        await _lock_member(member)
        await _check_rules(shop_id, member, activity)
        if await GroupMember.select().where((GroupMember.team_id == team_id) & (GroupMember.member_id == member.id)).aio_exists():
            raise conflict("already_in_team", "you are already in this team")
        took = await GroupTeam.update(seats_taken=GroupTeam.seats_taken + 1).where(
            (GroupTeam.id == team_id) & (GroupTeam.status == TEAM_OPEN) & (GroupTeam.seats_taken < GroupTeam.team_size)
            & (GroupTeam.expires_at > utcnow())).aio_execute()
        if not took:
            raise conflict("team_full", "this team is full or closed")
        order = await _order_for(shop_id, member, activity, team.price_fen, address_id, team, is_leader=False)
    return {"team": await team_detail(shop_id, team_id),
            "order": await order_service.order_detail(shop_id, order.id, member.id)}


async def team_succeeded(team_id: int) -> bool:
    return await GroupTeam.select().where((GroupTeam.id == team_id) & (GroupTeam.status == TEAM_SUCCESS)).aio_exists()


async def _team_event(team: GroupTeam, type_: str) -> None:
    await events.record(f"team:{team.id}", type_, {"team_id": team.id, "status": team.status, "paid_count": team.paid_count,
                                                   "team_size": team.team_size, "expires_at": iso(team.expires_at)})


async def on_order_paid(order: Order) -> bool:
    """Inside the payment's transaction: take a paid seat. False when none is left (the caller
    refuses or refunds the payment)."""
    took = await GroupTeam.update(paid_count=GroupTeam.paid_count + 1).where(
        (GroupTeam.id == order.team_id) & (GroupTeam.paid_count < GroupTeam.team_size)
        & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_execute()
    if not took:
        return False
    team = await GroupTeam.aio_get(GroupTeam.id == order.team_id)
    changes = {}
    if team.status == TEAM_PENDING:
        changes["status"] = TEAM_OPEN
    if team.paid_count == team.team_size:
        changes.update(status=TEAM_SUCCESS, succeeded_at=utcnow())
    if changes:
        await GroupTeam.update(**changes).where(GroupTeam.id == team.id).aio_execute()
        team = await GroupTeam.aio_get(GroupTeam.id == team.id)
    member = await Member.aio_get(Member.id == order.member_id)
    await _team_event(team, "team.progress")
    await events.record(f"activity:{team.activity_id}", "activity.joined",
                        {"team_id": team.id, "nickname": member.nickname, "avatar": member.avatar})
    if team.status == TEAM_SUCCESS:
        await _team_event(team, "team.success")
        await events.record(f"shop:{team.shop_id}:orders", "team.success",
                            {"team_id": team.id, "activity_id": team.activity_id, "team_size": team.team_size})
    return True


async def release_seat(order: Order) -> None:
    """Inside the cancelling transaction of an unpaid group order: give its seat back; a pending
    team whose leader never paid fails."""
    await GroupTeam.update(seats_taken=GroupTeam.seats_taken - 1).where(
        (GroupTeam.id == order.team_id) & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_execute()
    await GroupMember.delete().where(GroupMember.order_id == order.id).aio_execute()
    failed = await GroupTeam.update(status=TEAM_FAILED, failed_at=utcnow()).where(
        (GroupTeam.id == order.team_id) & (GroupTeam.status == TEAM_PENDING)
        & (GroupTeam.leader_member_id == order.member_id)).aio_execute()
    if failed:
        await _team_event(await GroupTeam.aio_get(GroupTeam.id == order.team_id), "team.failed")


async def expire_teams() -> int:
    """Fail teams past expires_at, then refund their paid orders and cancel the unpaid ones.
    Safe in N processes: the status change is conditional; so is each order's."""
    due = await (GroupTeam.select(GroupTeam.id).where(GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])
                                                      & (GroupTeam.expires_at <= utcnow()))
                 .order_by(GroupTeam.id).limit(JOB_BATCH).aio_execute())
    failed = 0
    for row in due:
        async with events.atomic():
            if await GroupTeam.update(status=TEAM_FAILED, failed_at=utcnow()).where(
                    (GroupTeam.id == row.id) & GroupTeam.status.in_([TEAM_PENDING, TEAM_OPEN])).aio_execute():
                failed += 1
                await _team_event(await GroupTeam.aio_get(GroupTeam.id == row.id), "team.failed")
    # refunds run for every failed team's open orders, so a run that died half-way is finished later
    orders = await (Order.select(Order.shop_id, Order.id, Order.status).join(GroupTeam, on=(GroupTeam.id == Order.team_id))
                    .where((GroupTeam.status == TEAM_FAILED) & Order.status.in_([UNPAID, PAID]))
                    .limit(JOB_BATCH * 10).aio_execute())
    for order in orders:
        if order.status == UNPAID:
            await order_service.cancel_order(order.shop_id, order.id, "system", "team_failed")
        else:
            await order_service.refund_for_failed_team(order.shop_id, order.id)
    return failed
