"""Data for the Quality and Drift pages: score trends, distributions, worst traces, the review
queue, drift results and model changes.

Like :mod:`dashboard.data`, every function opens a short session and returns values; pages
never build queries. Prompts and completions are read only with ``content`` (the review queue).
"""

from __future__ import annotations

from datetime import datetime

from core import drift_job, drift_read, model_changes, review
from core.db import make_session_factory
from core.drift_read import HistoryPoint, MovedSpan
from core.models_drift import DriftBaseline, DriftResult, DriftRun, ModelChange
from core.review import Bucket, ReviewItem, Segment, TrendPoint, WorstTrace
from dashboard.data import engine, read_session


def score_trends(project_id: int, start: datetime, end: datetime,
                 segment: Segment = "") -> list[TrendPoint]:  # fmt: skip
    with read_session() as session:
        return review.score_trends(session, project_id, start, end, segment)


def score_distribution(project_id: int, start: datetime, end: datetime) -> list[Bucket]:
    with read_session() as session:
        return review.score_distribution(session, project_id, start, end)


def worst_traces(project_id: int, start: datetime, end: datetime,
                 scorer: str | None = None) -> list[WorstTrace]:  # fmt: skip
    with read_session() as session:
        return review.worst_traces(session, project_id, start, end, scorer=scorer)


def review_queue(project_id: int, start: datetime, end: datetime, *, below: float,
                 scorer: str | None, content: bool) -> list[ReviewItem]:  # fmt: skip
    with read_session() as session:
        return review.review_queue(session, project_id, start, end, below=below, scorer=scorer,
                                   content=content)  # fmt: skip


def label_span(project_id: int, trace_id: str, span_id: str, *, good: bool, comment: str,
               client_id: str) -> bool:  # fmt: skip
    """Store a reviewer's label once per client id; whether it was new."""
    with make_session_factory(engine()).begin() as session:
        _, created = review.label_span(session, project_id, trace_id, span_id, good=good,
                                       comment=comment, client_id=client_id)  # fmt: skip
    return created


def latest_drift(project_id: int) -> tuple[DriftRun | None, list[DriftResult]]:
    """The latest run and all its results (detached values the page can read)."""
    with read_session() as session:
        run = drift_read.latest_run(session, project_id)
        results = [] if run is None else drift_read.run_results(session, project_id, run.id)
        session.expunge_all()
        return run, results


def moved_spans(project_id: int, run: DriftRun, result: DriftResult,
                token: str | None = None) -> list[MovedSpan]:  # fmt: skip
    with read_session() as session:
        return drift_read.moved_spans(session, project_id, run, result, token=token)


def drift_history(project_id: int, kind: str, value: str) -> list[HistoryPoint]:
    with read_session() as session:
        return drift_read.segment_history(session, project_id, kind, value)


def model_change_list(project_id: int) -> list[ModelChange]:
    with read_session() as session:
        rows = model_changes.list_changes(session, project_id)
        session.expunge_all()
        return rows


def baselines(project_id: int) -> list[DriftBaseline]:
    with read_session() as session:
        rows = drift_job.list_baselines(session, project_id)
        session.expunge_all()
        return rows


def pin_baseline(project_id: int, start: datetime, end: datetime, actor: str) -> None:
    """Pin the project-wide baseline to ``[start, end)`` (replacing an earlier pin)."""
    with make_session_factory(engine()).begin() as session:
        drift_job.pin_baseline(session, project_id, start, end, actor=actor)


def unpin_baseline(project_id: int) -> None:
    with make_session_factory(engine()).begin() as session:
        drift_job.unpin_baseline(session, project_id)


def run_drift_now(project_id: int) -> drift_job.RunSummary:
    """Run drift for the project now (what the hourly worker task does)."""
    with make_session_factory(engine()).begin() as session:
        return drift_job.run_drift(session, project_id)
