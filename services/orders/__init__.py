"""Orders: placing, paying, fulfilling and refunding, and what other domains do when an order moves.

- state: reading and rendering an order, and `transition`, the one way it moves (conditional,
  logged, under the order's row lock)
- pricing: the one function that turns a cart into money (preview and order alike)
- cart: the member's cart
- placing: preview, stock taken for every line at once, coupons and points spent
- paying: balance payments, the WeChat prepay (price frozen first), the orders' side of
  services/payment (apply a WeChat payment or refuse it)
- fulfilment: cancel, ship, complete (confirm, auto-confirm, in-store pick-up), merchant edits,
  the deadline jobs
- aftersales: line refunds, returns and exchanges (售后), their amounts (shares: each line's
  paid share of every discount) and deadlines
- refunds: the whole-order shorthand (request, approve, reject) and failed group-buy teams, as after-sales
- lifecycle: the transitions other domains react to (registered in services/wiring.py)
"""
from services.orders.aftersales import apply_deadlines as apply_aftersale_deadlines
from services.orders.fulfilment import (
    auto_confirm_orders,
    cancel_by_member,
    cancel_expired_orders,
    cancel_order,
    change_price,
    close_by_merchant,
    confirm_after_delivery,
    confirm_by_member,
    confirm_order,
    redeem_pickup,
    set_merchant_remark,
    ship_order,
)
from services.orders.paying import (
    apply_wechat_payment,
    order_for_trade_no,
    pay_with_balance,
    prepaid_without_notice,
    wechat_prepay,
)
from services.orders.placing import address_snapshot, create_order, group_commit_counts, place_order, preview
from services.orders.refunds import approve_refund, refund_for_failed_team, reject_refund, request_refund
from services.orders.state import get_order, invalid_state, issue_pickup_code, list_orders, order_detail, render_order

__all__ = [
    "address_snapshot", "apply_aftersale_deadlines", "apply_wechat_payment", "approve_refund", "auto_confirm_orders",
    "cancel_by_member",
    "cancel_expired_orders", "cancel_order", "change_price", "close_by_merchant", "confirm_after_delivery",
    "confirm_by_member", "confirm_order",
    "create_order", "get_order", "group_commit_counts", "invalid_state", "issue_pickup_code", "list_orders", "order_detail",
    "order_for_trade_no", "pay_with_balance", "place_order", "prepaid_without_notice", "preview", "redeem_pickup",
    "refund_for_failed_team", "reject_refund", "render_order", "request_refund", "set_merchant_remark", "ship_order",
    "wechat_prepay",
]
