"""Prometheus metrics of one collector app, in a registry of its own (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    """Every metric the collector exports; each app owns one instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = "tokentrail_collector"
        self.requests = Counter(
            f"{prefix}_requests", "HTTP requests by route and status", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            f"{prefix}_request_duration_seconds", "Request latency by route", ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            f"{prefix}_in_flight_requests", "Requests being processed", registry=self.registry
        )
        self.spans_accepted = Counter(
            f"{prefix}_spans_accepted", "Valid spans received (new or re-sent)",
            registry=self.registry,
        )  # fmt: skip
        self.spans_stored = Counter(
            f"{prefix}_spans_stored", "Spans newly stored (re-sent duplicates excluded)",
            registry=self.registry,
        )  # fmt: skip
        self.spans_rejected = Counter(
            f"{prefix}_spans_rejected", "Spans rejected, by reason", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        self.spans_skipped = Counter(
            f"{prefix}_spans_skipped", "Spans dropped on purpose (e.g. Logfire pending spans)",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.items_dropped = Counter(
            f"{prefix}_span_items_dropped", "Attributes/events/links dropped by the collector",
            ["item"], registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            f"{prefix}_batch_spans", "Spans per export request",
            buckets=(1, 5, 10, 50, 100, 250, 512, 1000, 5000, 20000),
            registry=self.registry,
        )  # fmt: skip
        self.db_errors = Counter(
            f"{prefix}_db_errors", "Database errors answered with 503, by kind", ["kind"],
            registry=self.registry,
        )  # fmt: skip
        self.overloaded = Counter(
            f"{prefix}_overload_rejections", "Requests refused over the in-flight cap",
            registry=self.registry,
        )  # fmt: skip
