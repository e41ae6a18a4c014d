"""Row locks: the one way a transaction serialises a rule that reads before it writes.

Each is a no-op UPDATE of the row (InnoDB takes its exclusive lock until the transaction ends;
SQLite serialises every writer anyway), so concurrent transactions that take the same lock run
one after the other and each sees what the previous one committed. Call inside a transaction;
when several are taken, take them in the order listed here (shop, member, order) so two
writers never wait on each other in a circle.
"""
from __future__ import annotations

import peewee

from models.db import is_mysql
from models.member import Member
from models.order import Order
from models.shop import Shop


async def lock_shop(shop_id: int) -> None:
    """Rare shop-wide writes that must see each other (referral binds walk the whole tree)."""
    await Shop.update(updated_at=Shop.updated_at).where(Shop.id == shop_id).aio_execute()


async def lock_member(member_id: int) -> None:
    """Rules counting a member's own rows: purchase limits, one unpaid campaign order, coupon
    claims, daily withdrawals, addresses, points taken back."""
    await Member.update(token_version=Member.token_version).where(Member.id == member_id).aio_execute()


async def lock_order(shop_id: int, order_id: int) -> None:
    """An order's state read next is the one its conditional UPDATE acts on (a price change
    cannot slip between reading the total and charging it)."""
    await Order.update(updated_at=Order.updated_at).where((Order.shop_id == shop_id) & (Order.id == order_id)).aio_execute()


def locked(query: peewee.Select) -> peewee.Select:
    """A read that takes the exclusive locks of the rows it returns (SELECT ... FOR UPDATE on
    MySQL, in the order the query scans them; SQLite serialises writers, so a plain read)."""
    return query.for_update() if is_mysql() else query
