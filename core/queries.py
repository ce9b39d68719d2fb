"""The read layer: plain functions over a Session, every query scoped by project.

Filters are SQLAlchemy expressions built from a fixed set of fields (:mod:`core.queries_filters`),
never strings. The trace list reads the ``traces`` summary table (which gathers its spans'
teams, features, customers and providers; only text search reaches into spans) and pages with
a keyset cursor (:mod:`core.queries_keyset`), so a deep page costs what the first one does.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session, aliased

from core.errors import InvalidInputError, PermissionDeniedError
from core.models import Score, Span, Trace, UsageHourly
from core.models_finance import UsageDaily
from core.queries_filters import (
    MIN_TRIGRAM_CHARS,
    ScoreCondition,
    TraceFilter,
    probe_text,
    trace_conditions,
)
from core.queries_keyset import (
    MAX_PAGE_SIZE,
    decode_cursor,
    encode_cursor,
    keyset_rows,
    ordered_after,
)
from core.queries_views import (
    DailySpend,
    Overview,
    Page,
    ScoreMean,
    ScoreView,
    SpanView,
    TraceDetail,
    TraceSummary,
    copy_view,
)
from core.rollups import ceil_day, floor_day

SORT_KEYS = ("time", "duration", "cost", "tokens")
#: Distinct values offered per filter field; the long tail is still reachable by typing it.
MAX_FACET_VALUES = 200
#: Traces a text search probes in list order before asking the trigram indexes (about 4,000
#: span probes: tens of milliseconds); a term in 1.5 % of the traces fills a page within them.
SEARCH_PROBE_TRACES = 4_000
#: Spans of one trace returned at once; bigger traces are read window by window.
MAX_SPAN_WINDOW = 5_000

__all__ = [
    "MAX_PAGE_SIZE", "SORT_KEYS", "DailySpend", "Overview", "Page", "ScoreCondition",
    "ScoreMean", "ScoreView", "SpanView", "TraceDetail", "TraceFilter", "TraceSummary",
    "decode_cursor", "encode_cursor", "get_trace", "list_traces", "overview", "score_means",
    "trace_facets", "trace_filter",
]  # fmt: skip


def _sort_column(sort: str) -> Any:
    columns = {"time": Trace.start_time, "duration": Trace.end_time - Trace.start_time,
               "cost": Trace.cost, "tokens": Trace.total_tokens}  # fmt: skip
    if sort not in columns:
        raise InvalidInputError(f"sort must be one of {list(SORT_KEYS)}, got {sort!r}")
    return columns[sort]


def trace_filter(where: TraceFilter | None = None, **filters: Any) -> TraceFilter:
    """``where`` (or the default) with ``filters`` applied; unknown names are invalid input."""
    base = where or TraceFilter()
    unknown = set(filters) - set(TraceFilter.__dataclass_fields__)
    if unknown:
        raise InvalidInputError(f"unknown filters {sorted(unknown)}")
    values = {f: getattr(base, f) for f in TraceFilter.__dataclass_fields__} | filters
    return TraceFilter(**values)


def check_content_access(where: TraceFilter, content: bool) -> None:
    """Searching prompts is reading them: refuse it to a reader without content access."""
    if not content and where.search_text:
        raise PermissionDeniedError("this role cannot search prompts and completions")


def list_traces(
    session: Session, project_id: int, where: TraceFilter | None = None, *, sort: str = "time",
    limit: int = 50, cursor: str | None = None, content: bool = True, **filters: Any,
) -> Page[TraceSummary]:  # fmt: skip
    """One page of a project's traces, largest sort key first (newest first by default).

    ``where`` and ``filters`` (:class:`TraceFilter` fields) select the traces: ``start``/``end``
    the traces that *started* in ``[start, end)``; ``model``/``tag`` any of the trace's
    models/tags; ``team``/``feature``/``customer``/``provider`` any of its spans; ``search``
    a case-insensitive substring of the trace name or of any span's input/output text.
    ``sort`` is one of ``SORT_KEYS`` (ties broken by trace id); ``cursor`` is the
    ``next_cursor`` of the previous page with the same sort.

    Raises:
        InvalidInputError: unknown sort or filter, bad limit or a cursor that is not ours.
        PermissionDeniedError: a text search by a reader without content access.
    """
    where = trace_filter(where, **filters)
    check_content_access(where, content)
    key = _sort_column(sort)
    text = where.search_text
    if text and len(text) >= MIN_TRIGRAM_CHARS:
        found = _probe_first_traces(session, project_id, where, text, sort=sort, limit=limit,
                                    cursor=cursor)  # fmt: skip
        if found is not None:
            return found
    query = select(Trace, key).where(*trace_conditions(project_id, where))
    rows, next_cursor = keyset_rows(session, query, key, [Trace.trace_id], sort=sort,
                                    limit=limit, cursor=cursor)  # fmt: skip
    return Page([TraceSummary.from_row(row) for row, _ in rows], next_cursor)


def _probe_first_traces(
    session: Session, project_id: int, where: TraceFilter, text: str, *, sort: str,
    limit: int, cursor: str | None,
) -> Page[TraceSummary] | None:  # fmt: skip
    """The page of a text search if the first ``SEARCH_PROBE_TRACES`` traces in list order
    fill it, else None.

    A term in many traces (a topic, a common word) fills a page within the first few hundred
    traces, each probed through its own spans; the trigram plan would instead collect every
    match in the project before choosing the first ones. A rarer term falls back to that plan,
    having cost at most this many probes.
    """
    key = _sort_column(sort)
    plain = trace_filter(where, search=None)
    candidates = select(Trace, key.label("sort_key")).where(*trace_conditions(project_id, plain))
    candidates = ordered_after(candidates, key, [Trace.trace_id], sort=sort, cursor=cursor)
    inner = candidates.limit(SEARCH_PROBE_TRACES).subquery()
    probed = aliased(Trace, inner)
    query = select(probed, inner.c.sort_key).where(probe_text(probed, text))
    rows, next_cursor = keyset_rows(session, query, inner.c.sort_key, [inner.c.trace_id],
                                    sort=sort, limit=limit, cursor=None)  # fmt: skip
    if next_cursor is None:
        return None
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


def get_trace(
    session: Session, project_id: int, trace_id: str, *, span_offset: int = 0,
    span_limit: int = MAX_SPAN_WINDOW, content: bool = True,
) -> TraceDetail | None:  # fmt: skip
    """The trace with a window of its spans (by start time) and its scores.

    A trace of 10,000 spans is read ``span_limit`` spans at a time from ``span_offset``.
    Without ``content`` the spans carry no prompts, completions, documents or raw payloads,
    and scores no comments. None if the trace is not in this project.
    """
    if span_offset < 0 or not 1 <= span_limit <= MAX_SPAN_WINDOW:
        raise InvalidInputError(f"span_offset >= 0 and 1 <= span_limit <= {MAX_SPAN_WINDOW}")
    row = session.get(Trace, (project_id, trace_id))
    if row is None:
        return None
    spans = select(Span).where(Span.project_id == project_id, Span.trace_id == trace_id)
    spans = spans.order_by(Span.start_time, Span.span_id).offset(span_offset).limit(span_limit)
    scores = select(Score).where(Score.project_id == project_id, Score.trace_id == trace_id)
    views = [copy_view(SpanView, s) for s in session.scalars(spans)]
    score_views = [copy_view(ScoreView, s) for s in session.scalars(scores.order_by(Score.id))]
    if not content:
        views = [v.without_content() for v in views]
        score_views = [v.without_comment() for v in score_views]
    return TraceDetail(TraceSummary.from_row(row), views, score_views, span_offset, content)


def score_means(
    session: Session, project_id: int, start: datetime, end: datetime
) -> list[ScoreMean]:
    """Mean numeric value per score name, for scores of traces that started in ``[start, end)``.

    Scores are placed at their trace's time, not when they were written: a backlog scored
    today, or feedback given a week later, describes the calls it judges.
    """
    query = (
        select(Score.name, func.count(Score.value), func.avg(Score.value))
        .join(Trace, (Trace.project_id == Score.project_id) & (Trace.trace_id == Score.trace_id))
        .where(Score.project_id == project_id, Trace.start_time >= start,
               Trace.start_time < end)
        .group_by(Score.name)
        .order_by(Score.name)
    )  # fmt: skip
    return [ScoreMean(n, int(c), None if m is None else float(m))
            for n, c, m in session.execute(query)]  # fmt: skip


#: The usage measures the Overview sums, in :func:`_usage_by_day`'s column order.
_OVERVIEW_MEASURES = ("calls", "errors", "input_tokens", "output_tokens", "cost", "unpriced_calls")


def _summed_by_day(
    session: Session, table: Any, moment: Any, project_id: int, start: datetime, end: datetime
) -> list[Any]:
    day = cast(func.timezone("UTC", moment), Date).label("day")
    sums = (func.sum(getattr(table, m)) for m in _OVERVIEW_MEASURES)
    query = select(day, *sums).where(table.project_id == project_id, moment >= start,
                                     moment < end).group_by(day)  # fmt: skip
    return list(session.execute(query))


def _usage_by_day(
    session: Session, project_id: int, start: datetime, end: datetime
) -> dict[date, list[Any]]:
    """The Overview's usage measures per UTC day, from the daily rollup for the days wholly
    inside ``[start, end)`` and from the hourly one for the hours at either edge (the daily
    cells are the hourly ones folded by day, so the sums are the same, from fewer rows)."""
    first, last = ceil_day(start), floor_day(end)
    if first < last:
        hourly = [(start, first), (last, end)]
        rows = _summed_by_day(session, UsageDaily, UsageDaily.day, project_id, first, last)
    else:
        hourly, rows = [(start, end)], []
    for low, high in hourly:
        if low < high:
            rows += _summed_by_day(session, UsageHourly, UsageHourly.hour, project_id, low, high)
    days: dict[date, list[Any]] = {}
    for row in rows:
        total = days.setdefault(row[0], [0] * len(_OVERVIEW_MEASURES))
        days[row[0]] = [a + (b or 0) for a, b in zip(total, row[1:], strict=True)]
    return dict(sorted(days.items()))


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
    """Calls, errors, tokens and spend from the rollups; trace latency from ``traces``.

    A rollup hour counts when it begins in ``[start, end)``, so pass hour-aligned bounds for
    the two sources to cover exactly the same spans.
    """
    days = _usage_by_day(session, project_id, start, end)
    daily = [DailySpend(d, int(m[0]), int(m[2] + m[3]), Decimal(m[4])) for d, m in days.items()]
    totals = [sum(m[i] for m in days.values()) for i in range(len(_OVERVIEW_MEASURES))]
    calls, errors, input_tokens, output_tokens, cost, unpriced = totals
    traces, error_traces, p50_ms, p95_ms = _trace_stats(session, project_id, start, end)
    return Overview(start, end, traces, error_traces, int(calls), int(errors),
                    int(input_tokens), int(output_tokens), Decimal(cost), int(unpriced),
                    p50_ms, p95_ms, daily)  # fmt: skip
