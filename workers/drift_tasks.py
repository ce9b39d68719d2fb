"""Drift tasks: thin edges over :mod:`core.drift_job`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core import drift_job
from core.db import get_engine, make_session_factory

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@shared_task(name="drift.run_project", acks_late=True, reject_on_worker_lost=True)
def run_project(project_id: int, as_of_iso: str | None = None) -> int:
    """One drift run for one project (``as_of`` defaults to now); the number of drifted
    results. Runs for the same hour compare the same windows and alert once."""
    as_of = datetime.fromisoformat(as_of_iso) if as_of_iso else datetime.now(UTC)
    with _sessions().begin() as session:
        summary = drift_job.run_drift(session, project_id, as_of=as_of)
    return len(summary.drifted)


@shared_task(name="drift.run_all", acks_late=True, reject_on_worker_lost=True)
def run_all() -> int:
    """Queue one drift run per project with spans in the last day; how many were queued.

    One task per project keeps a big project from holding the others past the time limit.
    """
    now = datetime.now(UTC)
    with _sessions()() as session:
        projects = drift_job.active_projects(session, now - timedelta(days=1))
    for project_id in projects:
        run_project.delay(project_id, now.isoformat())
    return len(projects)
