"""Exactly-once scoring with real Celery workers: killed mid-batch, the same task delivered
again and again, a task that keeps failing dead-lettered; the lag exported as a metric."""

from __future__ import annotations

import os
import re
import signal
import uuid
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.scoring_data import make_records
from core import quality
from core.ingest import store_spans
from core.models import Project, Score
from core.models_quality import ScoringQueue, TaskAttempt
from core.settings import Settings
from tests.processes import celery_worker, wait_until
from tests.services import REDIS_URL, free_port
from workers.celery_app import SCORE_TASK, create_celery
from workers.scoring import score_batch

TRACES = 2500  # ~5,900 spans: several seconds of scoring for one worker


def _store(factory: sessionmaker[Session], project: Project) -> int:
    records = make_records(TRACES, seed=3)
    with factory.begin() as session:
        store_spans(session, project.id, records)
    return len(records)


def _waiting(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(ScoringQueue)) or 0)


def _scores(factory: sessionmaker[Session]) -> set[tuple[Any, ...]]:
    with factory() as session:
        rows = session.execute(
            select(Score.trace_id, Score.span_id, Score.name, Score.scorer_version, Score.value)
            .where(Score.source == "scorer")
        ).all()  # fmt: skip
    return {tuple(r) for r in rows}


def _duplicates(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(session.execute(text(
            "SELECT 1 FROM scores WHERE source = 'scorer' GROUP BY project_id, trace_id, "
            "span_id, name, scorer_version HAVING count(*) > 1")).all())  # fmt: skip


def _reference(factory: sessionmaker[Session], project: Project) -> set[tuple[Any, ...]]:
    """What one undisturbed in-process run produces for the same spans."""
    with factory.begin() as session:
        session.execute(text("DELETE FROM scores"))
        keys = session.execute(text("SELECT trace_id, span_id FROM spans")).all()
        quality.enqueue_for_scoring(session, project.id, [(t, s) for t, s in keys])
    while True:
        with factory.begin() as session:
            if score_batch(session, 500) == 0:
                break
    return _scores(factory)


def _worker_processes(queue: str) -> tuple[psutil.Process, list[psutil.Process]]:
    found = [p for p in psutil.process_iter(["cmdline"])
             if any(f"{queue}@" in part for part in p.info["cmdline"] or [])]  # fmt: skip
    pids = {p.pid for p in found}
    parent = next(p for p in found if p.ppid() not in pids)
    return parent, [p for p in found if p.pid != parent.pid]


def _send(queue: str, **options: Any) -> None:
    app = create_celery(Settings(broker_url=REDIS_URL, celery_queue=queue))
    app.send_task(SCORE_TASK, **options)


def _assert_exactly_once(factory: sessionmaker[Session], project: Project) -> None:
    assert _waiting(factory) == 0
    assert _duplicates(factory) == 0
    by_worker = _scores(factory)
    assert by_worker == _reference(factory, project)
    assert len(by_worker) > TRACES * 4  # every LLM span has several applicable scorers


def test_pool_process_killed_mid_batch_task_redelivered_and_spans_scored_once(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    total = _store(session_factory, project)
    with celery_worker(database_url, TOKENTRAIL_SCORE_BATCH_SIZE="300") as queue:
        _send(queue)
        wait_until(lambda: _waiting(session_factory) < total - 600, 90, "a few batches")
        _, children = _worker_processes(queue)
        for child in children:
            os.kill(child.pid, signal.SIGKILL)  # mid-batch: its transaction never commits
        # reject_on_worker_lost puts the task back; the new pool process finishes the work.
        wait_until(lambda: _waiting(session_factory) == 0, 180, "the redelivered task")
        with session_factory() as session:
            attempts = session.scalars(select(TaskAttempt)).all()
    assert attempts == []  # the redelivered task finished and was forgotten
    _assert_exactly_once(session_factory, project)


def test_whole_worker_killed_mid_batch_then_another_worker_scores_each_span_once(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    total = _store(session_factory, project)
    with celery_worker(database_url, TOKENTRAIL_SCORE_BATCH_SIZE="300") as queue:
        _send(queue)
        wait_until(lambda: _waiting(session_factory) < total - 600, 90, "a few batches")
        parent, children = _worker_processes(queue)
        for process in [parent, *children]:
            os.kill(process.pid, signal.SIGKILL)
        psutil.wait_procs([parent, *children], timeout=10)
    left = _waiting(session_factory)
    assert 0 < left < total  # some batches committed, the one in flight did not
    with celery_worker(database_url, TOKENTRAIL_SCORE_BATCH_SIZE="300") as queue:
        _send(queue)  # what the next beat tick sends
        wait_until(lambda: _waiting(session_factory) == 0, 180, "the second worker")
    _assert_exactly_once(session_factory, project)


def test_same_task_delivered_five_times_scores_once_and_exports_the_lag(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    total = _store(session_factory, project)
    port = free_port()
    with celery_worker(database_url, TOKENTRAIL_WORKER_METRICS_PORT=str(port)) as queue:
        task_id = str(uuid.uuid4())
        for _ in range(5):
            _send(queue, task_id=task_id)
        wait_until(lambda: _waiting(session_factory) == 0, 180, "the repeated task")

        def scraped() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return ""

        wait_until(lambda: "tokentrail_scoring_lag_seconds_count" in scraped(), 30, "metrics")
        body = scraped()
    _assert_exactly_once(session_factory, project)
    count = re.search(r"^tokentrail_scoring_lag_seconds_count (\S+)$", body, re.M)
    backlog = re.search(r"^tokentrail_scoring_backlog_spans (\S+)$", body, re.M)
    assert count is not None
    assert float(count.group(1)) == total
    assert backlog is not None
    assert float(backlog.group(1)) == 0


def test_task_delivered_past_the_limit_is_dead_lettered_without_running(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    total = _store(session_factory, project)
    task_id = str(uuid.uuid4())
    with session_factory.begin() as session:  # it already killed its worker three times
        session.add(TaskAttempt(task_id=task_id, task_name=SCORE_TASK,
                                attempts=quality.MAX_TASK_ATTEMPTS))  # fmt: skip

    def dead() -> bool:
        with session_factory() as session:
            row = session.get(TaskAttempt, task_id)
            return row is not None and row.dead_at is not None

    with celery_worker(database_url) as queue:
        _send(queue, task_id=task_id)
        wait_until(dead, 60, "the task to be dead-lettered")
    assert _waiting(session_factory) == total  # acknowledged without scoring anything
    with session_factory() as session:
        row = session.get(TaskAttempt, task_id)
    assert row is not None
    assert row.attempts == quality.MAX_TASK_ATTEMPTS + 1
    assert "delivered 4 times" in (row.last_error or "")
