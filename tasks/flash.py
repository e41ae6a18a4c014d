"""Flash sales: pools given back when sales end, starts and ends announced (timers armed ahead)."""
from services import flash


async def run_flash_clock(runtime) -> None:
    await flash.run_clock()


JOBS = [("flash_clock", run_flash_clock)]
