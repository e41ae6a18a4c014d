"""Order timed jobs: close unpaid orders past the shop's deadline, confirm receipt after N days."""
from services import order
from tasks import JOBS


async def cancel_expired_orders(runtime) -> None:
    await order.cancel_expired_orders()


async def auto_confirm_orders(runtime) -> None:
    await order.auto_confirm_orders()


JOBS.append(("cancel_expired_orders", cancel_expired_orders))
JOBS.append(("auto_confirm_orders", auto_confirm_orders))
