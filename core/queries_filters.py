"""Filters of the trace and span lists, as SQLAlchemy expressions from an allowlist of fields.

One :class:`TraceFilter` describes both lists: on ``traces`` the span-level attributes (team,
feature, customer, provider) are the summary's arrays of every value its spans carry and text
becomes a semi-join into the trace's spans; on ``spans`` every field is a column of the span
itself. Nothing here builds SQL from strings.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select, union
from sqlalchemy.orm import aliased

from core.errors import InvalidInputError
from core.models import Score, Span, Trace

#: Comparison operators a score condition may use, by their API name.
SCORE_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt,
    "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
}  # fmt: skip
#: pg_trgm indexes need three characters; shorter queries are a plain (unindexed) ILIKE.
MIN_TRIGRAM_CHARS = 3
MAX_SEARCH_CHARS = 200
STATUSES = ("ok", "error")


@dataclass(frozen=True, slots=True)
class ScoreCondition:
    """Keep rows with a score called ``name`` whose value compares to ``value`` by ``op``."""

    name: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.op not in SCORE_OPS:
            raise InvalidInputError(f"score op must be one of {sorted(SCORE_OPS)}")

    @classmethod
    def parse(cls, text: str) -> ScoreCondition:
        """``"helpfulness:gte:0.8"`` → a condition; anything else is invalid input."""
        name, _, rest = text.rpartition(":")
        name, _, op = name.rpartition(":")
        try:
            value = float(rest)
        except ValueError as exc:
            raise InvalidInputError("a score condition is NAME:OP:NUMBER") from exc
        if not name or value != value or value in (float("inf"), float("-inf")):
            raise InvalidInputError("a score condition is NAME:OP:NUMBER")
        return cls(name, op, value)


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """What the trace and span lists can be filtered by; ``None``/empty means "any"."""

    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None
    environment: str | None = None
    name: str | None = None
    model: str | None = None
    provider: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tag: str | None = None
    tags: tuple[str, ...] = ()
    team: str | None = None
    feature: str | None = None
    customer: str | None = None
    errors_only: bool = False
    status: str | None = None
    min_latency_ms: float | None = None
    max_latency_ms: float | None = None
    min_cost: Decimal | None = None
    max_cost: Decimal | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    scores: tuple[ScoreCondition, ...] = field(default=())
    search: str | None = None

    def __post_init__(self) -> None:
        texts = [v for v in (getattr(self, f) for f in self.__dataclass_fields__)
                 if isinstance(v, str)] + list(self.tags)  # fmt: skip
        if any("\x00" in t for t in texts):
            raise InvalidInputError("filter values cannot contain NUL characters")
        if self.status is not None and self.status not in STATUSES:
            raise InvalidInputError(f"status must be one of {list(STATUSES)}")
        if self.search is not None and len(self.search) > MAX_SEARCH_CHARS:
            raise InvalidInputError(f"search is at most {MAX_SEARCH_CHARS} characters")

    @property
    def wants_errors(self) -> bool | None:
        """True: errors only; False: no errors; None: either."""
        if self.errors_only or self.status == "error":
            return True
        return False if self.status == "ok" else None

    @property
    def search_text(self) -> str | None:
        text = (self.search or "").strip()
        return text or None


def text_match(columns: tuple[Any, ...], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring of any of ``columns``, in any script.

    ``ILIKE '%text%'`` is what the trigram GIN indexes answer for three characters or more;
    for shorter text (two CJK characters make a word) the same operator runs unindexed, so the
    result is identical and only the plan differs.
    """
    return or_(*(c.icontains(text, autoescape=True) for c in columns))


def _ranges(column: Any, low: Any, high: Any) -> list[ColumnElement[bool]]:
    found = [] if low is None else [column >= low]
    return found if high is None else [*found, column <= high]


def _score_match(condition: ScoreCondition, *scope: ColumnElement[bool]) -> ColumnElement[bool]:
    compare = SCORE_OPS[condition.op]
    return exists().where(*scope, Score.name == condition.name,
                          compare(Score.value, condition.value))  # fmt: skip


#: Span columns filtered on spans, and the trace summary arrays that gather their values.
_SPAN_ONLY = {"team": Span.team, "feature": Span.feature, "customer": Span.customer,
              "provider": Span.provider}  # fmt: skip
_TRACE_GATHERED = {"team": Trace.teams, "feature": Trace.features, "customer": Trace.customers,
                   "provider": Trace.providers}  # fmt: skip
_TRACE_EQUALITY = {"service": Trace.service, "environment": Trace.environment,
                   "name": Trace.name, "user_id": Trace.user_id,
                   "session_id": Trace.session_id}  # fmt: skip


def trace_conditions(project_id: int, where: TraceFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the trace list for ``where``, always led by the project."""
    found: list[ColumnElement[bool]] = [Trace.project_id == project_id]
    found += _ranges(Trace.start_time, where.start, None)
    if where.end is not None:
        found.append(Trace.start_time < where.end)
    found += [c == getattr(where, k) for k, c in _TRACE_EQUALITY.items() if getattr(where, k)]
    found += [c.contains([getattr(where, k)]) for k, c in _TRACE_GATHERED.items()
              if getattr(where, k)]  # fmt: skip
    if where.model:
        found.append(Trace.models.contains([where.model]))
    tags = [*([where.tag] if where.tag else []), *where.tags]
    if tags:
        found.append(Trace.tags.contains(tags))
    if where.wants_errors is not None:
        found.append(Trace.error_count > 0 if where.wants_errors else Trace.error_count == 0)
    latency = func.extract("epoch", Trace.end_time - Trace.start_time) * 1000
    low, high = where.min_latency_ms, where.max_latency_ms
    found += _ranges(latency, low, high)
    found += _ranges(Trace.cost, where.min_cost, where.max_cost)
    found += _ranges(Trace.total_tokens, where.min_tokens, where.max_tokens)
    scope = (Score.project_id == Trace.project_id, Score.trace_id == Trace.trace_id)
    found += [_score_match(c, *scope) for c in where.scores]
    if text := where.search_text:
        found.append(_trace_text(project_id, where, text))
    return found


def probe_text(traces: Any, text: str) -> ColumnElement[bool]:
    """The trace's name or one of its spans' texts contains ``text``, found by probing that
    trace's spans one by one: cheap per trace, so the right plan when only the first traces in
    list order are examined (a page of a common term, or a term too short for trigrams).

    ``traces`` is the ``Trace`` entity or an alias of it.
    """
    # A scalar subquery is probed per trace; an EXISTS here would be planned as one hashed
    # scan of every span of the project (its selectivity is unknowable).
    first = (
        select(literal(1))
        .where(Span.project_id == traces.project_id, Span.trace_id == traces.trace_id,
               text_match((Span.input_text, Span.output_text), text))
        .limit(1)
        .scalar_subquery()
    )  # fmt: skip
    return or_(traces.name.icontains(text, autoescape=True), first.is_not(None))


def _trace_text(project_id: int, where: TraceFilter, text: str) -> ColumnElement[bool]:
    # Three characters or more: matching spans and trace names come from trigram bitmap scans
    # first and are then joined to their traces, never a text probe per trace in time order.
    # Shorter text has no trigram, so no index can find it: probing the newest traces' spans
    # until a page is full is then the cheaper plan (short terms are common ones).
    if len(text) < MIN_TRIGRAM_CHARS:
        return probe_text(Trace, text)
    bound = [] if where.start is None else [Span.start_time >= where.start]
    in_spans = select(Span.trace_id).where(
        Span.project_id == project_id, *bound,
        text_match((Span.input_text, Span.output_text), text),
    )  # fmt: skip
    named = aliased(Trace)  # not correlated with the outer trace list
    by_name = select(named.trace_id).where(
        named.project_id == project_id, named.name.icontains(text, autoescape=True)
    )
    return Trace.trace_id.in_(union(in_spans, by_name))


def span_conditions(project_id: int, where: TraceFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the span list: the same filters, on the span's own columns."""
    found: list[ColumnElement[bool]] = [Span.project_id == project_id]
    found += _ranges(Span.start_time, where.start, None)
    if where.end is not None:
        found.append(Span.start_time < where.end)
    equal = {"service": Span.service, "environment": Span.environment, "name": Span.name,
             "user_id": Span.user_id, "session_id": Span.session_id, **_SPAN_ONLY}  # fmt: skip
    found += [c == getattr(where, k) for k, c in equal.items() if getattr(where, k)]
    if where.model:
        found.append(or_(Span.request_model == where.model, Span.response_model == where.model))
    tags = [*([where.tag] if where.tag else []), *where.tags]
    if tags:
        found.append(Span.tags.contains(tags))
    if where.wants_errors is not None:
        found.append((Span.status == "error") if where.wants_errors else (Span.status != "error"))
    found += _ranges(Span.duration_ms, where.min_latency_ms, where.max_latency_ms)
    found += _ranges(Span.cost, where.min_cost, where.max_cost)
    found += _ranges(Span.total_tokens, where.min_tokens, where.max_tokens)
    scope = and_(Score.project_id == Span.project_id, Score.trace_id == Span.trace_id,
                 Score.span_id == Span.span_id)  # fmt: skip
    found += [_score_match(c, scope) for c in where.scores]
    if text := where.search_text:
        found.append(text_match((Span.input_text, Span.output_text), text))
    return found
