"""Consent credits and the send job: claim a queued notification once, spend a credit, send it
through wechatpy (off the event loop), and settle it by WeChat's answer.

Two kinds of message share the log and its rules: a member's mini-program subscription message
(`cgi-bin/message/subscribe/send`, spends a consent credit) and a staff member's official-account
template message (`cgi-bin/message/template/send`, no credit: following the account is consent;
the staff member must still receive alerts when it is claimed, services/notify/staff.py).

Outcomes (WeChat's errcodes):
- 0: `sent`.
- 43101 (the user refused / has no subscription left), 43004 (the staff member no longer follows
  the official account): `refused`, final; the member's remaining credits for that template are
  cleared (WeChat no longer holds them).
- 45009 (rate limited), -1 (system busy), HTTP 5xx, timeouts, connection errors, an invalid
  access token: back to `pending` with back-off, the credit kept reserved for this row; after
  MAX_ATTEMPTS: `failed`.
- 40037 (bad template id), 47003 (bad data), 41030 (bad page), or no mini-program (for staff: no
  official account) configured: `config_error`, final, shown to the merchant; the credit is given back.
- anything else: `failed`, final; the credit is given back.
At most once: a row is claimed by a conditional UPDATE (pending -> sending) before the call, and a
row found still `sending` after STALE_CLAIM_S (its process died mid-send) becomes `unknown`,
never sent again. A read timeout is retried as the issue asks; WeChat has no idempotency key for
this API, so that is the one window where a message might arrive twice.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import logging
import secrets

import requests
from wechatpy.exceptions import WeChatClientException

import events
from lib.errors import field_error
from lib.runtime import current
from models.base import iso, paginate, utcnow
from models.notify import Notification, NotifyCredit
from models.wechat import ShopWechat
from services import sysset
from services.notify import staff
from services.notify import token as tokens
from services.notify.templates import STAFF_EVENTS, templates_for
from services.wechat import ConfiguredWeChatClient

log = logging.getLogger("mall.notify")

STATUSES = ("pending", "sending", "sent", "refused", "config_error", "failed", "skipped", "unknown")
MAX_ATTEMPTS = 6
RETRY_BASE_S = 2  # 2, 4, 8, 16, 32 s: a rate limit (45009) usually lifts within the minute
RETRY_MAX_S = 600
STALE_CLAIM_S = 120  # far longer than a send may take (5 s timeout): the claimer is dead
BATCH = 50  # rows claimed per job run and process
PARALLEL_SENDS = 8  # worker threads a job run keeps busy (wechatpy blocks)
REFUSED, UNFOLLOWED, RATE_LIMITED = 43101, 43004, 45009
CONFIG_ERRORS = {40037, 47003, 41030, 40013, 40125}  # + wrong appid / app secret (token fetch)
TOKEN_ERRORS = {40001, 40014, 42001}
TRANSIENT_ERRORS = {-1, RATE_LIMITED} | TOKEN_ERRORS


# ---------------------------------------------------------------- consent
async def grant(shop_id: int, member_id: int, template_ids: list[str]) -> dict:
    """One send per template the member accepted (what wx.requestSubscribeMessage returned)."""
    configured = {row.template_id for event, row in (await templates_for(shop_id)).items() if event not in STAFF_EVENTS}
    template_ids = list(dict.fromkeys(template_ids))  # one consent per template, however often it is listed
    for index, template_id in enumerate(template_ids):
        if template_id not in configured:
            raise field_error(f"template_ids.{index}", "not a template this shop sends")

    async def add():
        for template_id in template_ids:
            mine = ((NotifyCredit.shop_id == shop_id) & (NotifyCredit.member_id == member_id)
                    & (NotifyCredit.template_id == template_id))
            added = await (NotifyCredit.update(credits=NotifyCredit.credits + 1, updated_at=utcnow())
                           .where(mine).aio_execute())
            if not added:
                # a concurrent first grant may insert too: ignore, then count ours on the row it made
                inserted = await (NotifyCredit.insert(shop_id=shop_id, member_id=member_id, template_id=template_id,
                                                      credits=1).on_conflict_ignore().aio_execute())
                if not inserted:
                    await NotifyCredit.update(credits=NotifyCredit.credits + 1).where(mine).aio_execute()
    await events.transaction(add)
    return await credits(shop_id, member_id)


async def credits(shop_id: int, member_id: int) -> dict:
    rows = await (NotifyCredit.select().where((NotifyCredit.shop_id == shop_id) & (NotifyCredit.member_id == member_id))
                  .order_by(NotifyCredit.template_id).aio_execute())
    return {"items": [{"template_id": row.template_id, "credits": row.credits} for row in rows]}


def _credit(row: Notification):
    return ((NotifyCredit.shop_id == row.shop_id) & (NotifyCredit.member_id == row.member_id)
            & (NotifyCredit.template_id == row.template_id))


# ---------------------------------------------------------------- the send log
def render(row: Notification) -> dict:
    return {"id": row.id, "event": row.event, "event_id": row.event_id, "member_id": row.member_id,
            "staff_id": row.staff_id or None, "channel": "official_account" if row.staff_id else "mini_program",
            "template_id": row.template_id, "status": row.status, "attempts": row.attempts,
            "errcode": row.errcode, "error": row.error, "data": json.loads(row.payload).get("data"),
            "created_at": iso(row.created_at), "sent_at": iso(row.sent_at),
            "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None}


async def list_log(shop_id: int, page: int, page_size: int, status: str | None = None,
                   member_id: int | None = None, staff_id: int | None = None) -> dict:
    query = Notification.select().where(Notification.shop_id == shop_id).order_by(Notification.id.desc())
    if status:
        query = query.where(Notification.status == status)
    if member_id is not None:
        query = query.where(Notification.member_id == member_id)
    if staff_id is not None:
        query = query.where(Notification.staff_id == staff_id)
    return await paginate(query, page, page_size, render)


# ---------------------------------------------------------------- the job
async def send_due() -> int:
    """Send what is due; returns how many this run claimed. Safe in N processes at once."""
    now = utcnow()
    stale = now - datetime.timedelta(seconds=STALE_CLAIM_S)
    await (Notification.update(status="unknown", error="the sending process stopped mid-send; not sent again")
           .where((Notification.status == "sending") & (Notification.claimed_at < stale)).aio_execute())
    due = await (Notification.select(Notification.id)
                 .where((Notification.status == "pending") & (Notification.next_attempt_at <= now))
                 .order_by(Notification.next_attempt_at, Notification.id).limit(BATCH).aio_execute())
    claimed = [row for row in [await _claim(due_row.id) for due_row in due] if row is not None]
    gate = asyncio.Semaphore(PARALLEL_SENDS)

    async def one(row):
        async with gate:
            await _send(row)
    await asyncio.gather(*(one(row) for row in claimed))
    return len(claimed)


async def _claim(row_id: int) -> Notification | None:
    """pending -> sending, and a credit spent (or the row skipped without one), in one transaction.
    A staff member's row spends nothing but is skipped if they no longer receive alerts."""
    claim = secrets.token_hex(8)

    async def take():
        now = utcnow()
        taken = await (Notification.update(status="sending", claim=claim, claimed_at=now,
                                           attempts=Notification.attempts + 1)
                       .where((Notification.id == row_id) & (Notification.status == "pending")
                              & (Notification.next_attempt_at <= now)).aio_execute())
        if not taken:
            return None
        row = await Notification.aio_get(Notification.id == row_id)
        if row.staff_id:
            if not await staff.receives(row.shop_id, row.staff_id, row.openid):
                await (Notification.update(status="skipped", error="the staff member no longer receives alerts "
                                                                  "(unbound, disabled or without orders.view)")
                       .where(Notification.id == row_id).aio_execute())
                return None
            return row
        if not row.credit_spent:
            spent = await (NotifyCredit.update(credits=NotifyCredit.credits - 1, updated_at=now)
                           .where(_credit(row) & (NotifyCredit.credits > 0)).aio_execute())
            if not spent:
                await (Notification.update(status="skipped", error="no subscription consent (credit) for this template")
                       .where(Notification.id == row_id).aio_execute())
                return None
            await Notification.update(credit_spent=True).where(Notification.id == row_id).aio_execute()
            row.credit_spent = True
        return row
    return await events.transaction(take)


async def _send(row: Notification) -> None:
    config = await ShopWechat.aio_get_or_none(ShopWechat.shop_id == row.shop_id) or ShopWechat()
    if row.staff_id:
        appid, secret, app = config.oa_app_id, config.oa_app_secret, "official account"
    else:
        appid, secret, app = config.mini_app_id, config.mini_app_secret, "mini-program"
    if not (appid and secret):
        await _settle(row, "config_error", None, f"the shop has no WeChat {app} configured", refund=True)
        return
    client = _client(appid, secret)
    payload = json.loads(row.payload)
    token = ""
    try:
        if row.staff_id:
            post, args = _post_template, (row, payload)
        else:
            state = (await sysset.get_settings(row.shop_id)).notify.miniprogram_state  # as the shop says now
            post, args = _post_subscribe, (row, payload, state)
        token = await tokens.access_token(client)
        await asyncio.get_running_loop().run_in_executor(None, post, client, token, *args)
    except WeChatClientException as exc:
        await _failed(row, client, token, exc.errcode, exc.errmsg or _http_status(exc))
    except (requests.RequestException, TimeoutError) as exc:
        await _failed(row, client, token, None, f"WeChat unreachable: {type(exc).__name__}")
    except Exception as exc:  # never leave a claimed row in `sending`
        log.exception("notification %s failed unexpectedly", row.id)
        await _settle(row, "failed", None, f"unexpected error: {type(exc).__name__}", refund=True)
    else:
        await _settle(row, "sent", 0, "")


def _post_subscribe(client, token: str, row: Notification, payload: dict, state: str) -> dict:
    """`cgi-bin/message/subscribe/send` through `client.post`: wechatpy 1.8's
    `wxa.send_subscribe_message` has no `miniprogram_state`."""
    client.session.set(client.access_token_key, token)
    client.expires_at = None  # wechatpy must not decide to fetch a token of its own
    body = {"touser": row.openid, "template_id": row.template_id, "data": payload["data"], "miniprogram_state": state}
    if payload.get("page"):
        body["page"] = payload["page"]
    return client.post("message/subscribe/send", data=body)


def _post_template(client, token: str, row: Notification, payload: dict) -> dict:
    """An official-account template message to a staff member; `page` is the address it opens."""
    client.session.set(client.access_token_key, token)
    client.expires_at = None
    return client.message.send_template(row.openid, row.template_id, payload["data"], url=payload.get("page") or None)


def _http_status(exc: WeChatClientException) -> str:
    response = getattr(exc, "response", None)
    return f"HTTP {response.status_code}" if response is not None else "no answer"


async def _failed(row: Notification, client, token: str, errcode: int | None, message) -> None:
    message = str(message)[:200]
    if errcode in (REFUSED, UNFOLLOWED):
        await _settle(row, "refused", errcode, message, clear_credits=not row.staff_id)
    elif errcode in CONFIG_ERRORS:
        await _settle(row, "config_error", errcode, message, refund=True)
    elif errcode is None or errcode in TRANSIENT_ERRORS:
        if errcode in TOKEN_ERRORS and token:
            await tokens.forget(client.appid, token)
        if row.attempts >= MAX_ATTEMPTS:
            await _settle(row, "failed", errcode, f"gave up after {row.attempts} attempts: {message}", refund=True)
        else:
            delay = min(RETRY_BASE_S * 2 ** (row.attempts - 1), RETRY_MAX_S)
            await _settle(row, "pending", errcode, message, retry_in=delay)
    else:
        await _settle(row, "failed", errcode, message, refund=True)


async def _settle(row: Notification, status: str, errcode, error: str, *, refund=False, clear_credits=False,
                  retry_in: int = 0) -> None:
    """Record the outcome of this claim (only this claim's: a row another run has since settled is left)."""
    async def write():
        now = utcnow()
        changes = {"status": status, "errcode": errcode, "error": error[:255]}
        if status == "sent":
            changes["sent_at"] = now
        if status == "pending":
            changes["next_attempt_at"] = now + datetime.timedelta(seconds=retry_in)
        if refund or clear_credits:
            changes["credit_spent"] = False
        mine = (Notification.id == row.id) & (Notification.claim == row.claim) & \
            Notification.status.in_(["sending", "unknown"])
        if not await Notification.update(**changes).where(mine).aio_execute():
            return
        if clear_credits:
            await NotifyCredit.update(credits=0, updated_at=now).where(_credit(row)).aio_execute()
        elif refund and row.credit_spent:
            await NotifyCredit.update(credits=NotifyCredit.credits + 1, updated_at=now).where(_credit(row)).aio_execute()
    await events.transaction(write)


_clients: dict[tuple[str, str, str], ConfiguredWeChatClient] = {}


def _client(appid: str, secret: str) -> ConfiguredWeChatClient:
    """One client per app; the token comes from the shared store, so wechatpy never fetches one
    itself (auto_retry off: an invalid token is reported to us and dropped from the store)."""
    base = current().config.wechat_api_base.rstrip("/")
    key = (appid, secret, base)
    if key not in _clients:
        client = ConfiguredWeChatClient(appid, secret, base)
        client.auto_retry = False
        _clients[key] = client
    return _clients[key]
