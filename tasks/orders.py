"""Order and money timed jobs: close unpaid orders past the shop's deadline, confirm receipt after
N days, end group-buy teams at their deadline, ask WeChat Pay about payments (orders and recharges)
whose notification never came and send owed refunds, mark expired coupons, settle commission, pay
approved WeChat withdrawals, roll up closed days."""
from services import dashboard, distribution, finance, groups, orders, payment, sale
from tasks import JOBS


async def cancel_expired_orders(runtime) -> None:
    await orders.cancel_expired_orders()


async def auto_confirm_orders(runtime) -> None:
    await orders.auto_confirm_orders()


async def settle_wechat_payments(runtime) -> None:
    await payment.settle_unnotified()
    await payment.refund_owed()


async def expire_group_teams(runtime) -> None:
    await groups.expire_teams()


async def expire_coupons(runtime) -> None:
    await sale.expire_coupons()


async def rollup_stats(runtime) -> None:
    await dashboard.rollup_days()


async def money_jobs(runtime) -> None:
    await distribution.settle_commissions()
    await finance.send_transfers()


JOBS.append(("cancel_expired_orders", cancel_expired_orders))
JOBS.append(("expire_coupons", expire_coupons))
JOBS.append(("money_jobs", money_jobs))
JOBS.append(("rollup_stats", rollup_stats))
JOBS.append(("expire_group_teams", expire_group_teams))
JOBS.append(("settle_wechat_payments", settle_wechat_payments))
JOBS.append(("auto_confirm_orders", auto_confirm_orders))
