"""Write the display counters each process has tallied (see services.counters)."""
from services import counters
from tasks import JOBS


async def flush_counters(runtime) -> None:
    await counters.flush()


JOBS.append(("flush_counters", flush_counters))
