"""Scores sent by applications (end-user feedback, human review), idempotent by client id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from collector.values import clean_text
from core.errors import InvalidInputError, NotFoundError
from core.models import Score, Span, Trace

TraceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$", to_lower=True)]
SpanId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{16}$", to_lower=True)]


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trace_id: TraceId
    span_id: SpanId | None = None
    name: str = Field(min_length=1, max_length=200)
    value: float | None = Field(default=None, allow_inf_nan=False)
    label: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=10_000)
    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    source: Literal["feedback", "human"] = "feedback"

    @field_validator("name", "label", "comment", "client_id")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return clean_text(value) if value is not None else None


class ScoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trace_id: str
    span_id: str | None
    name: str
    value: float | None
    label: str | None
    comment: str | None
    source: str
    client_id: str | None


def create_score(session: Session, project_id: int, data: ScoreIn) -> tuple[Score, bool]:
    """Insert a score on a trace (or span) of the project; a re-sent client id returns the
    stored score unchanged. The flag says whether a row was created."""
    if data.value is None and data.label is None:
        raise InvalidInputError("a score needs a value or a label")
    _require_target(session, project_id, data.trace_id, data.span_id)
    stmt = (
        pg_insert(Score)
        .values(project_id=project_id, **data.model_dump())
        .on_conflict_do_nothing(
            index_elements=["project_id", "client_id"],
            index_where=Score.client_id.is_not(None),
        )
        .returning(Score.id)
    )
    new_id = session.scalar(stmt)
    if new_id is not None:
        return session.get_one(Score, (project_id, new_id)), True
    existing = session.scalar(
        select(Score).where(Score.project_id == project_id, Score.client_id == data.client_id)
    )
    if existing is None:  # pragma: no cover - the conflict implies the row exists
        raise NotFoundError("score not found")
    return existing, False


def list_scores(session: Session, project_id: int, trace_id: str) -> list[Score]:
    _require_target(session, project_id, trace_id, None)
    query = (
        select(Score)
        .where(Score.project_id == project_id, Score.trace_id == trace_id)
        .order_by(Score.id)
    )
    return list(session.scalars(query))


def _require_target(session: Session, project_id: int, trace_id: str, span_id: str | None) -> None:
    """404 unless the trace (and span) belongs to the project: foreign ids look unknown."""
    if span_id is None:
        found = session.scalar(
            select(Trace.trace_id).where(Trace.project_id == project_id, Trace.trace_id == trace_id)
        )
    else:
        found = session.scalar(
            select(Span.span_id).where(
                Span.project_id == project_id, Span.trace_id == trace_id, Span.span_id == span_id
            )
        )
    if found is None:
        raise NotFoundError("no such trace or span in this project")
