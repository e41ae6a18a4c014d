"""Who reacts to what: the one list of cross-domain reactions, registered once at start-up.

Domains below do not import the ones that react to them (orders knows nothing of group-buy or
distribution; payment knows nothing of orders or recharges): each announces, and this module,
above them all, connects the reactions in the order they run.
"""
from __future__ import annotations

from events.relay import consume
from services import distribution, finance, flash, goods, groups, member, notify, orders, payment
from services.orders import lifecycle


def wire() -> None:
    """Register every reaction and payee (idempotent: a second call changes nothing)."""
    lifecycle.react(lifecycle.PLACED, distribution.bind_on_first_order)
    lifecycle.react(lifecycle.PAID, groups.take_paid_seat, goods.count_sales, member.note_payment,
                    distribution.freeze_commission)
    lifecycle.react(lifecycle.CANCELLED, groups.release_seat)
    lifecycle.react(lifecycle.REFUNDED, groups.release_paid_seat, member.take_back_completion,
                    distribution.reverse_commission, goods.uncount_sales)
    lifecycle.react(lifecycle.COMPLETED, member.reward_completion)
    lifecycle.react(lifecycle.SHIPPING, groups.check_shippable)
    lifecycle.react(lifecycle.RESTOCK, flash.return_units)
    consume(notify.take_events)  # WeChat messages and shipping reports from committed events
    payment.register_payee(payment.Payee(
        prefix="", find=orders.order_for_trade_no, apply=orders.apply_wechat_payment,
        overdue=orders.prepaid_without_notice))
    payment.register_payee(payment.Payee(
        prefix=finance.RECHARGE_PREFIX, find=finance.recharge_for_trade_no, apply=finance.apply_recharge_payment,
        overdue=finance.recharges_without_notice))
