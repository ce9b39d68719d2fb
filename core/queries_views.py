"""The values the read layer returns: plain frozen dataclasses, no ORM rows escape."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from core.models import Trace

T = TypeVar("T")
_USAGE_KINDS = frozenset({"llm", "embedding"})  # the kinds core.ingest counts usage for


def _fields(view: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(view)


def copy_view(view: type[T], row: object) -> T:
    """A view dataclass filled from the same-named attributes of an ORM row."""
    return view(**{f.name: getattr(row, f.name) for f in _fields(view)})


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
    # Where the span sits and who it is for; the trace detail already knows, the span list
    # needs them. Defaults keep hand-built views (tests, fixtures) short.
    trace_id: str = ""
    session_id: str | None = None
    user_id: str | None = None
    tags: list[str] | None = None
    team: str | None = None
    feature: str | None = None
    customer: str | None = None
    environment: str | None = None
    service: str | None = None

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model

    def without_content(self) -> SpanView:
        """This span with prompts, completions, documents and raw payloads removed.

        Attributes, events and error messages can repeat the content (``gen_ai.prompt``,
        exception text quoting the input), so they go too; usage, cost and timing stay.
        """
        return dataclasses.replace(self, input=None, output=None, documents=None,
                                   attributes={}, events=[], error_message=None)  # fmt: skip


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

    def without_comment(self) -> ScoreView:
        """A reviewer's comment often quotes the completion; readers without content skip it."""
        return dataclasses.replace(self, comment=None)


@dataclass(frozen=True, slots=True)
class TraceDetail:
    """A trace's summary, a window of its spans ordered by start time, and its scores.

    ``span_offset`` is where ``spans`` starts in the trace's full span order; the window is
    complete when ``span_offset + len(spans) == summary.span_count``.
    """

    summary: TraceSummary
    spans: list[SpanView]
    scores: list[ScoreView]
    span_offset: int = 0
    content: bool = True

    @property
    def complete(self) -> bool:
        return self.span_offset == 0 and len(self.spans) >= self.summary.span_count

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
class ScoreMean:
    """The mean of one scorer's numeric scores in a time range."""

    name: str
    count: int
    mean: float | None


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A conversation: the traces sharing a ``session_id``."""

    session_id: str
    traces: int
    first_seen: datetime
    last_seen: datetime
    llm_calls: int
    total_tokens: int
    cost: Decimal
    errors: int
    user_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Turn:
    """One LLM call of a conversation, in the order the session made them."""

    trace_id: str
    span_id: str
    start_time: datetime
    name: str
    model: str | None
    input: Any
    output: Any
    input_text: str | None
    output_text: str | None


@dataclass(frozen=True, slots=True)
class SessionDetail:
    summary: SessionSummary
    traces: list[TraceSummary]
    turns: list[Turn]


@dataclass(frozen=True, slots=True)
class EndUser:
    """Usage of one end user (the traces' ``user_id``)."""

    user_id: str
    traces: int
    llm_calls: int
    total_tokens: int
    cost: Decimal
    errors: int
    first_seen: datetime
    last_seen: datetime
