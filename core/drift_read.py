"""Reading drift: the latest run's results, one segment's history, model changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from core.drift_queries import REFUSAL_PATTERN, TRUNCATION_REASONS
from core.models import Score, Span
from core.models_drift import DriftResult, DriftRun

_NUMERIC = {"input_tokens": Span.input_tokens, "output_tokens": Span.output_tokens,
            "latency_ms": Span.duration_ms, "cost_per_call": Span.cost}  # fmt: skip


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    run_id: int
    recent_end: datetime
    metric: str
    effect_name: str
    effect: float
    q_value: float
    drifted: bool


def latest_run(session: Session, project_id: int) -> DriftRun | None:
    query = (
        select(DriftRun)
        .where(DriftRun.project_id == project_id, DriftRun.status == "done")
        .order_by(DriftRun.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def list_results(
    session: Session, project_id: int, run_id: int, *, segment_kind: str | None = None,
    segment_value: str | None = None, metric: str | None = None, drifted: bool | None = None,
    limit: int = 1000,
) -> list[DriftResult]:  # fmt: skip
    """Results of one run, drifted first, then by q-value."""
    query = select(DriftResult).where(
        DriftResult.project_id == project_id, DriftResult.run_id == run_id
    )
    if segment_kind is not None:
        query = query.where(DriftResult.segment_kind == segment_kind)
    if segment_value is not None:
        query = query.where(DriftResult.segment_value == segment_value)
    if metric is not None:
        query = query.where(DriftResult.metric == metric)
    if drifted is not None:
        query = query.where(DriftResult.drifted.is_(drifted))
    order = (DriftResult.drifted.desc(), DriftResult.q_value, DriftResult.id)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def segment_history(
    session: Session, project_id: int, segment_kind: str, segment_value: str, *, runs: int = 48
) -> list[HistoryPoint]:
    """Every metric of one segment over the project's last ``runs`` runs, oldest first."""
    recent = (
        select(DriftRun.id)
        .where(DriftRun.project_id == project_id)
        .order_by(DriftRun.id.desc())
        .limit(runs)
        .subquery()
    )
    query = (
        select(DriftResult, DriftRun.recent_end)
        .join(DriftRun, (DriftRun.project_id == DriftResult.project_id)
              & (DriftRun.id == DriftResult.run_id))
        .where(DriftResult.project_id == project_id, DriftResult.run_id.in_(select(recent.c.id)),
               DriftResult.segment_kind == segment_kind,
               DriftResult.segment_value == segment_value)
        .order_by(DriftRun.id, DriftResult.metric)
    )  # fmt: skip
    return [
        HistoryPoint(r.run_id, end, r.metric, r.effect_name, r.effect, r.q_value, r.drifted)
        for r, end in session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class MovedSpan:
    trace_id: str
    span_id: str
    name: str
    start_time: datetime
    value: Any


def _segment_filter(kind: str, value: str) -> Any:
    if kind == "feature":
        return Span.feature == value
    if kind == "model":
        return func.coalesce(Span.request_model, Span.response_model) == value
    if kind == "name":
        return Span.name == value
    if kind == "prompt":
        prompt = Span.details["prompt"]["name"].astext + func.coalesce(
            "@" + Span.details["prompt"]["version"].astext, ""
        )
        return prompt == value
    return literal(True)


def _metric_query(metric: str, result: DriftResult, token: str | None) -> tuple[Any, Any, Any]:
    """(value shown, extra condition, order) for the spans that moved on ``metric``."""
    if metric in _NUMERIC:
        column = _NUMERIC[metric]
        up = (result.recent.get("p50") or 0) >= (result.baseline.get("p50") or 0)
        return column, column.is_not(None), column.desc() if up else column.asc()
    if metric.startswith("score:"):
        return Score.value, Score.value.is_not(None), Score.value.asc()
    if metric == "error_rate":
        return Span.error_message, Span.status == "error", Span.start_time.desc()
    if metric in ("truncation_rate", "finish_reasons"):
        cut = Span.finish_reasons.overlap([*TRUNCATION_REASONS, "MAX_TOKENS"])
        other = func.array_to_string(Span.finish_reasons, ",") != "stop"
        condition = cut if metric == "truncation_rate" else other
        return func.array_to_string(Span.finish_reasons, ","), condition, Span.start_time.desc()
    if metric == "refusal_rate":
        refused = func.left(Span.output_text, 300).op("~*")(REFUSAL_PATTERN)
        return Span.output_tokens, refused, Span.start_time.desc()
    text_column = Span.input_text if metric.startswith("prompt") else Span.output_text
    condition = text_column.ilike(f"%{token}%") if token else text_column.is_not(None)
    return Span.input_tokens, condition, Span.start_time.desc()


def moved_spans(
    session: Session, project_id: int, run: DriftRun, result: DriftResult, *,
    token: str | None = None, limit: int = 10,
) -> list[MovedSpan]:  # fmt: skip
    """LLM spans of the run's recent window and the result's segment that show the move
    most: the most extreme values, the errors, truncations or refusals, the lowest scores,
    or (vocabulary) the texts holding ``token``."""
    shown, condition, order = _metric_query(result.metric, result, token)
    query = select(Span.trace_id, Span.span_id, Span.name, Span.start_time, shown).where(
        Span.project_id == project_id, Span.kind == "llm", Span.start_time >= run.recent_start,
        Span.start_time < run.recent_end,
        _segment_filter(result.segment_kind, result.segment_value), condition,
    )  # fmt: skip
    if result.metric.startswith("score:"):
        scorer = result.metric.removeprefix("score:")
        on = and_(Score.project_id == Span.project_id, Score.trace_id == Span.trace_id,
                  Score.span_id == Span.span_id, Score.name == scorer)  # fmt: skip
        query = query.join(Score, on)
    return [MovedSpan(*row) for row in session.execute(query.order_by(order).limit(limit))]


def run_results(session: Session, project_id: int, run_id: int) -> list[DriftResult]:
    return list_results(session, project_id, run_id, limit=20_000)


__all__ = [
    "HistoryPoint",
    "MovedSpan",
    "latest_run",
    "list_results",
    "moved_spans",
    "run_results",
    "segment_history",
]
