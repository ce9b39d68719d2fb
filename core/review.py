"""What the Quality page reads (score trends, distributions, worst traces) and its review
queue: low-scored, not yet reviewed LLM spans one at a time, labelled good or bad.

Scores are placed at their trace's start time (``traces`` by ``ix_traces_project_start``, then
``scores`` by ``ix_scores_project_trace``), so a late scorer never moves a point in time.
A review is a human score named :data:`REVIEW_SCORE` (1 good, 0 bad) written with a client id,
so a double-click or a re-sent form stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.models import Score, Span, Trace

REVIEW_SCORE = "human_review"
MAX_COMMENT_CHARS = 10_000
Segment = Literal["", "feature", "model", "name"]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: datetime
    name: str
    segment: str
    mean: float
    count: int


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    low: float
    count: int


@dataclass(frozen=True, slots=True)
class WorstTrace:
    trace_id: str
    name: str | None
    start_time: datetime
    scorer: str
    value: float
    segment: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    trace_id: str
    span_id: str
    name: str
    start_time: datetime
    model: str | None
    feature: str | None
    worst_score: str
    worst_value: float
    input_text: str | None
    output_text: str | None


def _segment_column(segment: Segment) -> Any:
    if segment == "feature":
        return func.coalesce(Span.feature, "")
    if segment == "model":
        return func.coalesce(Span.request_model, Span.response_model, "")
    if segment == "name":
        return func.coalesce(Span.name, "")
    return literal("")


def _scored(project_id: int, start: datetime, end: datetime) -> Any:
    """Scores with a value on traces that started in ``[start, end)``, with their span."""
    return (
        select(Score, Trace.start_time, Trace.name.label("trace_name"))
        .join(Trace, and_(Trace.project_id == Score.project_id, Trace.trace_id == Score.trace_id))
        .outerjoin(Span, and_(Span.project_id == Score.project_id,
                              Span.trace_id == Score.trace_id, Span.span_id == Score.span_id))
        .where(Trace.project_id == project_id, Trace.start_time >= start,
               Trace.start_time < end, Score.value.is_not(None))
    )  # fmt: skip


def score_trends(
    session: Session, project_id: int, start: datetime, end: datetime, segment: Segment = ""
) -> list[TrendPoint]:
    """Mean score per UTC day, scorer and (optionally) segment of the scored span."""
    day = func.date_trunc("day", Trace.start_time)
    seg = _segment_column(segment)
    query = (
        _scored(project_id, start, end)
        .with_only_columns(day.label("day"), Score.name, seg.label("segment"),
                           func.avg(Score.value), func.count())
        .group_by(day, Score.name, seg)
        .order_by(day, Score.name, seg)
    )  # fmt: skip
    return [TrendPoint(d, n, s or "", float(m), c) for d, n, s, m, c in session.execute(query)]


def score_distribution(
    session: Session, project_id: int, start: datetime, end: datetime
) -> list[Bucket]:
    """Score counts per scorer in tenths (values outside [0, 1] land in the end buckets)."""
    low = func.least(func.greatest(func.floor(Score.value * 10), 0), 9) / 10.0
    query = (
        _scored(project_id, start, end)
        .with_only_columns(Score.name, low.label("low"), func.count())
        .group_by(Score.name, low)
        .order_by(Score.name, low)
    )
    return [Bucket(n, float(lo), c) for n, lo, c in session.execute(query)]


def worst_traces(
    session: Session, project_id: int, start: datetime, end: datetime, *,
    scorer: str | None = None, limit: int = 20,
) -> list[WorstTrace]:  # fmt: skip
    """The lowest scores of the range (one row per trace: its lowest score)."""
    query = (
        _scored(project_id, start, end)
        .with_only_columns(Score.trace_id, Trace.name, Trace.start_time, Score.name,
                           Score.value, func.coalesce(Span.feature, ""))
        .order_by(Score.trace_id, Score.value, Score.id)
        .ext(distinct_on(Score.trace_id))
    )  # fmt: skip
    if scorer:
        query = query.where(Score.name == scorer)
    inner = query.subquery()
    rows = session.execute(select(inner).order_by(inner.c.value, inner.c.trace_id).limit(limit))
    return [WorstTrace(*row) for row in rows]


def review_queue(
    session: Session, project_id: int, start: datetime, end: datetime, *, below: float = 0.5,
    scorer: str | None = None, content: bool = True, limit: int = 20,
) -> list[ReviewItem]:  # fmt: skip
    """LLM spans of the range with a score under ``below`` and no review yet, lowest first.

    Without ``content`` (the finance role) prompts and completions are left out.
    """
    reviewed = exists().where(
        Score.project_id == Span.project_id, Score.trace_id == Span.trace_id,
        Score.span_id == Span.span_id, Score.name == REVIEW_SCORE,
    )  # fmt: skip
    low = (
        select(Score.trace_id, Score.span_id, Score.name, Score.value)
        .join(Trace, and_(Trace.project_id == Score.project_id, Trace.trace_id == Score.trace_id))
        .where(Trace.project_id == project_id, Trace.start_time >= start,
               Trace.start_time < end, Score.span_id.is_not(None), Score.source != "human",
               Score.value < below)
        .order_by(Score.trace_id, Score.span_id, Score.value)
        .ext(distinct_on(Score.trace_id, Score.span_id))
    )  # fmt: skip
    if scorer:
        low = low.where(Score.name == scorer)
    worst = low.subquery()
    texts = (Span.input_text, Span.output_text) if content else (literal(None), literal(None))
    query = (
        select(Span.trace_id, Span.span_id, Span.name, Span.start_time,
               func.coalesce(Span.request_model, Span.response_model), Span.feature,
               worst.c.name, worst.c.value, *texts)
        .join(worst, and_(Span.trace_id == worst.c.trace_id, Span.span_id == worst.c.span_id))
        .where(Span.project_id == project_id, Span.kind == "llm", ~reviewed)
        .order_by(worst.c.value, Span.start_time.desc())
        .limit(limit)
    )  # fmt: skip
    return [ReviewItem(*row) for row in session.execute(query)]


def label_span(
    session: Session, project_id: int, trace_id: str, span_id: str, *, good: bool,
    comment: str | None, client_id: str,
) -> tuple[Score, bool]:  # fmt: skip
    """Store a reviewer's good/bad label once per ``client_id``; the score and whether it is new.

    Raises:
        InvalidInputError: a missing client id or an over-long comment.
        NotFoundError: the span is not in this project.
    """
    if not client_id or len(client_id) > 200:
        raise InvalidInputError("a review needs a client id of 1 to 200 characters")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInputError(f"a comment is at most {MAX_COMMENT_CHARS} characters")
    where = (Span.project_id == project_id, Span.trace_id == trace_id, Span.span_id == span_id)
    found = session.scalar(select(Span.span_id).where(*where))
    if found is None:
        raise NotFoundError("no such span in this project")
    new_id = session.scalar(
        pg_insert(Score)
        .values(project_id=project_id, trace_id=trace_id, span_id=span_id, name=REVIEW_SCORE,
                value=1.0 if good else 0.0, label="good" if good else "bad",
                comment=(comment or "").strip() or None, source="human", client_id=client_id)
        .on_conflict_do_nothing(index_elements=["project_id", "client_id"],
                                index_where=Score.client_id.is_not(None))
        .returning(Score.id)
    )  # fmt: skip
    if new_id is not None:
        return session.get_one(Score, (project_id, new_id)), True
    existing = session.scalar(
        select(Score).where(Score.project_id == project_id, Score.client_id == client_id)
    )
    if existing is None or existing.span_id != span_id:
        raise InvalidInputError("this client id was used for another score")
    return existing, False


__all__ = [
    "REVIEW_SCORE",
    "Bucket",
    "ReviewItem",
    "TrendPoint",
    "WorstTrace",
    "label_span",
    "review_queue",
    "score_distribution",
    "score_trends",
    "worst_traces",
]
