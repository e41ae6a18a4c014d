"""The operation log: one call records who did what to which object, before and after."""
from __future__ import annotations

import json

from models.audit import AuditLog


async def record(shop_id: int, actor: str, action: str, object_type: str, object_id: int,
                 before: dict | None = None, after: dict | None = None, note: str = "") -> None:
    """Call inside the transaction of the change, so the log and the change commit together."""
    await AuditLog.aio_create(shop_id=shop_id, actor=actor, action=action, object_type=object_type,
                              object_id=object_id, before=json.dumps(before or {}, ensure_ascii=False, default=str),
                              after=json.dumps(after or {}, ensure_ascii=False, default=str), note=note[:255])
