"""Human scores added from the dashboard's annotation form."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.models import Score, Span, Trace

MAX_NAME_CHARS = 200
MAX_COMMENT_CHARS = 10_000


def _check_score(name: str, value: float | None, label: str | None, comment: str | None) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidInputError(f"a score name is 1 to {MAX_NAME_CHARS} characters")
    if value is None and not label:
        raise InvalidInputError("a score needs a value or a label")
    if value is not None and not math.isfinite(value):
        raise InvalidInputError("a score value must be a finite number")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInputError(f"a comment is at most {MAX_COMMENT_CHARS} characters")
    return name


def _require_target(session: Session, project_id: int, trace_id: str, span_id: str | None) -> None:
    if span_id is None:
        target = select(Trace.trace_id).where(
            Trace.project_id == project_id, Trace.trace_id == trace_id
        )
    else:
        target = select(Span.span_id).where(
            Span.project_id == project_id, Span.trace_id == trace_id, Span.span_id == span_id
        )
    if session.scalar(target) is None:
        raise NotFoundError("no such trace or span in this project")


def add_human_score(
    session: Session, project_id: int, trace_id: str, *, name: str, value: float | None,
    label: str | None = None, comment: str | None = None, span_id: str | None = None,
) -> Score:  # fmt: skip
    """Record a reviewer's score on a trace (or one of its spans) of this project.

    Raises:
        InvalidInputError: no name, no value or label, a non-finite value, text too long.
        NotFoundError: the trace or span is not in this project.
    """
    name = _check_score(name, value, label, comment)
    _require_target(session, project_id, trace_id, span_id)
    score = Score(project_id=project_id, trace_id=trace_id, span_id=span_id, name=name,
                  value=value, label=label or None, comment=comment or None,
                  source="human")  # fmt: skip
    session.add(score)
    session.flush()
    return score
