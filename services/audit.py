"""The operation log (audit): who did what to which object, with before/after for sensitive
changes (prices, balances, refunds, settings, staff, withdrawals, team endings).

Who acts is set once per request by the audience base handlers (`acting_as`), so services record
an entry with one call inside the transaction of the change, and the two commit together.
Timed jobs act as "system".
"""
from __future__ import annotations

import contextvars
import json

from models.audit import AuditLog
from models.base import iso, paginate

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("audit_actor", default="system")

SECRET_FIELDS = ("private_key", "apiv3_key", "v2_api_key", "v2_cert_pem", "v2_key_pem", "app_secret",
                 "mini_app_secret", "oa_app_secret", "password", "public_key")


def acting_as(actor: str) -> None:
    """Called by the base handlers at the start of every request ("staff:7", "admin:1", "member:9")."""
    _actor.set(actor)


def actor() -> str:
    return _actor.get()


def _clean(values: dict | None) -> str:
    # secrets never enter the log, not even hashed: only that they changed
    shown = {k: ("(changed)" if k in SECRET_FIELDS else v) for k, v in (values or {}).items()}
    return json.dumps(shown, ensure_ascii=False, default=str)


async def record(shop_id: int, action: str, object_type: str, object_id: int, before: dict | None = None,
                 after: dict | None = None, note: str = "", actor_name: str | None = None) -> None:
    """One entry by the current actor (or `actor_name`), inside the caller's transaction."""
    await AuditLog.aio_create(shop_id=shop_id, actor=actor_name or actor(), action=action, object_type=object_type,
                              object_id=object_id, before=_clean(before), after=_clean(after), note=note[:255])


def render(row: AuditLog) -> dict:
    return {"id": row.id, "actor": row.actor, "action": row.action, "object_type": row.object_type,
            "object_id": row.object_id, "before": json.loads(row.before), "after": json.loads(row.after),
            "note": row.note, "created_at": iso(row.created_at)}


async def list_entries(shop_id: int, page: int, page_size: int, *, object_type: str | None = None,
                       object_id: int | None = None, actor_name: str | None = None, action: str | None = None,
                       start=None, end=None) -> dict:
    query = AuditLog.select().where(AuditLog.shop_id == shop_id)
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if actor_name:
        query = query.where(AuditLog.actor == actor_name)
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if start:
        query = query.where(AuditLog.created_at >= start)
    if end:
        query = query.where(AuditLog.created_at < end)
    return await paginate(query.order_by(AuditLog.id.desc()), page, page_size, render)
