"""Money in and money back, for whatever a trade number pays for (orders, recharges).

One path settles every report of a WeChat payment — a notification, or the answer to our
query when none came: the report must be for this shop's merchant and app; its WeChat
transaction is recorded once (a unique `transaction_id`: a replay changes nothing); then the
payee that owns the trade number applies it in the same transaction, or says it cannot (another
amount, closed meanwhile, too late, a seat gone). Money that cannot be applied is owed back and
refunded exactly once: the refund number is fixed per payment, so a retry or a second process
never refunds twice.

Refunds of part of a payment (after-sales) are `PaymentRefund` rows, one per refund number:
owed inside the refunding transaction, sent after commit (or by the job) until WeChat accepts,
then settled by WeChat's refund notification or, when none comes, by asking.

Payees register at start-up (services/wiring.py): orders own plain trade numbers, recharges
those with the `RC` prefix. This module never imports them.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import peewee

import events
from models.base import utcnow
from models.payment import (
    PAID,
    REFUND_OWED,
    REFUND_PENDING,
    REFUND_SENT,
    REFUND_SUCCESS,
    REFUNDED,
    Payment,
    PaymentRefund,
)
from services.payment.providers import (
    NotConfigured,
    PaidNotice,
    ProviderError,
    RefundNotice,
    get_config,
    provider_for,
)

log = logging.getLogger("mall.payment")

JOB_BATCH = 200  # payments a job asks about or refunds per run; the next run takes the rest
REFUND_QUERY_AFTER_S = 60  # a sent refund with no notification by then is asked about


class PaymentMismatch(Exception):
    """A verified report that is not ours to take: another merchant or app, an unknown trade number."""


@dataclass(frozen=True)
class Payee:
    """What a kind of trade number needs from this module, and gives it."""
    prefix: str  # trade numbers starting with it are this payee's ("" = every other)
    # the id a payment of this trade number is recorded under, or None: not ours
    find: Callable[[int, str], Awaitable[int | None]]
    # inside the settle transaction: apply the money (True) or refuse it (False: it is refunded)
    apply: Callable[[int, int, PaidNotice, datetime.datetime], Awaitable[bool]]
    # (shop id, trade number) of payments whose report is overdue: WeChat is asked about them
    overdue: Callable[[int], Awaitable[list[tuple[int, str]]]]
    # inside a transaction: WeChat accepted the refund of a payment recorded under this id
    refunded: Callable[[int, int], Awaitable[None]] | None = None


_payees: list[Payee] = []


def register_payee(payee: Payee) -> None:
    if payee.prefix not in {p.prefix for p in _payees}:
        _payees.append(payee)
        _payees.sort(key=lambda p: len(p.prefix), reverse=True)  # the longest prefix wins


def _payee(trade_no: str) -> Payee:
    return next(p for p in _payees if trade_no.startswith(p.prefix))


async def _check_merchant(shop_id: int, notice: PaidNotice) -> None:
    """A verified report must also be for this shop's merchant and app (not another shop's keys)."""
    config = await get_config(shop_id)
    if config is None or notice.mch_id != config.mch_id or notice.app_id != config.app_id:
        raise PaymentMismatch("merchant or app id does not match")


async def settle(shop_id: int, notice: PaidNotice) -> None:
    """Apply a verified payment report, exactly once per WeChat transaction; refund what cannot be
    applied. Raises PaymentMismatch for a report that is not this shop's to take."""
    await _check_merchant(shop_id, notice)
    payee = _payee(notice.out_trade_no)
    owner_id = await payee.find(shop_id, notice.out_trade_no)
    if owner_id is None:
        raise PaymentMismatch("unknown trade number")

    async def record_and_apply() -> bool:
        try:
            async with events.atomic():
                await Payment.aio_create(shop_id=shop_id, order_id=owner_id, out_trade_no=notice.out_trade_no,
                                         transaction_id=notice.transaction_id, amount_fen=notice.amount_fen)
        except peewee.IntegrityError:
            return False  # this transaction was recorded before: a replay
        if await payee.apply(shop_id, owner_id, notice, utcnow()):
            return False
        await Payment.update(status=REFUND_PENDING).where(Payment.transaction_id == notice.transaction_id).aio_execute()
        return True
    if await events.transaction(record_and_apply):
        await refund_owed(transaction_id=notice.transaction_id)


async def settle_unnotified() -> int:
    """Ask WeChat about every payee's payments whose report never came; settle what it reports
    paid through `settle`. Failures wait for the next run."""
    settled = 0
    for payee in _payees:
        for shop_id, trade_no in await payee.overdue(JOB_BATCH):
            try:
                notice = await (await provider_for(shop_id)).query(trade_no)
                if notice is not None:
                    await settle(shop_id, notice)
                    settled += 1
            except (ProviderError, PaymentMismatch, NotConfigured) as exc:
                log.warning("payment query for %s failed: %s", trade_no, exc)
    return settled


async def owe_refund(order_id: int) -> None:
    """Inside the refunding transaction: the WeChat payment of this order is to be refunded
    (sent by `refund_owed` after commit, or by its job)."""
    await Payment.update(status=REFUND_PENDING).where((Payment.order_id == order_id) & (Payment.status == PAID)).aio_execute()


async def owe_part(shop_id: int, out_trade_no: str, refund_no: str, amount_fen: int, reason: str) -> None:
    """Inside the refunding transaction: `amount_fen` of the WeChat payment of `out_trade_no`
    is owed back under `refund_no` (sent by `refund_owed` after commit, or by its job)."""
    pay = await Payment.select().where((Payment.shop_id == shop_id) & (Payment.out_trade_no == out_trade_no)
                                       & (Payment.status == PAID)).order_by(Payment.id).aio_first()
    if pay is None:
        raise ProviderError(f"no WeChat payment of {out_trade_no} to refund")
    await PaymentRefund.aio_create(shop_id=shop_id, out_trade_no=out_trade_no, refund_no=refund_no,
                                   total_fen=pay.amount_fen, amount_fen=amount_fen, reason=reason[:80])


async def refund_state(refund_no: str) -> str | None:
    row = await PaymentRefund.select(PaymentRefund.status).where(PaymentRefund.refund_no == refund_no).aio_first()
    return row.status if row else None


async def _send_parts(refund_no: str | None) -> int:
    query = PaymentRefund.select().where(PaymentRefund.status == REFUND_OWED).order_by(PaymentRefund.id).limit(JOB_BATCH)
    if refund_no is not None:
        query = query.where(PaymentRefund.refund_no == refund_no)
    sent = 0
    for row in await query.aio_execute():
        try:
            await (await provider_for(row.shop_id)).refund(row.out_trade_no, row.refund_no, row.total_fen,
                                                           row.amount_fen, row.reason or "refund")
        except (ProviderError, NotConfigured) as exc:
            log.warning("refund %s not sent yet: %s", row.refund_no, exc)
            continue
        sent += await PaymentRefund.update(status=REFUND_SENT, sent_at=utcnow()).where(
            (PaymentRefund.id == row.id) & (PaymentRefund.status == REFUND_OWED)).aio_execute()
    return sent


async def settle_refund(shop_id: int, notice: RefundNotice) -> bool:
    """WeChat reports a refund (notification or query): a success is recorded once; a replay or
    another state changes nothing. Raises PaymentMismatch for a refund number not this shop's."""
    row = await PaymentRefund.aio_get_or_none((PaymentRefund.shop_id == shop_id)
                                              & (PaymentRefund.refund_no == notice.refund_no))
    config = await get_config(shop_id)
    if row is None or config is None or (notice.mch_id and notice.mch_id != config.mch_id):
        raise PaymentMismatch("unknown refund number")
    if notice.status != "SUCCESS":
        if notice.status in ("CLOSED", "ABNORMAL"):
            log.error("WeChat refund %s ended %s: the merchant must settle it by hand", notice.refund_no, notice.status)
        return False
    return bool(await PaymentRefund.update(status=REFUND_SUCCESS, succeeded_at=utcnow()).where(
        (PaymentRefund.id == row.id) & PaymentRefund.status.in_([REFUND_OWED, REFUND_SENT])).aio_execute())


async def settle_sent_refunds() -> int:
    """Ask WeChat about refunds sent a while ago whose notification never came."""
    due = await (PaymentRefund.select().where((PaymentRefund.status == REFUND_SENT) & (
        PaymentRefund.sent_at <= utcnow() - datetime.timedelta(seconds=REFUND_QUERY_AFTER_S)))
        .order_by(PaymentRefund.id).limit(JOB_BATCH).aio_execute())
    settled = 0
    for row in due:
        try:
            notice = await (await provider_for(row.shop_id)).query_refund(row.refund_no)
            settled += notice is not None and await settle_refund(row.shop_id, notice)
        except (ProviderError, PaymentMismatch, NotConfigured) as exc:
            log.warning("refund query for %s failed: %s", row.refund_no, exc)
    return settled


async def refund_owed(order_id: int | None = None, transaction_id: str | None = None,
                      refund_no: str | None = None) -> int:
    """Send the WeChat refunds that are owed (all, one order's or one transaction's whole-payment
    refunds, or one after-sale's part)."""
    if refund_no is not None:
        return await _send_parts(refund_no)
    done = 0 if (order_id or transaction_id) else await _send_parts(None)
    query = Payment.select().where(Payment.status == REFUND_PENDING).order_by(Payment.id).limit(JOB_BATCH)
    if order_id is not None:
        query = query.where(Payment.order_id == order_id)
    if transaction_id is not None:
        query = query.where(Payment.transaction_id == transaction_id)
    for pay in await query.aio_execute():
        try:
            provider = await provider_for(pay.shop_id)
            await provider.refund(pay.out_trade_no, f"R{pay.id:012d}", pay.amount_fen, pay.amount_fen, "refund")
        except (ProviderError, NotConfigured) as exc:
            log.warning("refund of payment %s not sent yet: %s", pay.id, exc)
            continue

        async def mark_refunded(pay=pay) -> bool:
            if not await Payment.update(status=REFUNDED).where(
                    (Payment.id == pay.id) & (Payment.status == REFUND_PENDING)).aio_execute():
                return False
            payee = _payee(pay.out_trade_no)
            if payee.refunded is not None:
                await payee.refunded(pay.shop_id, pay.order_id)
            return True
        done += await events.transaction(mark_refunded)
    return done
