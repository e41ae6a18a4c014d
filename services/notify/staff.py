"""Staff who hear of new paid orders and after-sale requests through the shop's official account
(公众号 template messages). Each binds their own WeChat by OAuth on that account; a message goes
only to staff who are bound on the shop's current official account, active, and hold the order
board's permission (`orders.view`) — checked when the event is queued and again just before the
send, so someone disabled or stripped of the permission meanwhile gets nothing."""
from __future__ import annotations

import peewee

import events
from lib.errors import Unauthenticated, conflict, field_error
from models.base import iso, utcnow
from models.user import Role, Staff
from models.wechat import ShopWechat, StaffWechat
from services import audit, perm, wechat

ALERT_PERMISSION = "orders.view"  # the order board's: whoever may watch orders live hears of them on WeChat


async def recipients(shop_id: int) -> list[tuple[int, str]]:
    """(staff id, openid) of everyone who receives the shop's alerts now."""
    config = await ShopWechat.aio_get_or_none(ShopWechat.shop_id == shop_id)
    if not (config and config.oa_app_id):
        return []
    bindings = {row.staff_id: row.openid for row in await StaffWechat.select().where(
        (StaffWechat.shop_id == shop_id) & (StaffWechat.app_id == config.oa_app_id)).aio_execute()}
    if not bindings:
        return []
    staff = await Staff.select().where((Staff.shop_id == shop_id) & Staff.id.in_(list(bindings))
                                       & (Staff.is_active == True)).order_by(Staff.id).aio_execute()  # noqa: E712
    role_ids = {member.role_id for member in staff if member.role_id and not member.is_owner}
    roles = {role.id: role for role in await Role.select().where(
        (Role.shop_id == shop_id) & Role.id.in_(list(role_ids))).aio_execute()} if role_ids else {}
    return [(member.id, bindings[member.id]) for member in staff
            if ALERT_PERMISSION in perm.effective(member, roles.get(member.role_id))]


async def receives(shop_id: int, staff_id: int, openid: str) -> bool:
    return (staff_id, openid) in await recipients(shop_id)


async def _binding(staff: Staff) -> StaffWechat | None:
    return await StaffWechat.aio_get_or_none((StaffWechat.shop_id == staff.shop_id) & (StaffWechat.staff_id == staff.id))


async def binding(staff: Staff) -> dict:
    """The signed-in staff member's binding, and whether alerts reach them now."""
    row = await _binding(staff)
    if row is None:
        return {"bound": False, "app_id": None, "openid": None, "bound_at": None, "receives_alerts": False}
    return {"bound": True, "app_id": row.app_id, "openid": row.openid, "bound_at": iso(row.bound_at),
            "receives_alerts": await receives(staff.shop_id, staff.id, row.openid)}


async def bind(staff: Staff, code: str) -> dict:
    """Bind (or re-bind) the staff member's WeChat from an OAuth code of the shop's official account."""
    try:
        app_id, openid = await wechat.official_account_openid(staff.shop_id, code)
    except Unauthenticated:  # the staff member is signed in; it is the code that is wrong
        raise field_error("code", "the WeChat code is invalid, used or expired") from None

    async def save():
        mine = (StaffWechat.shop_id == staff.shop_id) & (StaffWechat.staff_id == staff.id)
        if await StaffWechat.select().where((StaffWechat.shop_id == staff.shop_id) & (StaffWechat.app_id == app_id)
                                            & (StaffWechat.openid == openid) & ~mine).aio_exists():
            raise conflict("wechat_already_bound", "this WeChat account is bound to another staff member of the shop")
        before = await StaffWechat.aio_get_or_none(mine)
        if before is None:
            await StaffWechat.insert(shop_id=staff.shop_id, staff_id=staff.id, app_id=app_id, openid=openid).aio_execute()
        else:
            await StaffWechat.update(app_id=app_id, openid=openid, bound_at=utcnow()).where(mine).aio_execute()
        await audit.record(staff.shop_id, "staff.wechat_bind", "staff", staff.id,
                           {"app_id": before.app_id, "openid": before.openid} if before else None,
                           {"app_id": app_id, "openid": openid})
    for attempt in range(2):
        try:
            await events.transaction(save)
            break
        except peewee.IntegrityError:  # a concurrent bind won: ours again sees it (its own row, or a colleague's)
            if attempt:
                raise conflict("wechat_already_bound", "this WeChat account is bound to another staff member") from None
    return await binding(staff)


async def unbind(staff: Staff) -> None:
    """No more alerts to this staff member (queued ones are skipped at send time)."""
    async def remove():
        row = await _binding(staff)
        if row is None:
            return
        await StaffWechat.delete().where(StaffWechat.id == row.id).aio_execute()
        await audit.record(staff.shop_id, "staff.wechat_unbind", "staff", staff.id,
                           {"app_id": row.app_id, "openid": row.openid}, None)
    await events.transaction(remove)
