"""Counters of the live-push path, exported at /metrics and /api/admin/metrics."""
from __future__ import annotations

from array import array
from bisect import bisect_left


class Counters:
    def __init__(self) -> None:
        self.events_published = 0  # outbox rows this process's relay handed to the bus
        self.events_received = 0  # bus events this process fanned out
        self.frames_delivered = 0  # event frames written to local WebSockets
        self.resyncs_sent = 0
        self.slow_clients_dropped = 0
        self.relay_errors = 0
        # outbox rows the bus had already published (a relay died between publishing and marking)
        self.events_skipped_as_published = 0
        # outbox rows whose id the bus had seen published by another row (database restored)
        self.events_id_reused = 0
        # batches an outbox consumer (WeChat notifications) failed on; live push went on regardless
        self.relay_consumer_errors = 0


counters = Counters()

# Upper bounds of the fan-out histogram's buckets, in seconds (Prometheus `le`). One frame costs a
# few microseconds, so 100 us is a handful of subscribers and 25 ms the goal for 5,000.
FANOUT_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RECENT_FANOUTS = 1024  # the window the recent p50/p99/max are taken over (a few minutes of a busy process)


class FanoutHistogram:
    """Seconds from the bus handing an event to the hub to the last local subscriber's frame handed
    to its socket (or queued behind a full one), one observation per event that had local
    subscribers. Cumulative buckets since start, as Prometheus wants them, plus the last
    RECENT_FANOUTS observations for percentiles an operator reads without a Prometheus server."""

    __slots__ = ("counts", "count", "sum", "frames", "recent")

    def __init__(self) -> None:
        self.counts = [0] * (len(FANOUT_BUCKETS_S) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0
        self.frames = 0  # frames written by the observed fan-outs: sum / frames is the cost per frame
        self.recent = array("d", bytes(8 * RECENT_FANOUTS))

    def observe(self, seconds: float, frames: int) -> None:
        self.counts[bisect_left(FANOUT_BUCKETS_S, seconds)] += 1
        self.recent[self.count % RECENT_FANOUTS] = seconds
        self.count += 1
        self.sum += seconds
        self.frames += frames

    def snapshot(self) -> dict:
        """Cumulative buckets keyed by their bound (`+Inf` last), count, sum, frames, and the
        recent window's p50/p99/max (0 before any fan-out)."""
        buckets, running = {}, 0
        for bound, n in zip((*map(str, FANOUT_BUCKETS_S), "+Inf"), self.counts):
            running += n
            buckets[bound] = running
        window = sorted(self.recent[:min(self.count, RECENT_FANOUTS)])

        def quantile(share: float) -> float:
            return window[min(len(window) - 1, int(share * len(window)))] if window else 0.0

        return {"buckets": buckets, "count": self.count, "sum": self.sum, "frames": self.frames,
                "recent": {"fanouts": len(window), "p50": quantile(0.5), "p99": quantile(0.99),
                           "max": window[-1] if window else 0.0}}

    def prometheus(self, name: str) -> list[str]:
        """The histogram as Prometheus text lines (`name_bucket{le=…}`, `_sum`, `_count`), with the
        frame count and the recent window's quantiles as gauges."""
        figures = self.snapshot()
        lines = [f"# TYPE {name} histogram"]
        lines += [f'{name}_bucket{{le="{bound}"}} {n}' for bound, n in figures["buckets"].items()]
        lines += [f"{name}_sum {figures['sum']!r}", f"{name}_count {figures['count']}",
                  f"# TYPE {name}_frames counter", f"{name}_frames {figures['frames']}",
                  f"# TYPE {name}_recent gauge"]
        recent = figures["recent"]
        lines += [f'{name}_recent{{quantile="{q}"}} {recent[key]!r}' for q, key in (("0.5", "p50"), ("0.99", "p99"),
                                                                                      ("1", "max"))]
        return lines


fanout = FanoutHistogram()
