"""Conversations (traces sharing a session id) and end users, from the ``traces`` summaries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, tuple_
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import Span, Trace
from core.queries_keyset import check_limit, decode_cursor, encode_cursor
from core.queries_views import EndUser, Page, SessionDetail, SessionSummary, TraceSummary, Turn

#: LLM calls shown for one conversation; a longer one shows its first ones.
MAX_TURNS = 500
_USAGE_KINDS = ("llm", "embedding")
#: Traces walked newest first to find a page of sessions or users, widening each time.
RECENT_WALKS = (500, 5_000)


def _window(project_id: int, start: datetime | None, end: datetime | None) -> list[Any]:
    found: list[ColumnElement[bool]] = [Trace.project_id == project_id]
    if start is not None:
        found.append(Trace.start_time >= start)
    if end is not None:
        found.append(Trace.start_time < end)
    return found


def _totals() -> tuple[Any, ...]:
    return (func.count(), func.sum(Trace.llm_calls), func.sum(Trace.total_tokens),
            func.sum(Trace.cost), func.count().filter(Trace.error_count > 0),
            func.min(Trace.start_time), func.max(Trace.start_time))  # fmt: skip


def _recent_groups(
    session: Session, group: Any, where: list[Any], before: datetime | None, traces: int
) -> tuple[set[Any], datetime | None]:
    """The groups of the newest ``traces`` traces (up to ``before``), and the start time the
    walk stopped at (None when it saw every trace): a group it did not meet was last seen no
    later than that."""
    bound = [] if before is None else [Trace.start_time <= before]
    query = (
        select(group, Trace.start_time)
        .where(*where, *bound, group.is_not(None))
        .order_by(Trace.start_time.desc())
        .limit(traces)
    )
    rows = session.execute(query).all()
    return {r[0] for r in rows}, (rows[-1][1] if len(rows) == traces else None)


def _grouped_page(
    session: Session, group: Any, extra: tuple[Any, ...], where: list[Any], *,
    sort: str, limit: int, cursor: str | None,
) -> tuple[list[Any], str | None]:  # fmt: skip
    """Groups of traces, newest last-seen first, keyset-paged on (last seen, group key).

    The groups of a page are first looked for among the newest traces (walking the time index
    a few hundred traces at a time) and totalled through the group's own index; only when
    that walk cannot prove the page complete are all the window's traces grouped.
    """
    check_limit(limit)
    last_seen = func.max(Trace.start_time)
    query = select(group, *_totals(), *extra).where(*where, group.is_not(None)).group_by(group)
    before = None
    if cursor:
        before, tie = decode_cursor(sort, cursor)
        if not isinstance(before, datetime):
            raise InvalidInputError("invalid cursor")
        query = query.having(tuple_(last_seen, group) < tuple_(literal(before), literal(tie)))
    query = query.order_by(last_seen.desc(), group.desc()).limit(limit + 1)
    rows: list[Any] = []
    for traces in RECENT_WALKS:
        groups, stopped = _recent_groups(session, group, where, before, traces)
        rows = list(session.execute(query.where(group.in_(groups))))
        # Every group the walk missed was last seen at or before ``stopped``.
        if stopped is None or (len(rows) > limit and rows[limit][7] > stopped):
            break
    else:
        rows = list(session.execute(query))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(sort, rows[-1][7], str(rows[-1][0]))


def _session_summary(row: Any) -> SessionSummary:
    sid, traces, calls, tokens, cost, errors, first, last, users = row
    known = tuple(sorted(u for u in users if u))
    return SessionSummary(sid, int(traces), first, last, int(calls or 0), int(tokens or 0),
                          Decimal(cost or 0), int(errors), known)  # fmt: skip


def list_sessions(
    session: Session, project_id: int, *, start: datetime | None = None,
    end: datetime | None = None, user_id: str | None = None, limit: int = 50,
    cursor: str | None = None,
) -> Page[SessionSummary]:  # fmt: skip
    """Conversations with a trace started in ``[start, end)``, most recently active first."""
    where = _window(project_id, start, end)
    if user_id:
        where.append(Trace.user_id == user_id)
    users = func.array_agg(func.distinct(Trace.user_id))
    rows, next_cursor = _grouped_page(session, Trace.session_id, (users,), where,
                                      sort="session", limit=limit, cursor=cursor)  # fmt: skip
    return Page([_session_summary(r) for r in rows], next_cursor)


def _turns(session: Session, project_id: int, trace_ids: list[str], content: bool) -> list[Turn]:
    query = (
        select(Span)
        .where(Span.project_id == project_id, Span.trace_id.in_(trace_ids),
               Span.kind.in_(_USAGE_KINDS))
        .order_by(Span.start_time, Span.span_id)
        .limit(MAX_TURNS)
    )  # fmt: skip
    turns = []
    for s in session.scalars(query):
        shown = (s.input, s.output, s.input_text, s.output_text) if content else (None,) * 4
        turns.append(Turn(s.trace_id, s.span_id, s.start_time, s.name,
                          s.response_model or s.request_model, *shown))  # fmt: skip
    return turns


def get_session(
    session: Session, project_id: int, session_id: str, *, content: bool = True
) -> SessionDetail | None:
    """The conversation in order: its traces and their LLM calls; None if not in the project."""
    query = (
        select(Trace)
        .where(Trace.project_id == project_id, Trace.session_id == session_id)
        .order_by(Trace.start_time, Trace.trace_id)
        .limit(MAX_TURNS)
    )
    traces = [TraceSummary.from_row(t) for t in session.scalars(query)]
    if not traces:
        return None
    where = [Trace.project_id == project_id, Trace.session_id == session_id]
    users = func.array_agg(func.distinct(Trace.user_id))
    row = session.execute(
        select(Trace.session_id, *_totals(), users).where(*where).group_by(Trace.session_id)
    ).one()
    turns = _turns(session, project_id, [t.trace_id for t in traces], content)
    return SessionDetail(_session_summary(row), traces, turns)


def list_end_users(
    session: Session, project_id: int, *, start: datetime | None = None,
    end: datetime | None = None, limit: int = 50, cursor: str | None = None,
) -> Page[EndUser]:  # fmt: skip
    """Traces, LLM calls, tokens, cost, error traces and first/last seen per end user."""
    rows, next_cursor = _grouped_page(session, Trace.user_id, (), _window(project_id, start, end),
                                      sort="user", limit=limit, cursor=cursor)  # fmt: skip
    users = [EndUser(u, int(n), int(c or 0), int(t or 0), Decimal(cost or 0), int(e), first, last)
             for u, n, c, t, cost, e, first, last in rows]  # fmt: skip
    return Page(users, next_cursor)
