"""The read layer: plain functions over a Session, every query scoped by project.

Filters are SQLAlchemy expressions built from a fixed set of fields, never strings. The trace
list reads the ``traces`` summary table (only a text ``search`` looks into spans) and pages with
a keyset cursor, so a deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Date, cast, exists, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import Score, Span, Trace, UsageHourly

T = TypeVar("T")

SORT_KEYS = ("time", "duration", "cost", "tokens")
MAX_PAGE_SIZE = 500
#: Distinct values offered per filter field; the long tail is still reachable by typing it.
MAX_FACET_VALUES = 200
_USAGE_KINDS = frozenset({"llm", "embedding"})  # the kinds core.ingest counts usage for


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """A row of the trace list (one ``traces`` summary row)."""

    trace_id: str
    name: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    span_count: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: Decimal
    unpriced_calls: int
    error_count: int
    models: tuple[str, ...]
    service: str | None
    environment: str | None
    user_id: str | None
    session_id: str | None
    tags: tuple[str, ...]

    @classmethod
    def from_row(cls, row: Trace) -> TraceSummary:
        values: dict[str, Any] = {f.name: getattr(row, f.name, None) for f in _fields(cls)}
        values["duration_ms"] = (row.end_time - row.start_time).total_seconds() * 1000.0
        values["models"], values["tags"] = tuple(row.models or ()), tuple(row.tags or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SpanView:
    """One span as the trace detail shows it; ``input``/``output``/``documents`` are raw JSON."""

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    error_type: str | None
    error_message: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    provider: str | None
    request_model: str | None
    response_model: str | None
    operation: str | None
    finish_reasons: list[str] | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    usage_source: str | None
    cost: Decimal | None
    cost_source: str
    price_ref: str | None
    input: Any
    output: Any
    documents: Any
    attributes: dict[str, Any]
    events: list[Any]

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model


@dataclass(frozen=True, slots=True)
class ScoreView:
    name: str
    value: float | None
    label: str | None
    comment: str | None
    source: str
    span_id: str | None
    scorer_version: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TraceDetail:
    """A trace's summary, its spans ordered by start time, and its scores."""

    summary: TraceSummary
    spans: list[SpanView]
    scores: list[ScoreView]

    @property
    def cost_sources(self) -> tuple[str, ...]:
        """The distinct ``cost_source`` values of the spans that carry usage, sorted."""
        return tuple(sorted({s.cost_source for s in self.spans if s.kind in _USAGE_KINDS}))


@dataclass(frozen=True, slots=True)
class DailySpend:
    day: date
    calls: int
    tokens: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Overview:
    """Totals for ``[start, end)``: LLM/embedding calls and money from rollups, traces' latency."""

    start: datetime
    end: datetime
    traces: int
    error_traces: int
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    unpriced_calls: int
    p50_ms: float | None
    p95_ms: float | None
    daily: list[DailySpend]

    @property
    def total_tokens(self) -> int:
        # Cache and reasoning buckets are subsets of input and output: never add them again.
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """What the trace list can be filtered by; ``None``/empty means "any"."""

    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None
    environment: str | None = None
    name: str | None = None
    model: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tag: str | None = None
    errors_only: bool = False
    search: str | None = None


def _fields(view: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(view)


def _copy(view: type[T], row: object) -> T:
    """A view dataclass filled from the same-named attributes of an ORM row."""
    return view(**{f.name: getattr(row, f.name) for f in _fields(view)})


def _sort_column(sort: str) -> Any:
    columns = {"time": Trace.start_time, "duration": Trace.end_time - Trace.start_time,
               "cost": Trace.cost, "tokens": Trace.total_tokens}  # fmt: skip
    if sort not in columns:
        raise InvalidInputError(f"sort must be one of {list(SORT_KEYS)}, got {sort!r}")
    return columns[sort]


#: How each sort key's value travels in a cursor: (to JSON, from JSON).
_CURSOR_CODECS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "time": (datetime.isoformat, datetime.fromisoformat),
    "duration": (lambda d: d // timedelta(microseconds=1), lambda v: timedelta(microseconds=v)),
    "cost": (str, Decimal),
    "tokens": (int, int),
}


def encode_cursor(sort: str, value: Any, trace_id: str) -> str:
    """An opaque cursor: base64 of the sort key's value and the trace id that breaks ties."""
    data = {"s": sort, "v": _CURSOR_CODECS[sort][0](value), "t": trace_id}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str) -> tuple[Any, str]:
    """The (sort value, trace id) a cursor carries; a malformed or foreign one is invalid input."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort or not isinstance(data["t"], str):
            raise ValueError("cursor belongs to another sort order")
        return _CURSOR_CODECS[sort][1](data["v"]), data["t"]
    except (ValueError, KeyError, TypeError, InvalidOperation, binascii.Error) as exc:
        raise InvalidInputError("invalid cursor") from exc


#: The fields matched by equality; this mapping is the allowlist.
_EQUALITY_FIELDS: dict[str, Any] = {
    "service": Trace.service,
    "environment": Trace.environment,
    "name": Trace.name,
    "user_id": Trace.user_id,
    "session_id": Trace.session_id,
}


def _text_match(search: str) -> ColumnElement[bool]:
    # A sequential ILIKE over the trace's spans; a trigram or full-text index is the next step.
    text = or_(*(c.icontains(search, autoescape=True) for c in (Span.input_text, Span.output_text)))
    in_spans = exists().where(
        Span.project_id == Trace.project_id, Span.trace_id == Trace.trace_id, text
    )
    return or_(Trace.name.icontains(search, autoescape=True), in_spans)


def trace_conditions(project_id: int, where: TraceFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses for ``where``, always led by the project."""
    conditions: list[ColumnElement[bool]] = [Trace.project_id == project_id]
    if where.start is not None:
        conditions.append(Trace.start_time >= where.start)
    if where.end is not None:
        conditions.append(Trace.start_time < where.end)
    for field_name, column in _EQUALITY_FIELDS.items():
        if value := getattr(where, field_name):
            conditions.append(column == value)
    if where.model:
        conditions.append(Trace.models.contains([where.model]))
    if where.tag:
        conditions.append(Trace.tags.contains([where.tag]))
    if where.errors_only:
        conditions.append(Trace.error_count > 0)
    if where.search and where.search.strip():
        conditions.append(_text_match(where.search.strip()))
    return conditions


def list_traces(
    session: Session, project_id: int, *, start: datetime | None = None,
    end: datetime | None = None, service: str | None = None, environment: str | None = None,
    name: str | None = None, model: str | None = None, user_id: str | None = None,
    session_id: str | None = None, tag: str | None = None, errors_only: bool = False,
    search: str | None = None, sort: str = "time", limit: int = 50, cursor: str | None = None,
) -> Page[TraceSummary]:  # fmt: skip
    """One page of a project's traces, largest sort key first (newest first by default).

    ``start``/``end`` select traces that *started* in ``[start, end)``; ``model``/``tag`` match
    any of the trace's models/tags; ``search`` is a case-insensitive substring of the trace name
    or of any span's input/output text. ``sort`` is one of ``SORT_KEYS`` (ties broken by trace
    id); ``cursor`` is the ``next_cursor`` of the previous page with the same sort.

    Raises:
        InvalidInputError: unknown sort, bad limit or a cursor that is not ours.
    """
    where = TraceFilter(start, end, service, environment, name, model, user_id, session_id,
                        tag, errors_only, search)  # fmt: skip
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    key = _sort_column(sort)
    query = select(Trace, key).where(*trace_conditions(project_id, where))
    if cursor:
        value, trace_id = decode_cursor(sort, cursor)
        after = tuple_(literal(value, key.type), literal(trace_id))
        query = query.where(tuple_(key, Trace.trace_id) < after)
    query = query.order_by(key.desc(), Trace.trace_id.desc()).limit(limit + 1)
    rows = session.execute(query).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last, last_value = rows[-1]
        next_cursor = encode_cursor(sort, last_value, last.trace_id)
    return Page([TraceSummary.from_row(row) for row, _ in rows], next_cursor)


def trace_facets(
    session: Session, project_id: int, start: datetime | None = None, end: datetime | None = None
) -> dict[str, list[str]]:
    """Distinct ``name``, ``service``, ``environment`` and ``model`` values in ``[start, end)``."""
    where = trace_conditions(project_id, TraceFilter(start=start, end=end))
    columns = {"name": Trace.name, "service": Trace.service, "environment": Trace.environment,
               "model": func.unnest(Trace.models)}  # fmt: skip
    facets: dict[str, list[str]] = {}
    for facet, column in columns.items():
        inner = select(column.label("v")).where(*where).subquery()
        query = select(inner.c.v).where(inner.c.v.is_not(None)).distinct().order_by(inner.c.v)
        facets[facet] = [str(v) for v in session.scalars(query.limit(MAX_FACET_VALUES))]
    return facets


def get_trace(session: Session, project_id: int, trace_id: str) -> TraceDetail | None:
    """The trace with its spans (by start time) and scores; None if not in this project."""
    row = session.get(Trace, (project_id, trace_id))
    if row is None:
        return None
    spans = select(Span).where(Span.project_id == project_id, Span.trace_id == trace_id)
    scores = select(Score).where(Score.project_id == project_id, Score.trace_id == trace_id)
    span_rows = session.scalars(spans.order_by(Span.start_time, Span.span_id))
    score_rows = session.scalars(scores.order_by(Score.created_at, Score.id))
    return TraceDetail(TraceSummary.from_row(row), [_copy(SpanView, s) for s in span_rows],
                       [_copy(ScoreView, s) for s in score_rows])  # fmt: skip


def _daily_spend(
    session: Session, project_id: int, start: datetime, end: datetime
) -> list[DailySpend]:
    u = UsageHourly
    day = cast(func.timezone("UTC", u.hour), Date).label("day")
    query = (
        select(day, func.sum(u.calls), func.sum(u.input_tokens + u.output_tokens), func.sum(u.cost))
        .where(u.project_id == project_id, u.hour >= start, u.hour < end)
        .group_by(day)
        .order_by(day)
    )
    return [DailySpend(d, int(c), int(t), Decimal(s)) for d, c, t, s in session.execute(query)]


def _trace_stats(
    session: Session, project_id: int, start: datetime, end: datetime
) -> tuple[int, int, float | None, float | None]:
    duration = Trace.end_time - Trace.start_time
    query = select(
        func.count(),
        func.count().filter(Trace.error_count > 0),
        func.percentile_cont(0.5).within_group(duration),
        func.percentile_cont(0.95).within_group(duration),
    ).where(Trace.project_id == project_id, Trace.start_time >= start, Trace.start_time < end)
    count, errors, p50, p95 = session.execute(query).one()
    ms = [None if p is None else p.total_seconds() * 1000.0 for p in (p50, p95)]
    return int(count), int(errors), ms[0], ms[1]


def overview(session: Session, project_id: int, start: datetime, end: datetime) -> Overview:
    """Calls, errors, tokens and spend from the hourly rollups; trace latency from ``traces``.

    A rollup hour counts when it begins in ``[start, end)``, so pass hour-aligned bounds for
    the two sources to cover exactly the same spans.
    """
    u = UsageHourly
    measures = (u.calls, u.errors, u.input_tokens, u.output_tokens, u.cost, u.unpriced_calls)
    sums = select(*(func.coalesce(func.sum(m), 0) for m in measures)).where(
        u.project_id == project_id, u.hour >= start, u.hour < end
    )
    calls, errors, input_tokens, output_tokens, cost, unpriced = tuple(session.execute(sums).one())
    traces, error_traces, p50_ms, p95_ms = _trace_stats(session, project_id, start, end)
    daily = _daily_spend(session, project_id, start, end)
    return Overview(start, end, traces, error_traces, int(calls), int(errors),
                    int(input_tokens), int(output_tokens), Decimal(cost), int(unpriced),
                    p50_ms, p95_ms, daily)  # fmt: skip
