"""The process-wide handles every layer shares: config, token secret, Redis, limiters, event bus.

`server.py` builds one `Runtime` at start and installs it with `install()`; code reaches it
through `current()`. It only holds references, so it sits on the lowest floor (lib): events and
services read it without importing each other or a handler, and tests can start a server with
their own settings.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from lib.config import Config


@dataclasses.dataclass
class Runtime:
    config: Config
    jwt_secret: str
    redis: Any = None  # redis.asyncio.Redis, or None in embedded mode
    redis_prefix: str = ""  # of every Redis key: the configured prefix and the database identity
    database_identity: str = ""  # drawn when the schema was created; tokens carry it (claim `dbi`)
    limiter: Any = None  # services.credentials.LoginLimiter
    registrations: Any = None  # services.credentials.RegistrationLimiter; None: no limit
    bus: Any = None  # events.bus.Bus
    relay: Any = None  # events.relay.Relay
    hub: Any = None  # events.hub.Hub


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("runtime not installed; start through server.py")
    return _current
