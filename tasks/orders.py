"""Deadlines of orders and teams, and WeChat payments whose notification never came."""
from services import groups, orders, payment


async def cancel_expired_orders(runtime) -> None:
    await orders.cancel_expired_orders()


async def auto_confirm_orders(runtime) -> None:
    await orders.auto_confirm_orders()


async def expire_group_teams(runtime) -> None:
    await groups.expire_teams()


async def settle_wechat_payments(runtime) -> None:
    """Ask WeChat about orders and recharges prepaid a while ago, then send the refunds owed."""
    await payment.settle_unnotified()
    await payment.refund_owed()
    await payment.settle_sent_refunds()


async def aftersale_deadlines(runtime) -> None:
    """Requests the merchant left unanswered are approved; returns never shipped are closed."""
    await orders.apply_aftersale_deadlines()


JOBS = [("cancel_expired_orders", cancel_expired_orders), ("expire_group_teams", expire_group_teams),
        ("settle_wechat_payments", settle_wechat_payments), ("auto_confirm_orders", auto_confirm_orders),
        ("aftersale_deadlines", aftersale_deadlines)]
