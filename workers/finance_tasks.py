"""Finance tasks: run queued re-pricing jobs, and re-check recent rollups against raw spans.

Thin edges over :mod:`core.repricing` and :mod:`core.rollups`; beat schedules both (see
:mod:`workers.celery_app`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core import repricing, rollups
from core.db import get_engine, make_session_factory
from core.settings import get_settings

logger = logging.getLogger(__name__)

REPRICE_TASK = "finance.reprice"
RECONCILE_TASK = "finance.reconcile"
#: A task stops claiming batches after this long (under the 240 s soft limit), so beat's next
#: tick takes over from the committed cursor.
REPRICE_BUDGET_S = 50.0


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@shared_task(name=REPRICE_TASK, acks_late=True, reject_on_worker_lost=True)
def reprice() -> int:
    """Run batches of open re-pricing jobs; the number of batches run."""
    settings = get_settings()
    return repricing.run_jobs(
        _sessions(), batch_size=settings.repricing_batch_size, budget_s=REPRICE_BUDGET_S
    )


@shared_task(name=RECONCILE_TASK, acks_late=True, reject_on_worker_lost=True)
def reconcile() -> int:
    """Recompute the recent rollups of every project from raw spans, repair and log any
    difference; the number of mismatched cells found."""
    window = timedelta(hours=get_settings().reconcile_window_h)
    reports = rollups.reconcile_recent(_sessions(), datetime.now(UTC), window)
    found = sum(len(r.mismatches) for r in reports)
    if found:
        logger.warning("reconciliation repaired %d rollup cells", found)
    return found
