"""Timed jobs: each a PeriodicCallback calling one service function.

Every job is idempotent and safe when N processes run it at once (services use conditional
updates), so no leader election is needed. Each module lists its jobs in `JOBS`:
- orders: unpaid orders past their deadline, auto-confirm, group-buy teams at their deadline,
  WeChat payments whose notification never came and refunds owed
- flash: flash sales that end (pools back to the goods) or start (announced)
- money: commission settlement, WeChat withdrawals, coupon expiry
- housekeeping: display counters, the published outbox, daily statistics
- notify: WeChat subscription messages and shipping-info uploads due (sends and retries)
"""
from __future__ import annotations

import logging

import tornado.ioloop

from tasks import flash, housekeeping, money, notify, orders

log = logging.getLogger("mall.jobs")

JOBS = orders.JOBS + flash.JOBS + money.JOBS + housekeeping.JOBS + notify.JOBS  # (name, coroutine function taking the runtime)


def start_jobs(runtime) -> list[tornado.ioloop.PeriodicCallback]:
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
