"""The write path: normalised spans in, one transaction that also keeps summaries in step.

Spans are bulk-copied and inserted with conflict-skip on (project, trace_id, span_id)
(``core.span_copy``); the trace summaries and the hourly and daily rollups
(``core.rollups``) are then updated from the rows that were *actually* inserted, in the same
transaction, so a re-sent batch changes nothing at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal_column
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core import duplicates, pending_logs, quality, rollups
from core.models import CostSource, SpanKind, SpanStatus, Trace
from core.span_copy import copy_spans

#: Kinds whose usage counts towards trace totals and rollups (agent/chain spans that repeat
#: their children's usage would otherwise be counted twice).
USAGE_KINDS = frozenset({SpanKind.LLM.value, SpanKind.EMBEDDING.value})
#: Trace summary arrays gathering every distinct value of a span attribution column.
ATTRIBUTION = {"teams": "team", "features": "feature", "customers": "customer",
               "providers": "provider"}  # fmt: skip


@dataclass(slots=True)
class SpanRecord:
    """A span normalised into the storage model, ready to insert (one field per column)."""

    trace_id: str
    span_id: str
    name: str
    start_time: datetime
    end_time: datetime
    parent_span_id: str | None = None
    kind: str = SpanKind.OTHER.value
    status: str = SpanStatus.UNSET.value
    error_type: str | None = None
    error_message: str | None = None
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    operation: str | None = None
    finish_reasons: list[str] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    usage_source: str | None = None
    cost: Decimal | None = None
    cost_source: str = CostSource.UNKNOWN.value
    price_ref: str | None = None
    input: Any = None
    output: Any = None
    input_text: str | None = None
    output_text: str | None = None
    documents: Any = None
    session_id: str | None = None
    user_id: str | None = None
    tags: list[str] = field(default_factory=list)
    team: str | None = None
    feature: str | None = None
    customer: str | None = None
    environment: str | None = None
    service: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    dropped_counts: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> float:
        return (self.end_time - self.start_time).total_seconds() * 1000.0

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model

    @property
    def counts_usage(self) -> bool:
        return self.kind in USAGE_KINDS

    @property
    def is_error(self) -> bool:
        return self.status == SpanStatus.ERROR.value

    def as_row(self, project_id: int) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        row["project_id"] = project_id
        row["duration_ms"] = self.duration_ms
        return row


def store_spans(session: Session, project_id: int, records: Sequence[SpanRecord]) -> int:
    """Insert ``records`` once; update summaries from the new rows; return how many were new."""
    unique = {(r.trace_id, r.span_id): r for r in records}
    if not unique:
        return 0
    ordered = sorted(unique.values(), key=lambda r: (r.trace_id, r.span_id))
    # Content log records and duplicate LLM spans are joined per trace: lock those traces first.
    pending_logs.lock_traces(session, project_id, (r.trace_id for r in ordered))
    duplicates.mark_duplicate_calls(session, project_id, ordered)
    inserted = copy_spans(session, [r.as_row(project_id) for r in ordered])
    new = [r for r in ordered if (r.trace_id, r.span_id) in inserted]
    update_traces(session, project_id, new)
    update_rollups(session, project_id, new)
    pending_logs.apply_pending_logs(session, project_id, new, locked=True)
    quality.enqueue_for_scoring(session, project_id, [(r.trace_id, r.span_id) for r in new])
    quality.store_evaluations(session, project_id, new)
    return len(new)


def _add(total: int | None, value: int | None) -> int:
    return (total or 0) + (value or 0)


def _gather(trace: dict[str, Any], span: SpanRecord) -> None:
    """Add the span's tags and attribution values to the trace's sets of them."""
    trace["tags"].update(span.tags)
    for summary, key in ATTRIBUTION.items():
        if value := getattr(span, key):
            trace[summary].add(value)


def _trace_rows(project_id: int, spans: Iterable[SpanRecord]) -> list[dict[str, Any]]:
    traces: dict[str, dict[str, Any]] = {}
    for s in spans:
        t = traces.get(s.trace_id)
        if t is None:
            t = traces[s.trace_id] = {
                "project_id": project_id, "trace_id": s.trace_id, "root_span_id": None,
                "name": None, "start_time": s.start_time, "end_time": s.end_time,
                "span_count": 0, "llm_calls": 0, "input_tokens": 0, "output_tokens": 0,
                "total_tokens": 0, "cost": Decimal(0), "unpriced_calls": 0, "error_count": 0,
                "models": set(), "service": None, "environment": None, "user_id": None,
                "session_id": None, "tags": set(),
                **{summary: set() for summary in ATTRIBUTION},
            }  # fmt: skip
        t["start_time"] = min(t["start_time"], s.start_time)
        t["end_time"] = max(t["end_time"], s.end_time)
        t["span_count"] += 1
        t["error_count"] += int(s.is_error)
        _gather(t, s)
        if s.parent_span_id is None:
            t["root_span_id"], t["name"] = s.span_id, s.name
        for key in ("service", "environment", "user_id", "session_id"):
            if s.parent_span_id is None or t[key] is None:
                t[key] = getattr(s, key) or t[key]
        if s.counts_usage:
            t["llm_calls"] += 1
            t["input_tokens"] = _add(t["input_tokens"], s.input_tokens)
            t["output_tokens"] = _add(t["output_tokens"], s.output_tokens)
            t["total_tokens"] = _add(t["total_tokens"], s.total_tokens)
            if s.model:
                t["models"].add(s.model)
            if s.cost is None:
                t["unpriced_calls"] += 1
            else:
                t["cost"] += s.cost
    for t in traces.values():
        for key in ("models", "tags", *ATTRIBUTION):
            t[key] = sorted(t[key])
    return [traces[k] for k in sorted(traces)]


def _array_union(column: str) -> Any:
    return literal_column(
        f"ARRAY(SELECT DISTINCT x FROM unnest(traces.{column} || excluded.{column}) AS x"
        " ORDER BY x)"
    )


def update_traces(session: Session, project_id: int, spans: Sequence[SpanRecord]) -> None:
    """Fold newly inserted spans into their trace summaries (commutative, so order-free)."""
    rows = _trace_rows(project_id, spans)
    if not rows:
        return
    stmt = pg_insert(Trace)
    ex, cur = stmt.excluded, Trace.__table__.c
    summed = ("span_count", "llm_calls", "input_tokens", "output_tokens", "total_tokens",
              "cost", "unpriced_calls", "error_count")  # fmt: skip
    # The root span's name and attribution win over whatever its children brought first.
    root_wins: dict[str, Any] = {
        key: func.coalesce(
            literal_column(f"CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.{key} END"),
            cur[key],
            ex[key],
        )
        for key in ("name", "service", "environment", "user_id", "session_id")
    }
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "trace_id"],
        set_={
            "start_time": func.least(cur.start_time, ex.start_time),
            "end_time": func.greatest(cur.end_time, ex.end_time),
            **{key: cur[key] + ex[key] for key in summed},
            "root_span_id": func.coalesce(ex.root_span_id, cur.root_span_id),
            **root_wins,
            **{key: _array_union(key) for key in ("models", "tags", *ATTRIBUTION)},
        },
    )
    session.execute(stmt, rows)


#: Kept for callers of the former names; the rollups live in :mod:`core.rollups`.
ROLLUP_DIMENSIONS = rollups.DIMENSIONS
ROLLUP_MEASURES = rollups.MEASURES
rollup_key = rollups.rollup_key
rollup_rows = rollups.rollup_rows
update_rollups = rollups.update_rollups
