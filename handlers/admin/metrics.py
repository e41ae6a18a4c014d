"""Operators' live-push metrics (`GET /api/admin/metrics`, JSON or Prometheus text)."""
from events import connections
from events.metrics import counters, fanout
from handlers import schemas
from handlers.base import AdminHandler
from handlers.schemas import returns
from lib.runtime import current
from services import orders


class MetricsHandler(AdminHandler):
    """Live-push metrics of this process: JSON, or Prometheus text with ?format=prometheus."""

    @returns(schemas.Metrics)
    async def get(self):
        runtime = current()
        values = {
            "ws_connections": len(connections.live),
            "ws_subscriptions": runtime.hub.subscription_count,
            "ws_channels": len(runtime.hub.channels),
            **vars(counters),
            "relay": await runtime.relay.lag(),
            "bus": runtime.bus.name,
            "orders_group_commit": orders.group_commit_counts(),
            "ws_fanout_seconds": fanout.snapshot(),
        }
        if self.choice_arg("format", ("json", "prometheus"), "json") == "json":
            self.send(values)
            return
        lines = []
        for name, value in values.items():
            if name == "ws_fanout_seconds":
                lines += fanout.prometheus(f"mall_{name}")
            elif isinstance(value, dict):
                lines += [f"mall_{name}_{key} {val}" for key, val in value.items()]
            elif isinstance(value, (int, float)):
                lines.append(f"mall_{name} {value}")
        self.set_header("Content-Type", "text/plain; version=0.0.4")
        self.finish("\n".join(lines) + "\n")
