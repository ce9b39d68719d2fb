"""The worker's Prometheus endpoint: scoring lag, backlog and dead letters, read from Postgres.

Why from Postgres rather than in-process counters: Celery runs tasks in forked pool children
that come and go (``max_tasks_per_child``, crashes, several worker hosts), so in-process
histograms would be partial and reset on every restart. Each scoring batch adds its spans'
ingest-to-score lag to the ``scoring_lag`` table in the same transaction as its scores, so the
figures count every worker, survive restarts and never count a rolled-back batch. The main
worker process serves them on ``TOKENTRAIL_WORKER_METRICS_PORT`` (0, the default, turns the
endpoint off); a scrape costs three small queries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import quality
from core.models_quality import DeadLetter

logger = logging.getLogger(__name__)
PREFIX = "tokentrail_scoring"


class ScoringCollector(Collector):
    """Reads the figures at scrape time; a failed read yields nothing rather than raising."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        try:
            with self.sessions() as session:
                histogram = quality.lag_histogram(session)
                backlog = quality.scoring_backlog(session)
                dead = int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)
        except Exception:  # boundary: a scrape must not take the worker down
            logger.exception("could not read scoring metrics")
            return
        lag = HistogramMetricFamily(
            f"{PREFIX}_lag_seconds", "Time from a span's ingestion to its scoring"
        )
        lag.add_metric(
            [],
            [(_le(le), float(count)) for le, count in histogram.buckets],
            histogram.seconds_sum,
        )
        yield lag
        yield GaugeMetricFamily(f"{PREFIX}_backlog_spans", "Spans waiting to be scored",
                                value=backlog.spans)  # fmt: skip
        yield GaugeMetricFamily(f"{PREFIX}_oldest_unscored_age_seconds",
                                "Age of the oldest unscored span",
                                value=backlog.oldest_age_s)  # fmt: skip
        yield GaugeMetricFamily(f"{PREFIX}_dead_letters", "Spans a scorer failed on",
                                value=dead)  # fmt: skip


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def serve_metrics(port: int, sessions: sessionmaker[Session]) -> CollectorRegistry | None:
    """Start the endpoint on ``port`` (all interfaces, as Prometheus scrapes from outside);
    returns its registry, or None when the port is taken (logged, the worker carries on)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScoringCollector(sessions))
    try:
        start_http_server(port, registry=registry)
    except OSError:
        logger.exception("worker metrics port %d is not available", port)
        return None
    logger.info("worker metrics on port %d", port)
    return registry
