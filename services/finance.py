"""Members' money: balance (余额, fen), points (积分) and distributors' withdrawable commission
(佣金, fen). Every change is a conditional UPDATE that can never take the amount below zero, plus a
ledger row with the amount after, in one transaction — so the ledger of each currency always sums
to the member's amount.

Also here: recharges (WeChat Pay, credited once per transaction, with the shop's bonus tiers),
withdrawals (the amount leaves the source when requested and returns if rejected; approved ones
are paid to the member's WeChat wallet or, for commission, to balance), and the merchant's reports
(ledgers, daily totals, CSV export streamed in id-ordered pages)."""
from __future__ import annotations

import csv
import datetime
import io
import logging
from collections.abc import AsyncIterator

from peewee import fn

import events
from lib.errors import ServiceUnavailable, conflict, field_error, not_found
from models.base import iso, paginate, utcnow
from models.finance import (
    BALANCE,
    COMMISSION,
    POINTS,
    RECHARGE_PAID,
    RECHARGE_PENDING,
    WITHDRAW_APPROVED,
    WITHDRAW_PAID,
    WITHDRAW_PENDING,
    WITHDRAW_REJECTED,
    CreditLedger,
    Recharge,
    Withdrawal,
)
from models.locks import lock_member
from models.member import Member
from models.payment import NOT_AN_ORDER
from services import audit, payment, sale, sysset

log = logging.getLogger("mall.finance")
RECHARGE_PREFIX = "RC"
JOB_BATCH = 200

COLUMNS = {BALANCE: Member.balance_fen, POINTS: Member.points, COMMISSION: Member.commission_fen}
INSUFFICIENT = {BALANCE: "insufficient_balance", POINTS: "insufficient_points", COMMISSION: "insufficient_commission"}


async def change_credit(shop_id: int, member_id: int, currency: str, delta: int, type_: str, *,
                        reference: str = "", operator_id: int | None = None, remark: str = "") -> int:
    """Add `delta` (negative to spend); 409 `insufficient_balance`/`insufficient_points` if it
    would go below zero. Joins the caller's transaction. Returns the new amount."""
    column = COLUMNS[currency]
    async with events.atomic():
        changed = await Member.update({column: column + delta}).where(
            (Member.shop_id == shop_id) & (Member.id == member_id) & (column + delta >= 0)).aio_execute()
        if not changed:
            if not await Member.select().where((Member.shop_id == shop_id) & (Member.id == member_id)).aio_exists():
                raise not_found("member")
            raise conflict(INSUFFICIENT[currency], f"not enough {currency}", {"currency": currency})
        after = await Member.select(column).where(Member.id == member_id).aio_scalar()
        await CreditLedger.aio_create(shop_id=shop_id, member_id=member_id, currency=currency, type=type_,
                                      amount=delta, balance_after=after, reference=reference,
                                      operator_id=operator_id, remark=remark)
    return after


async def adjust_credit(shop_id: int, member_id: int, currency: str, delta: int, staff_id: int, remark: str) -> int:
    """A manual change by staff: ledgered and in the operation log, in one transaction."""
    async with events.atomic():
        after = await change_credit(shop_id, member_id, currency, delta, "adjust", operator_id=staff_id, remark=remark)
        await audit.record(shop_id, f"member.{currency}.adjust", "member", member_id, {currency: after - delta},
                           {currency: after}, note=remark)
    return after


def render_ledger(row: CreditLedger) -> dict:
    return {"id": row.id, "currency": row.currency, "type": row.type, "amount": row.amount,
            "balance_after": row.balance_after, "reference": row.reference, "operator_id": row.operator_id,
            "remark": row.remark, "created_at": iso(row.created_at)}


async def ledger(shop_id: int, member_id: int, currency: str | None, page: int, page_size: int) -> dict:
    query = CreditLedger.select().where((CreditLedger.shop_id == shop_id) & (CreditLedger.member_id == member_id))
    if currency:
        query = query.where(CreditLedger.currency == currency)
    return await paginate(query.order_by(CreditLedger.id.desc()), page, page_size, render_ledger)


# ---------------------------------------------------------------- recharge
def render_recharge(row: Recharge) -> dict:
    return {"id": row.id, "out_trade_no": row.out_trade_no, "amount_fen": row.amount_fen, "bonus_fen": row.bonus_fen,
            "status": row.status, "created_at": iso(row.created_at), "paid_at": iso(row.paid_at)}


async def start_recharge(shop_id: int, member: Member, amount_fen: int, client_ip: str) -> dict:
    """A pending recharge and the mini-program's payment parameters for it."""
    settings = await sysset.get_settings(shop_id)
    if not settings.balance.recharge_enabled:
        raise conflict("recharge_disabled", "this shop does not take recharges")
    if amount_fen < settings.balance.min_recharge_fen:
        raise field_error("amount_fen", f"at least {settings.balance.min_recharge_fen} fen")
    if not member.openid:
        raise conflict("wechat_not_bound", "log in with WeChat to pay with WeChat Pay")
    provider = await payment.provider_for(shop_id)
    row = await Recharge.aio_create(shop_id=shop_id, member_id=member.id, out_trade_no=payment.trade_no(RECHARGE_PREFIX),
                                    amount_fen=amount_fen, bonus_fen=sale.recharge_bonus(settings, amount_fen))
    try:
        params = await provider.prepay(row.out_trade_no, amount_fen, "余额充值", member.openid, client_ip)
    except payment.ProviderError as exc:
        raise ServiceUnavailable("payment_unavailable", "WeChat Pay is unavailable; retry shortly") from exc
    return {**render_recharge(row), "pay_params": params}


async def recharge_for_trade_no(shop_id: int, trade_no: str) -> int | None:
    """services/payment records a recharge's payment under NOT_AN_ORDER; None: no such recharge."""
    exists = await Recharge.select().where((Recharge.shop_id == shop_id) & (Recharge.out_trade_no == trade_no)).aio_exists()
    return NOT_AN_ORDER if exists else None


async def apply_recharge_payment(shop_id: int, _: int, notice, paid_at: datetime.datetime) -> bool:
    """Inside the settle transaction: credit amount and bonus once per recharge; False (the money
    is refunded) for another amount, or a second payment of a recharge already paid."""
    row = await Recharge.aio_get((Recharge.shop_id == shop_id) & (Recharge.out_trade_no == notice.out_trade_no))
    if notice.amount_fen != row.amount_fen:
        log.error("WeChat payment %s of %s fen for recharge %s (%s fen) is refunded", notice.transaction_id,
                  notice.amount_fen, row.out_trade_no, row.amount_fen)
        return False
    paid = await Recharge.update(status=RECHARGE_PAID, transaction_id=notice.transaction_id, paid_at=paid_at).where(
        (Recharge.id == row.id) & (Recharge.status == RECHARGE_PENDING)).aio_execute()
    if not paid:
        return False
    await change_credit(shop_id, row.member_id, BALANCE, row.amount_fen, "recharge", reference=row.out_trade_no)
    if row.bonus_fen:
        await change_credit(shop_id, row.member_id, BALANCE, row.bonus_fen, "recharge_bonus", reference=row.out_trade_no)
    await events.record(f"member:{row.member_id}", "recharge.paid",
                        {"recharge_id": row.id, "amount_fen": row.amount_fen, "bonus_fen": row.bonus_fen})
    return True


async def recharges_without_notice(limit: int) -> list[tuple[int, str]]:
    """Recharges a minute to a day old whose notification never came: WeChat is asked about them."""
    now = utcnow()
    due = await (Recharge.select(Recharge.shop_id, Recharge.out_trade_no)
                 .where((Recharge.status == RECHARGE_PENDING) & (Recharge.created_at <= now - datetime.timedelta(seconds=60))
                        & (Recharge.created_at > now - datetime.timedelta(days=1)))
                 .order_by(Recharge.id).limit(limit).aio_execute())
    return [(row.shop_id, row.out_trade_no) for row in due]


# ---------------------------------------------------------------- withdrawals
def render_withdrawal(row: Withdrawal) -> dict:
    return {"id": row.id, "member_id": row.member_id, "source": row.source, "target": row.target,
            "amount_fen": row.amount_fen, "status": row.status, "reject_reason": row.reject_reason,
            "created_at": iso(row.created_at), "reviewed_at": iso(row.reviewed_at), "paid_at": iso(row.paid_at)}


async def request_withdrawal(shop_id: int, member: Member, source: str, target: str, amount_fen: int) -> dict:
    """Take the amount out of the source now (409 if it is not there); the merchant reviews it."""
    rules = (await sysset.get_settings(shop_id)).balance
    if not rules.withdraw_enabled:
        raise conflict("withdraw_disabled", "this shop does not take withdrawals")
    if source == BALANCE and target == BALANCE:
        raise field_error("target", "balance to balance?")
    if amount_fen < rules.min_withdraw_fen:
        raise field_error("amount_fen", f"at least {rules.min_withdraw_fen} fen")
    if target == "wechat" and not member.openid:
        raise conflict("wechat_not_bound", "log in with WeChat to withdraw to WeChat")
    async with events.atomic():
        await lock_member(member.id)  # the daily count holds under concurrency
        today = utcnow().replace(hour=0, minute=0, second=0)
        count = await Withdrawal.select().where((Withdrawal.member_id == member.id)
                                                & (Withdrawal.created_at >= today)).aio_count()
        if count >= rules.withdraw_daily_count:
            raise conflict("withdraw_limit", f"at most {rules.withdraw_daily_count} withdrawals a day")
        row = await Withdrawal.aio_create(shop_id=shop_id, member_id=member.id, source=source, target=target,
                                          amount_fen=amount_fen)
        await change_credit(shop_id, member.id, source, -amount_fen, "withdraw", reference=f"W{row.id}")
        await Withdrawal.update(transfer_no=f"W{shop_id}x{row.id}").where(Withdrawal.id == row.id).aio_execute()
    return render_withdrawal(await Withdrawal.aio_get(Withdrawal.id == row.id))


async def _withdrawal(shop_id: int, withdrawal_id: int) -> Withdrawal:
    row = await Withdrawal.aio_get_or_none((Withdrawal.shop_id == shop_id) & (Withdrawal.id == withdrawal_id))
    if row is None:
        raise not_found("withdrawal")
    return row


async def _announce(row: Withdrawal, status: str, previous_status: str, reject_reason: str = "") -> None:
    """`withdrawal.reviewed` on the member's channel, inside the transition's transaction (the live
    page and the WeChat notification of it both come from this event)."""
    await events.record(f"member:{row.member_id}", "withdrawal.reviewed", {
        "withdrawal_id": row.id, "status": status, "previous_status": previous_status, "amount_fen": row.amount_fen,
        "source": row.source, "target": row.target, "reject_reason": reject_reason})


async def reject_withdrawal(shop_id: int, withdrawal_id: int, staff_id: int, reason: str) -> dict:
    row = await _withdrawal(shop_id, withdrawal_id)
    async with events.atomic():
        if not await Withdrawal.update(status=WITHDRAW_REJECTED, reject_reason=reason, reviewed_by=staff_id,
                                       reviewed_at=utcnow()).where(
                (Withdrawal.id == row.id) & (Withdrawal.status == WITHDRAW_PENDING)).aio_execute():
            raise conflict("invalid_state", f"this withdrawal is {row.status}")
        await _audit_review(row, WITHDRAW_REJECTED, reason)
        await _announce(row, WITHDRAW_REJECTED, WITHDRAW_PENDING, reason)
        await change_credit(shop_id, row.member_id, row.source, row.amount_fen, "withdraw_return",
                            reference=f"W{row.id}", operator_id=staff_id)
    return render_withdrawal(await _withdrawal(shop_id, withdrawal_id))


async def approve_withdrawal(shop_id: int, withdrawal_id: int, staff_id: int) -> dict:
    """To balance: paid at once. To WeChat: approved now, the transfer is sent right after (and
    retried by the job until WeChat accepts it; the fixed transfer number makes retries safe)."""
    row = await _withdrawal(shop_id, withdrawal_id)
    async with events.atomic():
        to_balance = row.target == BALANCE
        changes = {"status": WITHDRAW_PAID if to_balance else WITHDRAW_APPROVED, "reviewed_by": staff_id,
                   "reviewed_at": utcnow(), **({"paid_at": utcnow()} if to_balance else {})}
        if not await Withdrawal.update(**changes).where((Withdrawal.id == row.id)
                                                        & (Withdrawal.status == WITHDRAW_PENDING)).aio_execute():
            raise conflict("invalid_state", f"this withdrawal is {row.status}")
        await _audit_review(row, changes["status"], "")
        await _announce(row, changes["status"], WITHDRAW_PENDING)
        if to_balance:
            await change_credit(shop_id, row.member_id, BALANCE, row.amount_fen, "commission_to_balance",
                                reference=f"W{row.id}", operator_id=staff_id)
    if not to_balance:
        await send_transfers(withdrawal_id)
    return render_withdrawal(await _withdrawal(shop_id, withdrawal_id))


async def _audit_review(row: Withdrawal, status: str, note: str) -> None:
    await audit.record(row.shop_id, f"withdrawal.{'reject' if status == WITHDRAW_REJECTED else 'approve'}", "withdrawal",
                       row.id, {"status": row.status, "amount_fen": row.amount_fen}, {"status": status}, note=note)


async def send_transfers(withdrawal_id: int | None = None) -> int:
    """Pay approved WeChat withdrawals; what WeChat refuses or cannot take now stays approved."""
    query = Withdrawal.select().where(Withdrawal.status == WITHDRAW_APPROVED).order_by(Withdrawal.id).limit(JOB_BATCH)
    if withdrawal_id is not None:
        query = query.where(Withdrawal.id == withdrawal_id)
    sent = 0
    for row in await query.aio_execute():
        member = await Member.aio_get(Member.id == row.member_id)
        try:
            provider = await payment.provider_for(row.shop_id)
            await provider.transfer(row.transfer_no, member.openid, row.amount_fen, "提现")
        except (payment.ProviderError, payment.NotConfigured) as exc:
            log.warning("withdrawal %s not paid yet: %s", row.id, exc)
            continue
        async with events.atomic():
            paid = await Withdrawal.update(status=WITHDRAW_PAID, paid_at=utcnow()).where(
                (Withdrawal.id == row.id) & (Withdrawal.status == WITHDRAW_APPROVED)).aio_execute()
            if paid:  # once: a concurrent run that also sent it (same transfer number) finds it paid
                await _announce(row, WITHDRAW_PAID, WITHDRAW_APPROVED)
        sent += paid
    return sent


async def list_withdrawals(shop_id: int, page: int, page_size: int, member_id: int | None = None,
                           status: str | None = None) -> dict:
    query = Withdrawal.select().where(Withdrawal.shop_id == shop_id)
    if member_id is not None:
        query = query.where(Withdrawal.member_id == member_id)
    if status:
        query = query.where(Withdrawal.status == status)
    return await paginate(query.order_by(Withdrawal.id.desc()), page, page_size, render_withdrawal)


async def withdrawn_total(member_id: int, source: str) -> int:
    return int(await Withdrawal.select(fn.COALESCE(fn.SUM(Withdrawal.amount_fen), 0)).where(
        (Withdrawal.member_id == member_id) & (Withdrawal.source == source)
        & (Withdrawal.status == WITHDRAW_PAID)).aio_scalar())


# ---------------------------------------------------------------- reports
def _ledger_query(shop_id: int, currency: str | None, type_: str | None, start, end, member_id: int | None = None):
    query = CreditLedger.select().where(CreditLedger.shop_id == shop_id)
    if member_id:
        query = query.where(CreditLedger.member_id == member_id)
    if currency:
        query = query.where(CreditLedger.currency == currency)
    if type_:
        query = query.where(CreditLedger.type == type_)
    if start:
        query = query.where(CreditLedger.created_at >= start)
    if end:
        query = query.where(CreditLedger.created_at < end)
    return query


async def shop_ledger(shop_id: int, page: int, page_size: int, **filters) -> dict:
    query = _ledger_query(shop_id, **filters).order_by(CreditLedger.id.desc())
    return await paginate(query, page, page_size, lambda row: {**render_ledger(row), "member_id": row.member_id})


CSV_COLUMNS = ("id", "created_at", "member_id", "currency", "type", "amount", "balance_after", "reference", "remark")
CSV_PAGE = 1000


async def ledger_csv(shop_id: int, **filters) -> AsyncIterator[str]:
    """The filtered ledger as CSV, one page of rows at a time (keyset by id): memory stays flat
    however long the export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    after = 0
    while True:
        rows = list(await _ledger_query(shop_id, **filters).where(CreditLedger.id > after)
                    .order_by(CreditLedger.id).limit(CSV_PAGE).aio_execute())
        for row in rows:
            writer.writerow([row.id, iso(row.created_at), row.member_id, row.currency, row.type, row.amount,
                             row.balance_after, _csv_safe(row.reference), _csv_safe(row.remark)])
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if chunk:
            yield chunk
        if len(rows) < CSV_PAGE:
            return
        after = rows[-1].id


def _csv_safe(text: str) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ is read as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def daily_totals(shop_id: int, start: datetime.datetime, end: datetime.datetime) -> list[dict]:
    """Per UTC day: order payments, refunds, recharges, paid withdrawals, commission earned."""
    from models.aftersale import REFUNDED, AfterSale
    from models.distribution import COMMISSION_REVERSED, Commission
    from models.order import Order

    def per_day(model, moment, amount, *where):
        day = fn.DATE(moment)
        return (model.select(day.alias("day"), fn.SUM(amount).alias("total"))
                .where((model.shop_id == shop_id) & (moment >= start) & (moment < end), *where)
                .group_by(day).dicts())

    series = {
        "paid_fen": per_day(Order, Order.paid_at, Order.total_fen),
        "refunded_fen": per_day(AfterSale, AfterSale.refunded_at, AfterSale.amount_fen, AfterSale.status == REFUNDED),
        "recharged_fen": per_day(Recharge, Recharge.paid_at, Recharge.amount_fen),
        "withdrawn_fen": per_day(Withdrawal, Withdrawal.paid_at, Withdrawal.amount_fen),
        "commission_fen": per_day(Commission, Commission.created_at, Commission.amount_fen,
                                  Commission.status != COMMISSION_REVERSED),
    }
    days: dict[str, dict] = {}
    for name, query in series.items():
        for row in await query.aio_execute():
            key = str(row["day"])[:10]
            days.setdefault(key, {"date": key, **{n: 0 for n in series}})[name] = int(row["total"] or 0)
    return [days[key] for key in sorted(days)]
