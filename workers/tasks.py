"""Celery tasks: thin edges over the plain functions in this package."""

from __future__ import annotations

import time
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core.db import get_engine, make_session_factory
from core.settings import get_settings
from workers import scoring

#: A task stops claiming new batches after this long, so beat's next tick takes over.
SCORE_BUDGET_S = 20.0


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@shared_task(name="scoring.score_pending", acks_late=True, reject_on_worker_lost=True)
def score_pending() -> int:
    """Score unscored spans in batches until none are left or the time budget is spent."""
    batch_size = get_settings().score_batch_size
    deadline = time.monotonic() + SCORE_BUDGET_S
    total = 0
    while time.monotonic() < deadline:
        with _sessions().begin() as session:
            done = scoring.score_batch(session, batch_size)
        total += done
        if done < batch_size:
            break
    return total
