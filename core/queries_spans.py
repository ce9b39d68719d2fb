"""The span list (the trace list's filters on span columns) and span windows of one trace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.models import Span, Trace
from core.queries import check_content_access, trace_filter
from core.queries_filters import TraceFilter, span_conditions
from core.queries_keyset import check_limit, keyset_rows
from core.queries_views import Page, SpanView, copy_view

SPAN_SORT_KEYS = ("time", "duration", "cost", "tokens")


def _span_sort(sort: str) -> Any:
    # Unpriced spans sort as zero: a NULL would fall out of the keyset's row comparison.
    columns = {"time": Span.start_time, "duration": Span.duration_ms,
               "cost": func.coalesce(Span.cost, 0),
               "tokens": func.coalesce(Span.total_tokens, 0)}  # fmt: skip
    if sort not in columns:
        raise InvalidInputError(f"sort must be one of {list(SPAN_SORT_KEYS)}, got {sort!r}")
    return columns[sort]


def _views(spans: list[Span], content: bool) -> list[SpanView]:
    views = [copy_view(SpanView, s) for s in spans]
    return views if content else [v.without_content() for v in views]


def list_spans(
    session: Session, project_id: int, where: TraceFilter | None = None, *, sort: str = "time",
    limit: int = 50, cursor: str | None = None, content: bool = True, **filters: Any,
) -> Page[SpanView]:  # fmt: skip
    """One page of a project's spans, largest sort key first, with the trace list's filters
    applied to each span's own columns (``search`` looks in its input and output text).

    Raises:
        InvalidInputError: unknown sort or filter, bad limit or a cursor that is not ours.
        PermissionDeniedError: a text search by a reader without content access.
    """
    where = trace_filter(where, **filters)
    check_content_access(where, content)
    key = _span_sort(sort)
    query = select(Span, key).where(*span_conditions(project_id, where))
    rows, next_cursor = keyset_rows(session, query, key, [Span.trace_id, Span.span_id],
                                    sort=sort, limit=limit, cursor=cursor)  # fmt: skip
    return Page(_views([span for span, _ in rows], content), next_cursor)


def child_spans(
    session: Session, project_id: int, trace_id: str, parent_span_id: str | None, *,
    offset: int = 0, limit: int = 100, content: bool = True,
) -> list[SpanView]:  # fmt: skip
    """The direct children of ``parent_span_id`` (the roots for None), by start time.

    This is how a client unfolds a trace of 10,000 spans one level at a time.

    Raises:
        NotFoundError: the trace is not in this project.
    """
    check_limit(limit)
    if offset < 0:
        raise InvalidInputError("offset must be >= 0")
    known = select(Trace.trace_id).where(Trace.project_id == project_id,
                                         Trace.trace_id == trace_id)  # fmt: skip
    if session.scalar(known) is None:
        raise NotFoundError("no such trace in this project")
    parent = (Span.parent_span_id.is_(None) if parent_span_id is None
              else Span.parent_span_id == parent_span_id)  # fmt: skip
    query = (
        select(Span)
        .where(Span.project_id == project_id, Span.trace_id == trace_id, parent)
        .order_by(Span.start_time, Span.span_id)
        .offset(offset)
        .limit(limit)
    )
    return _views(list(session.scalars(query)), content)
