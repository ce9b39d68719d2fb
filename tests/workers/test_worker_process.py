"""A real Celery worker on a real broker scores spans stored in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.ingest import SpanRecord, store_spans
from core.models import Project, Score
from core.settings import Settings
from tests.processes import celery_worker, wait_until
from tests.services import REDIS_URL
from workers.celery_app import SCORE_TASK, create_celery


def _spans(n: int) -> list[SpanRecord]:
    t0 = datetime(2026, 11, 3, 12, tzinfo=UTC)
    return [
        SpanRecord(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind="llm",
                   start_time=t0, end_time=t0 + timedelta(seconds=1), output_text="ok",
                   finish_reasons=["stop"])
        for i in range(1, n + 1)
    ]  # fmt: skip


def _score_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Score)) or 0)


def test_worker_scores_spans_when_the_task_is_sent(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, _spans(50))
    with celery_worker(database_url) as queue:
        app = create_celery(Settings(broker_url=REDIS_URL, celery_queue=queue))
        for _ in range(5):  # the same task delivered repeatedly changes nothing
            app.send_task(SCORE_TASK)
        wait_until(lambda: _score_count(session_factory) == 150, 60, "150 scores")
    assert _score_count(session_factory) == 150


def test_beat_schedules_scoring_without_being_asked(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, _spans(3))
    with celery_worker(database_url, beat=True, TOKENTRAIL_SCORE_INTERVAL_S="1"):
        wait_until(lambda: _score_count(session_factory) == 9, 60, "beat-driven scores")
