"""Money that waits for time: commission that becomes withdrawable, approved WeChat withdrawals
to pay out, coupons that expire."""
from services import distribution, finance, sale


async def settle_commissions(runtime) -> None:
    await distribution.settle_commissions()


async def send_transfers(runtime) -> None:
    await finance.send_transfers()


async def expire_coupons(runtime) -> None:
    await sale.expire_coupons()


JOBS = [("settle_commissions", settle_commissions), ("send_transfers", send_transfers),
        ("expire_coupons", expire_coupons)]
