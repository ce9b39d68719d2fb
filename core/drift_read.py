"""Reading drift: the latest run's results, one segment's history, model changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models_drift import DriftResult, DriftRun


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


__all__ = ["HistoryPoint", "latest_run", "list_results", "segment_history"]
