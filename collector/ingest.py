"""The ingestion pipeline of one export request, as a plain function (no HTTP in here)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from collector import otlp
from collector.committer import Committer
from collector.metrics import CollectorMetrics
from collector.normalise import normalise_batch
from collector.quota import IngestQuota
from collector.redaction import RedactionPolicy, redact_records
from collector.spans import read_batch
from core.ingest import SpanRecord, store_spans
from core.prices import PriceBook
from core.pricing import apply_overrides


@dataclass(slots=True)
class Outcome:
    """What happened to a request's spans; ``rejected`` feeds the partial-success reply."""

    accepted: int = 0
    stored: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_count(self) -> int:
        return self.rejected.total()

    def message(self) -> str:
        return otlp.rejection_message(self.rejected, "span(s)")


def ingest_export(
    factory: sessionmaker[Session],
    project_id: int,
    body: bytes,
    *,
    content_encoding: str | None,
    encoding: otlp.Encoding,
    max_decompressed_bytes: int,
    metrics: CollectorMetrics,
    price_book: PriceBook | None = None,
    quota: IngestQuota | None = None,
    committer: Committer | None = None,
    redaction: RedactionPolicy | None = None,
) -> Outcome:
    """Decompress, decode, validate, normalise and store; return only after the commit."""
    payload = otlp.decompress(body, content_encoding, max_decompressed_bytes)
    batch = read_batch(otlp.decode_request(payload, encoding))
    if quota is not None:
        quota.charge(project_id, len(batch.spans))
    records, failed = normalise_batch(batch.spans)
    if price_book is not None and records:
        apply_overrides(records, price_book.overrides(project_id))
    if redaction is not None and redaction.enabled(project_id):
        redact_records(records)
    outcome = Outcome(accepted=len(records), rejected=batch.rejected + failed)
    if records and committer is not None:
        outcome.stored = committer.store(project_id, records)
    elif records:
        with factory.begin() as session:
            outcome.stored = store_spans(session, project_id, records)
    _count(metrics, outcome, batch.skipped, records)
    return outcome


def _count(
    metrics: CollectorMetrics, outcome: Outcome, skipped: Counter[str], records: list[SpanRecord]
) -> None:
    metrics.batch_size.observe(outcome.accepted + outcome.rejected_count)
    metrics.spans_accepted.inc(outcome.accepted)
    metrics.spans_stored.inc(outcome.stored)
    for reason, n in outcome.rejected.items():
        metrics.spans_rejected.labels(reason=reason).inc(n)
    for reason, n in skipped.items():
        metrics.spans_skipped.labels(reason=reason).inc(n)
    for record in records:
        for item, n in (record.dropped_counts or {}).items():
            if item.startswith("collector_"):
                metrics.items_dropped.labels(item=item.removeprefix("collector_")).inc(n)
