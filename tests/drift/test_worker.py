"""Drift in a real Celery worker: the task, repeated delivery, and beat's schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.alerts import list_alerts
from core.ingest import SpanRecord, store_spans
from core.models import Project
from core.models_drift import DriftRun
from core.settings import Settings
from tests.drift.conftest import RECENT_END, Loader
from tests.drift.synthetic import Shift
from tests.processes import celery_worker, wait_until
from tests.services import REDIS_URL
from workers.celery_app import create_celery


def _runs(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(DriftRun)) or 0)


def test_the_worker_runs_drift_and_a_repeated_task_alerts_once(
    database_url: str, load_traffic: Loader, session_factory: sessionmaker[Session],
    project: Project,
) -> None:  # fmt: skip
    load_traffic(seed=5, shift=Shift(length_sd=1.5), per_day=60)
    with celery_worker(database_url) as queue:
        app = create_celery(Settings(broker_url=REDIS_URL, celery_queue=queue))
        for _ in range(3):  # the same run delivered three times
            app.send_task("drift.run_project", args=[project.id, RECENT_END.isoformat()])
        wait_until(lambda: _runs(session_factory) == 3, 180, "three drift runs", interval=0.5)
    with session_factory() as session:
        runs = session.scalars(select(DriftRun)).all()
        alerts = list_alerts(session, project.id, kinds=["drift"])
    assert {r.recent_end for r in runs} == {RECENT_END}
    assert all(r.drifted == runs[0].drifted > 0 for r in runs)
    assert len(alerts) == runs[0].drifted
    assert any("input_tokens" in a.title for a in alerts)


def test_beat_queues_a_run_for_each_active_project(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(hours=2)
    span = SpanRecord(trace_id="a" * 32, span_id="b" * 16, name="chat", kind="llm",
                      start_time=start, end_time=start + timedelta(seconds=1))  # fmt: skip
    with session_factory.begin() as session:
        store_spans(session, project.id, [span])
    with celery_worker(database_url, beat=True, TOKENTRAIL_DRIFT_INTERVAL_S="2"):
        wait_until(lambda: _runs(session_factory) >= 1, 120, "a beat-driven drift run", 0.5)
    with session_factory() as session:
        run = session.scalars(select(DriftRun)).first()
    assert run is not None
    assert run.project_id == project.id
    assert run.tests == 0  # one call is far below every minimum sample size
