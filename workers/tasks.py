"""Celery tasks: thin edges over the plain functions in this package.

Every task here runs with ``acks_late`` and ``reject_on_worker_lost`` (a worker that dies
mid-task gives the task back), hard and soft time limits, and a delivery count kept in
Postgres: a task delivered more than ``core.quality.MAX_TASK_ATTEMPTS`` times (it keeps
killing its worker) is dead-lettered in ``task_attempts`` and acknowledged without running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from sqlalchemy.orm import Session, sessionmaker

from core import quality
from core.db import get_engine, make_session_factory
from core.settings import get_settings
from workers import rescoring, scoring
from workers.metrics import serve_metrics

logger = logging.getLogger(__name__)

#: A task stops claiming new batches after this long, so beat's next tick takes over.
SCORE_BUDGET_S = 20.0
#: The soft limit interrupts a batch that overruns (its transaction rolls back, nothing is
#: lost); the hard limit kills a pool process that ignores it.
SOFT_TIME_LIMIT_S = 60
TIME_LIMIT_S = 90


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


def run_counted(task: Task[Any, Any], work: Callable[[], int]) -> int:
    """Run ``work`` unless this task id has already been delivered too often."""
    task_id = task.request.id
    if not task_id:  # called directly, not through a broker
        return work()
    with _sessions().begin() as session:
        attempts = quality.begin_attempt(session, task_id, task.name)
        if attempts > quality.MAX_TASK_ATTEMPTS:
            quality.dead_letter_task(
                session, task_id, f"delivered {attempts} times without finishing"
            )
            logger.error("task %s %s dead-lettered after %d deliveries", task.name, task_id,
                         attempts)  # fmt: skip
            return 0
    try:
        return work()
    finally:
        with _sessions().begin() as session:
            quality.finish_attempt(session, task_id)


def score_until_done(budget_s: float = SCORE_BUDGET_S) -> int:
    """Score unscored spans in batches until none are left or the time budget is spent."""
    batch_size = get_settings().score_batch_size
    deadline = time.monotonic() + budget_s
    total = 0
    while time.monotonic() < deadline:
        with _sessions().begin() as session:
            done = scoring.score_batch(session, batch_size)
        total += done
        if done < batch_size:
            break
    return total


def rescore_until_done(budget_s: float = SCORE_BUDGET_S) -> int:
    """Work open rescore requests chunk by chunk until none is left or the budget is spent."""
    deadline = time.monotonic() + budget_s
    chunks = 0
    while time.monotonic() < deadline:
        with _sessions().begin() as session:
            if not rescoring.rescore_step(session):
                break
        chunks += 1
    return chunks


@shared_task(name="scoring.score_pending", bind=True, acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=SOFT_TIME_LIMIT_S,
             time_limit=TIME_LIMIT_S)  # fmt: skip
def score_pending(self: Task[Any, Any]) -> int:
    """Score unscored spans until none are left or the time budget is spent."""
    return run_counted(self, score_until_done)


@shared_task(name="scoring.rescore_pending", bind=True, acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=SOFT_TIME_LIMIT_S,
             time_limit=TIME_LIMIT_S)  # fmt: skip
def rescore_pending(self: Task[Any, Any]) -> int:
    """Work open rescore requests until none is left or the time budget is spent."""
    return run_counted(self, rescore_until_done)


@worker_ready.connect
def _start_metrics(**_: Any) -> None:
    """Serve the scoring metrics from the main worker process when a port is configured."""
    port = get_settings().worker_metrics_port
    if port:
        serve_metrics(port, _sessions())
