"""A small per-process cache with expiry, for reads that are safe to serve slightly old.

What is cached and why it is safe is decided where it is used (services.shop: shop status,
dropped at once on change in every process through the control bus message; services.goods:
shopper goods pages for one second). Nothing that moves money or stock reads from here.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

MAX_ENTRIES = 10_000


class TTLCache:
    def __init__(self, ttl_seconds: float, max_entries: int = MAX_ENTRIES):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.entries: dict[Hashable, tuple[float, Any]] = {}
        self.loading: dict[Hashable, asyncio.Future] = {}

    def get(self, key: Hashable) -> Any | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self.entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if len(self.entries) >= self.max_entries:
            self.entries.clear()  # crude but bounded: a full cache starts over
        self.entries[key] = (time.monotonic() + self.ttl, value)

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[tuple[Any, bool]]]) -> Any:
        """The cached value, or `load()`'s — run once however many requests miss together (when
        an entry expires under load, one request reads the database and the others wait for it).
        `load` returns (value, keep): keep=False answers without caching."""
        value = self.get(key)
        if value is not None:
            return value
        pending = self.loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self.loading[key] = future
        try:
            value, keep = await load()
            if keep and self.loading.get(key) is future:  # not dropped while it loaded
                self.put(key, value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            if self.loading.get(key) is future:
                del self.loading[key]

    def drop(self, key: Hashable) -> None:
        """Forget the key, and a load in flight for it: that read began before the change that
        calls this, so its answer goes to the requests already waiting but is not kept."""
        self.entries.pop(key, None)
        self.loading.pop(key, None)

    def clear(self) -> None:
        self.entries.clear()
