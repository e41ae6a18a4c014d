"""Order timed jobs: close unpaid orders past the shop's deadline, confirm receipt after N days,
ask WeChat Pay about payments whose notification never came, send owed refunds, mark expired coupons,
settle commission, ask about unnotified recharges, pay approved WeChat withdrawals, roll up closed days."""
from services import dashboard, distribution, finance, order, sale
from tasks import JOBS


async def cancel_expired_orders(runtime) -> None:
    await order.cancel_expired_orders()


async def auto_confirm_orders(runtime) -> None:
    await order.auto_confirm_orders()


async def settle_wechat_payments(runtime) -> None:
    await order.settle_unnotified_payments()
    await order.refund_pending_payments()


async def expire_group_teams(runtime) -> None:
    from services import groups

    await groups.expire_teams()


async def expire_coupons(runtime) -> None:
    await sale.expire_coupons()


async def rollup_stats(runtime) -> None:
    await dashboard.rollup_days()


async def money_jobs(runtime) -> None:
    await distribution.settle_commissions()
    await finance.settle_unnotified_recharges()
    await finance.send_transfers()


JOBS.append(("cancel_expired_orders", cancel_expired_orders))
JOBS.append(("expire_coupons", expire_coupons))
JOBS.append(("money_jobs", money_jobs))
JOBS.append(("rollup_stats", rollup_stats))
JOBS.append(("expire_group_teams", expire_group_teams))
JOBS.append(("settle_wechat_payments", settle_wechat_payments))
JOBS.append(("auto_confirm_orders", auto_confirm_orders))
