"""Counters of the live-push path, exported at /metrics and /api/admin/metrics."""
from __future__ import annotations


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
