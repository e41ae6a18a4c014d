"""Control messages: server-to-server news that every process must act on.

A service records one on the `control` channel inside its transaction (`events.record(
CONTROL_CHANNEL, "shop.changed", {...})`), so it goes out only if the change commits and reaches
every process, the sender's too. Each layer registers at import what it does on a type: services
forget their cached copies (`shop.changed`), the WebSocket layer ends the connections whose access
went (`access.revoked`, `access.changed`). So events dispatches without importing either.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

CONTROL_CHANNEL = "control"  # no client can subscribe to it (not a channel of events.channels)

log = logging.getLogger("mall.control")

_callbacks: dict[str, list[Callable[[dict], None]]] = {}


def on_control(type_: str, callback: Callable[[dict], None]) -> None:
    """Call `callback(data)` for every `type_` control message this process receives."""
    callbacks = _callbacks.setdefault(type_, [])
    if callback not in callbacks:
        callbacks.append(callback)


def dispatch(type_: str, data: dict) -> None:
    """Run each callback of `type_`; one that fails is logged and does not stop the others."""
    for callback in list(_callbacks.get(type_, ())):
        try:
            callback(data)
        except Exception:
            log.exception("control message %s: %r failed", type_, callback)
