"""The live WebSocket connections of this process.

The WebSocket handler adds each connection as it opens and discards it as it closes; the rest of
the process finds them here without importing a handler: shutdown closes them all, a control
message finds the ones signed in as a principal, metrics count them.
"""
from __future__ import annotations

from typing import Any, Protocol


class Connection(Protocol):
    principal: tuple[str, Any] | None  # ("member", Member) / ("merchant", Staff); None: anonymous

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


live: set[Connection] = set()


def add(connection: Connection) -> None:
    live.add(connection)


def discard(connection: Connection) -> None:
    live.discard(connection)


def is_live(connection: Connection) -> bool:
    return connection in live


def close_all(code: int, reason: str) -> None:
    for connection in list(live):
        connection.close(code, reason)


def signed_in(member_id: int | None = None, staff_id: int | None = None,
              shop_id: int | None = None) -> list[Connection]:
    """The connections signed in as member `member_id`, as staff `staff_id`, or as anyone (staff
    or member) of shop `shop_id`; a None criterion matches nothing."""
    found = []
    for connection in list(live):
        kind, who = connection.principal or (None, None)
        if who is None:
            continue
        if (kind == "member" and member_id is not None and who.id == member_id) \
                or (kind == "merchant" and staff_id is not None and who.id == staff_id) \
                or (shop_id is not None and who.shop_id == shop_id):
            found.append(connection)
    return found


def staff_of(shop_id: int) -> list[Connection]:
    """The connections signed in as staff of shop `shop_id`."""
    return [connection for connection in list(live)
            if connection.principal is not None and connection.principal[0] == "merchant"
            and connection.principal[1].shop_id == shop_id]
