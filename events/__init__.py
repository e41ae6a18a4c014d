"""Live push: outbox -> relay -> bus -> hub -> /ws. Services use `atomic`, `record`, `position`.

A floor below services: it imports neither services nor handlers. Those register with it instead:
the WebSocket handler its connections (`events.connections`), services and handlers what they do
on a control message (`events.control`)."""
from __future__ import annotations

from events.outbox import atomic, in_transaction, purge_published, record, transaction
from lib.runtime import current

__all__ = ["atomic", "in_transaction", "purge_published", "record", "transaction", "position", "start_events", "stop_events"]


async def position(channel: str) -> dict:
    """The channel's seq/epoch for a REST read. Call it *before* reading the object: an event
    committed after this point is then replayed to a client subscribing with `since`. When the
    bus is down the read still succeeds, with seq and epoch null (the client subscribes fresh)."""
    try:
        seq, epoch = await current().bus.position(channel)
    except Exception:
        return {"channel": channel, "seq": None, "epoch": None}
    return {"channel": channel, "seq": seq, "epoch": epoch}


async def start_events(runtime) -> None:
    from events import connections
    from events.bus import MemoryBus, RedisBus
    from events.hub import Hub
    from events.relay import Relay

    bus = RedisBus(runtime.redis, runtime.redis_prefix) if runtime.redis is not None else MemoryBus()
    runtime.bus, runtime.hub, runtime.relay = bus, Hub(bus), Relay(bus)
    await bus.start(on_reconnect=runtime.hub.recheck_all)
    connections.heartbeat.start(runtime.config.ws_ping_interval_seconds)
    runtime.relay.start()
    runtime.relay.wake()  # publish what a previous process committed but never sent


async def stop_events(runtime) -> None:
    from events import connections

    await runtime.relay.stop()
    connections.heartbeat.stop()
    connections.close_all(1001, "server shutting down")
    await runtime.bus.stop()
