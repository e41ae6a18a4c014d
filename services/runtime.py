"""The process-wide parts that services share: config, token secret, Redis, limiters, event bus.

`server.py` builds one `Runtime` at start and installs it with `install()`; services reach it
through `current()`. Keeping it in one place means a service never imports a handler and tests
can start a server with their own settings.
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
    limiter: Any = None  # services.account.LoginLimiter
    registrations: Any = None  # services.account.RegistrationLimiter; None: no limit
    bus: Any = None  # events.bus.Bus
    relay: Any = None  # events.relay.Relay
    hub: Any = None  # handlers.ws.Hub


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("runtime not installed; start through server.py")
    return _current
