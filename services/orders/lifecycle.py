"""What other domains do when an order moves.

Orders announce their transitions here, inside the transition's own transaction, and the
domains that care react in that same transaction (so a reaction and the move commit or roll
back together). Orders never import those domains; each registers at start-up in
`services/wiring.py`, which is the one list of who reacts to what:

- placed     — distribution binds a first-time buyer to the referrer (分销)
- paid       — group-buy takes a paid seat (may refuse: `PaymentRefused`), the catalog counts
               sales, members note the payment (dashboards), distribution freezes commission
- cancelled  — group-buy gives an unpaid seat back
- refunded   — group-buy stops counting the member, members take back what completing earned
               (points, spending, level), distribution reverses commission, the catalog uncounts sales
- completed  — members are credited spending (levels) and reward points
- shipping   — checks before shipping (group-buy: only a complete team ships)
- restock    — a flash-sale order's units come back (cancelled, or refunded with restocking):
               the flash sale puts them into its pool while the sale runs, else on the goods

What placing took from the order's own inputs (stock, coupons, points spent) is given back by
the orders package itself when it cancels or refunds — except a flash-sale order's stock, which
belongs to the sale's pool (`restock`).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from models.order import Order, OrderItem

PLACED, PAID, CANCELLED, REFUNDED, COMPLETED, SHIPPING, RESTOCK = (
    "placed", "paid", "cancelled", "refunded", "completed", "shipping", "restock")

Reaction = Callable[[Order, list[OrderItem]], Awaitable[None]]
_reactions: dict[str, list[Reaction]] = {event: [] for event in (PLACED, PAID, CANCELLED, REFUNDED, COMPLETED, SHIPPING,
                                                                           RESTOCK)}


class PaymentRefused(Exception):
    """A `paid` reaction cannot take this payment (a group-buy seat that is gone or whose time
    was up): the payment is rolled back (balance) or its money refunded (WeChat)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def react(event: str, *reactions: Reaction) -> None:
    """Register reactions to an order event (at start-up; in the order given)."""
    for reaction in reactions:
        if reaction not in _reactions[event]:
            _reactions[event].append(reaction)


async def announce(event: str, order: Order, items: list[OrderItem]) -> None:
    """Inside the transition's transaction: every registered reaction, in order."""
    for reaction in _reactions[event]:
        await reaction(order, items)
