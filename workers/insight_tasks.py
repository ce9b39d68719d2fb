"""Insight tasks: the spend-anomaly scan, on beat (see :mod:`workers.celery_app`).

A thin edge over :func:`core.anomalies.scan_project`; alerts are deduplicated per project, day
and series, so a redelivered or overlapping run raises nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core import anomalies
from core.db import get_engine, make_session_factory
from core.settings import get_settings

logger = logging.getLogger(__name__)

ANOMALY_TASK = "insight.scan_anomalies"


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@shared_task(name=ANOMALY_TASK, acks_late=True, reject_on_worker_lost=True)
def scan_anomalies(now_iso: str | None = None) -> int:
    """Judge the recent days of every project with recent spend; the alerts raised.

    ``now_iso`` (ISO 8601) replaces the clock, for a scan "as of" another moment. Each project
    has its own transaction, so one that fails (logged) never holds up the rest.
    """
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    lookback = get_settings().anomaly_lookback_days
    with _sessions()() as session:
        projects = anomalies.projects_with_spend(session, now - timedelta(days=lookback + 1))
    raised = 0
    for project_id in projects:
        try:
            with _sessions().begin() as session:
                raised += len(anomalies.scan_project(session, project_id, now=now,
                                                     lookback_days=lookback))  # fmt: skip
        except Exception:
            logger.exception("spend anomalies of project %s could not be scanned", project_id)
    return raised
