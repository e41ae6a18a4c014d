"""The live WebSocket connections of this process, and the heartbeat that pings them.

The WebSocket handler adds each connection as it opens and discards it as it closes; the rest of
the process finds them here without importing a handler: shutdown closes them all, a control
message finds the ones signed in as a principal, metrics count them, the heartbeat pings them.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from tornado.ioloop import PeriodicCallback

log = logging.getLogger("mall.ws")

# The ping interval is cut into this many ticks and the connections into as many slices (by
# identity); each tick pings one slice, so 10,000 sockets get 400 pings per tick, never 10,000 at
# once in one pass of the loop (heartbeats spread, as Zulip's event queue does).
HEARTBEAT_TICKS = 25


class Connection(Protocol):
    principal: tuple[str, Any] | None  # ("member", Member) / ("merchant", Staff); None: anonymous
    awaiting_pong: bool  # pinged by the heartbeat, no pong since

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...

    def send_ping(self) -> None: ...


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


class Heartbeat:
    """Pings every live connection once per interval and closes the ones that have not answered
    the previous ping, so a peer that vanished without a FIN is closed within two intervals.

    One timer for the process instead of Tornado's `websocket_ping_interval`, which keeps a
    sleeping Task (its coroutine, future and timer handle) per connection: about 1.3 KB each,
    measured with tracemalloc, and the largest part of what mall kept per idle connection beyond
    a bare Tornado server (bench/ws_memory.py). A tick walks a copy of the set once and pings
    the connections of its slice."""

    def __init__(self) -> None:
        self.interval_s = 0.0
        self._timer: PeriodicCallback | None = None
        self._tick_count = 0

    def start(self, interval_s: float) -> None:
        """(Re)start with this interval; 0 disables pings."""
        self.stop()
        self.interval_s = interval_s
        if interval_s > 0:
            self._timer = PeriodicCallback(self._tick, interval_s * 1000 / HEARTBEAT_TICKS)
            self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        turn = self._tick_count % HEARTBEAT_TICKS
        self._tick_count += 1
        silent = []
        for connection in list(live):
            if hash(connection) % HEARTBEAT_TICKS != turn:
                continue
            if connection.awaiting_pong:
                silent.append(connection)
            else:
                connection.awaiting_pong = True
                connection.send_ping()
        for connection in silent:  # closed after the walk: closing takes it out of `live`
            log.info("closing a WebSocket that did not answer a ping within %gs", self.interval_s)
            connection.close(1000, "ping timed out")


heartbeat = Heartbeat()
