"""What each line of an order was actually paid: every discount (level, 满减, coupons, points)
allocated over the lines to the fen, so the lines' shares add up exactly to what the order was
paid for goods (its total minus shipping). After-sales refund a line's units from its share.

Allocation is by largest remainder (Hamilton): each line gets the floor of its proportional part,
and the fen left over go, one each, to the lines with the largest fractional parts (ties: the
earlier line). A discount is spread over the lines it applied to (a coupon over the goods it
covers), in proportion to what each line had left before it — the order pricing applied them.

Shipping belongs to no line: it is refunded only when the whole order is (the refund that
leaves no unit of the order unrefunded carries it, decided when it is paid).
Commission is computed over the same shares (services/distribution.py), so a refunded line takes
back exactly its own commission.
"""
from __future__ import annotations


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` fen over `weights`, exactly (the parts sum to `amount`); with all weights
    zero, evenly. When `amount` equals the weights' sum, each part is its weight."""
    if not weights:
        return []
    total = sum(weights)
    if total <= 0:
        weights, total = [1] * len(weights), len(weights)
    parts = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[:amount - sum(parts)]:
        parts[i] += 1
    return parts


def price_lines(line_totals: list[int], level_fen: int, full_reduction_fen: int,
                coupons: list[tuple[int, list[int]]], points_fen: int, points_used: int) -> tuple[list[int], list[int]]:
    """(each line's paid fen, each line's share of the points spent) for discounts applied in
    pricing's order; `coupons` are (fen off, indexes of the lines the coupon covers)."""
    left = list(line_totals)

    def take(amount: int, over: list[int]) -> list[int]:
        weights = [left[i] if i in over else 0 for i in range(len(left))]
        if sum(weights) < amount:  # rounding in pricing left the covered lines a fen short: spill over all
            weights = list(left)
        parts = allocate(amount, weights)
        for i, part in enumerate(parts):
            left[i] -= part
        return parts

    everything = list(range(len(left)))
    take(level_fen, everything)
    take(full_reduction_fen, everything)
    for off, covered in coupons:
        take(off, covered)
    points_parts = take(points_fen, everything)
    return left, allocate(points_used, points_parts) if points_used else [0] * len(left)


def goods_and_shipping(total_fen: int, shipping_fee_fen: int) -> tuple[int, int]:
    """What the order was paid for goods, and for shipping (a price changed below the shipping
    fee leaves shipping what there is)."""
    goods = max(0, total_fen - shipping_fee_fen)
    return goods, total_fen - goods


def line_shares(total_fen: int, shipping_fee_fen: int, items: list) -> list[int]:
    """Each line's share of what the order was paid for goods. Lines carry `paid_fen` from
    pricing; a price the merchant changed before payment is spread over them the same way;
    lines placed before shares were stored are weighted by list price."""
    goods, _ = goods_and_shipping(total_fen, shipping_fee_fen)
    weights = [item.paid_fen if item.paid_fen is not None else item.total_fen for item in items]
    return allocate(goods, weights)


def units_share(line_fen: int, quantity: int, units: int, held_units: int, held_fen: int) -> int:
    """The share of `units` of a line of `quantity` paid `line_fen`, when `held_units` of it are
    already refunded or asked for with `held_fen`: proportional, and the last units take the
    rest, so a line refunded piece by piece adds up to its share exactly."""
    if held_units + units >= quantity:
        return line_fen - held_fen
    return line_fen * units // quantity
