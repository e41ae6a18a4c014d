"""A shipped order's parcel route, from the shop's tracking provider, cached per tracking number.

However many shoppers and merchants look, the provider is asked at most once per TTL: in a
process, concurrent lookups of one parcel await one refresh (`_inflight`); across processes, the
refresher first claims the cache row with a conditional UPDATE (due, and not claimed by a live
refresher), and the others wait for the claim to end and read what it stored. A provider that
fails is not asked again for FAILED_RETRY_S; meanwhile the last route is served flagged `stale`,
or 503 when there is none. A route that says "delivered" brings the order's auto-confirm forward
to `order.confirm_days_after_delivered` days after the delivery (the auto-confirm job applies it).
"""
from __future__ import annotations

import asyncio
import datetime
import json
import secrets
import time

import events
from lib.errors import ServiceUnavailable, conflict
from models.base import iso, utcnow
from models.order import COMPLETED, SHIPPED
from models.tracking import ExpressCache
from services import orders, sysset
from services.tracking.providers import PROVIDERS, Account, Provider, ProviderDown

CLAIM_S = 15  # longer than a provider call may take (providers.TIMEOUT_S): a dead refresher's claim ends
WAIT_POLL_S = 0.05  # how often a process waiting for another's refresh looks at the row
FAILED_RETRY_S = 60  # a failing provider is asked again after this, not by every shopper who looks

_inflight: dict[tuple, asyncio.Future] = {}  # (shop, company code, number) -> this process's refresh


async def order_tracking(shop_id: int, order_id: int, member_id: int | None = None) -> dict:
    """The route of the order's parcel (the member's own order when `member_id` is given)."""
    order = await orders.get_order(shop_id, order_id, member_id)
    if order.status not in (SHIPPED, COMPLETED) or not order.express_no:
        raise conflict("not_shipped", "the order has no parcel to track (not shipped by express)",
                       {"status": order.status})
    settings = await sysset.get_settings(shop_id)
    rules = settings.tracking
    if not (rules.customer and rules.key):
        raise conflict("tracking_not_configured", "the shop has no parcel tracking account configured")
    provider = PROVIDERS[rules.provider]
    company = provider.company_code(order.express_company)
    mine = (ExpressCache.shop_id == shop_id) & (ExpressCache.company == company) & \
           (ExpressCache.express_no == order.express_no)
    row = await ExpressCache.aio_get_or_none(mine)
    if row is None or row.refresh_at <= utcnow():
        key = (shop_id, company, order.express_no)
        refresh = _inflight.get(key)
        if refresh is None:
            mobile = json.loads(order.address or "{}").get("mobile", "")
            refresh = asyncio.ensure_future(_refresh(
                mine, provider, Account(rules.customer, rules.key), company, order, mobile[-4:],
                datetime.timedelta(minutes=rules.cache_minutes), settings.order.confirm_days_after_delivered))
            _inflight[key] = refresh
            refresh.add_done_callback(lambda _done: _inflight.pop(key, None))
        row = await asyncio.shield(refresh)
    return _render(order, provider, row, datetime.timedelta(minutes=rules.cache_minutes))


async def _refresh(mine, provider: Provider, account: Account, company: str, order, phone: str,
                   ttl: datetime.timedelta, confirm_days: int | None) -> ExpressCache | None:
    now = utcnow()
    await ExpressCache.insert(shop_id=order.shop_id, company=company, express_no=order.express_no,
                              provider=provider.name, refresh_at=now).on_conflict_ignore().aio_execute()
    claim = secrets.token_hex(8)
    taken = await (ExpressCache.update(claim=claim, claimed_until=now + datetime.timedelta(seconds=CLAIM_S))
                   .where(mine & (ExpressCache.refresh_at <= now)
                          & (ExpressCache.claimed_until.is_null() | (ExpressCache.claimed_until < now)))
                   .aio_execute())
    if not taken:
        return await _await_other(mine)
    claimed = mine & (ExpressCache.claim == claim)
    try:
        route = await provider.query(account, company, order.express_no, phone)
    except ProviderDown as exc:
        await ExpressCache.update(error=str(exc)[:255], claimed_until=None,
                                  refresh_at=utcnow() + datetime.timedelta(seconds=FAILED_RETRY_S)).where(claimed).aio_execute()
        return await ExpressCache.aio_get_or_none(mine)

    async def store():
        fetched = utcnow()
        await ExpressCache.update(provider=provider.name, state=route.state, delivered_at=route.delivered_at,
                                  route=json.dumps(route.events, ensure_ascii=False), fetched_at=fetched,
                                  refresh_at=fetched + ttl, error="", claimed_until=None).where(claimed).aio_execute()
        if route.delivered_at is not None and confirm_days is not None:
            await orders.confirm_after_delivery(order.shop_id, order.express_company, order.express_no,
                                                route.delivered_at + datetime.timedelta(days=confirm_days))
    await events.transaction(store)
    return await ExpressCache.aio_get_or_none(mine)


async def _await_other(mine) -> ExpressCache | None:
    """Another process holds the refresh: its answer, once its claim ends (or lapses)."""
    deadline = time.monotonic() + CLAIM_S + 1
    while True:
        row = await ExpressCache.aio_get_or_none(mine)
        if row is None or row.claimed_until is None or row.claimed_until < utcnow() or time.monotonic() > deadline:
            return row
        await asyncio.sleep(WAIT_POLL_S)


def _render(order, provider: Provider, row: ExpressCache | None, ttl: datetime.timedelta) -> dict:
    if row is None or row.fetched_at is None:
        raise ServiceUnavailable("tracking_unavailable", "the parcel tracking provider is unavailable; retry shortly")
    return {"order_id": order.id, "express_company": order.express_company, "express_no": order.express_no,
            "provider": row.provider or provider.name, "company_code": row.company, "state": row.state,
            "delivered": row.delivered_at is not None, "delivered_at": iso(row.delivered_at),
            "events": json.loads(row.route), "fetched_at": iso(row.fetched_at),
            # the provider failed to refresh it (`error` says why), or it is older than the TTL
            "stale": bool(row.error) or row.fetched_at + ttl <= utcnow(), "error": row.error or None}
