"""Prometheus metrics of one collector app, in a registry of its own (tests build many apps)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "tokentrail_collector"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 512, 1000, 5000, 20000)


class CollectorMetrics:
    """Every metric the collector exports; each app owns one instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = self._counter("requests", "HTTP requests by route and status",
                                      ("route", "status"))  # fmt: skip
        self.latency = Histogram(
            f"{PREFIX}_request_duration_seconds", "Request latency by route", ["route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            f"{PREFIX}_in_flight_requests", "Requests being processed", registry=self.registry
        )
        self.batch_size = Histogram(
            f"{PREFIX}_batch_spans", "Spans per export request", buckets=BATCH_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.spans_accepted = self._counter("spans_accepted", "Valid spans (new or re-sent)")
        self.spans_stored = self._counter("spans_stored", "Spans newly stored (no duplicates)")
        self.spans_rejected = self._counter("spans_rejected", "Spans rejected", ("reason",))
        self.spans_skipped = self._counter(
            "spans_skipped", "Spans dropped on purpose (Logfire pending spans)", ("reason",)
        )
        self.items_dropped = self._counter(
            "span_items_dropped", "Attributes/events/links dropped by the collector", ("item",)
        )
        self.db_errors = self._counter("db_errors", "Database errors answered 503", ("kind",))
        self.overloaded = self._counter("overload_rejections", "Refused over the in-flight cap")

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(f"{PREFIX}_{name}", documentation, labels, registry=self.registry)
