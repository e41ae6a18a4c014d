"""Payment: WeChat Pay for orders and recharges (balance payments are a ledger debit in orders).

- providers: the shop's keys (saved, validated, never returned) and WeChat Pay APIv3
  (wechatpayv3, public-key mode) or APIv2 (wechatpy) behind one interface: prepay, parse a
  notification, query, refund, transfer; trade numbers.
- settle: the one path every payment report takes (verify, record once, hand to the payee that
  owns the trade number), and refunds of money that is owed back, sent exactly once.
"""
from services.payment.providers import (
    NotConfigured,
    PaidNotice,
    ProviderError,
    RefundNotice,
    get_config,
    provider_for,
    render_config,
    save_config,
    trade_no,
)
from services.payment.settle import (
    Payee,
    PaymentMismatch,
    owe_part,
    owe_refund,
    refund_owed,
    refund_state,
    register_payee,
    settle,
    settle_refund,
    settle_sent_refunds,
    settle_unnotified,
)

__all__ = ["NotConfigured", "PaidNotice", "Payee", "PaymentMismatch", "ProviderError", "RefundNotice", "get_config",
           "owe_part", "owe_refund", "provider_for", "refund_owed", "refund_state", "register_payee", "render_config",
           "save_config", "settle", "settle_refund", "settle_sent_refunds", "settle_unnotified", "trade_no"]
