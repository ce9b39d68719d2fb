"""The LLM judge job: each enabled project's next sampled calls, one transaction per project.

A thin edge over :func:`core.judge.judge_batch`; beat runs it every ``JUDGE_INTERVAL_S``.
Per-call deadlines and retries with backoff live in :mod:`core.openai_compat`; the task's own
soft time limit is above the batch budget, so a hanging endpoint is cut, never waited on.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core import judge
from core.db import get_engine, make_session_factory
from core.settings import get_settings

logger = logging.getLogger(__name__)

JUDGE_TASK = "judge.run_pending"
JUDGE_INTERVAL_S = 30.0
#: Per project and run: at most this many calls considered, within this many seconds.
BATCH_SIZE = 50
BUDGET_S = 90.0
SOFT_LIMIT_S = 150


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@shared_task(name=JUDGE_TASK, acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=SOFT_LIMIT_S, time_limit=SOFT_LIMIT_S + 30)  # fmt: skip
def run_judges() -> int:
    """Judge every enabled project's next calls; the number of scores stored."""
    allow_loopback = get_settings().outbound_allow_loopback
    with _sessions()() as session:
        projects = judge.enabled_projects(session)
    stored = 0
    for project_id in projects:
        try:
            with _sessions().begin() as session:
                outcome = judge.judge_batch(session, project_id, allow_loopback=allow_loopback,
                                            batch_size=BATCH_SIZE, budget_s=BUDGET_S)  # fmt: skip
            stored += outcome.scores
            if outcome.stopped:
                logger.info("judge of project %d stopped early: %s", project_id, outcome.stopped)
        except Exception:
            logger.exception("the judge of project %d failed", project_id)
    return stored
