"""Liveness of the parts a request depends on, for load balancers and operators."""
from __future__ import annotations

import asyncio

from lib.runtime import current
from models.db import database

CHECK_TIMEOUT_S = 2.0  # a health probe must answer fast even when a dependency hangs


async def _database_ok() -> bool:
    await database.aio_execute_sql("SELECT 1")
    return True


async def _bus_ok() -> bool:
    bus = current().bus
    return await bus.ping() if bus is not None else True


async def check() -> dict:
    report = {"status": "ok"}
    for name, probe in (("database", _database_ok), ("bus", _bus_ok)):
        try:
            ok = await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        except Exception:  # any failure of a probe is "down", whatever the driver raised
            ok = False
        report[name] = "ok" if ok else "down"
        if not ok:
            report["status"] = "degraded"
    return report
