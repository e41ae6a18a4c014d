"""Timed jobs: each a PeriodicCallback calling one service function.

Every job is idempotent and safe when N processes run it at once (services use conditional
updates), so no leader election is needed. Jobs register themselves in `JOBS`.
"""
from __future__ import annotations

import logging

import tornado.ioloop

log = logging.getLogger("mall.jobs")

# (name, coroutine function taking the runtime); filled as modules land
JOBS: list = []


def start_jobs(runtime) -> list[tornado.ioloop.PeriodicCallback]:
    import tasks.counters  # noqa: F401  (modules register their jobs)
    import tasks.events  # noqa: F401
    import tasks.orders  # noqa: F401

    interval_ms = runtime.config.job_interval_seconds * 1000
    callbacks = []
    for name, job in JOBS:
        async def run(name=name, job=job):
            try:
                await job(runtime)
            except Exception:
                log.exception("job %s failed; it runs again next interval", name)

        # jitter so that N processes started together do not hit the database in lockstep
        callback = tornado.ioloop.PeriodicCallback(run, interval_ms, jitter=0.1)
        callback.start()
        callbacks.append(callback)
    return callbacks


