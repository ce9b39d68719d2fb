"""The Celery application factory and its schedule."""

from __future__ import annotations

from celery import Celery
from sqlalchemy.engine import make_url

from core.settings import Settings

SCORE_TASK = "scoring.score_pending"


def broker_database_url(database_url: str) -> str:
    """kombu's SQLAlchemy transport URL for a ``tokentrail_broker`` database beside ours.

    Keeping the broker's tables in their own database leaves the application schema (and
    Alembic's view of it) untouched.
    """
    url = make_url(database_url).set(drivername="postgresql+psycopg", database="tokentrail_broker")
    return "sqla+" + url.render_as_string(hide_password=False)


def resolve_broker_url(settings: Settings) -> str:
    if settings.broker_url:
        return settings.broker_url
    if not settings.database_url:
        raise ValueError("set TOKENTRAIL_BROKER_URL or TOKENTRAIL_DATABASE_URL")
    return broker_database_url(settings.database_url)


def create_celery(settings: Settings) -> Celery:
    """A Celery app whose tasks survive worker loss and never pile up duplicates."""
    include = [
        "workers.tasks",
        "workers.governance_tasks",
        "workers.finance_tasks",
        "workers.judge_tasks",
        "workers.rightsizing_tasks",
        "workers.insight_tasks",
        "workers.drift_tasks",
    ]
    app = Celery("tokentrail", broker=resolve_broker_url(settings), include=include)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_time_limit=300,
        task_soft_time_limit=240,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "score-pending": {
                "task": SCORE_TASK,
                "schedule": settings.score_interval_s,
                "options": {"expires": max(settings.score_interval_s * 5, 10)},
            },
            "rescore-pending": {
                "task": "scoring.rescore_pending",
                "schedule": settings.rescore_interval_s,
                "options": {"expires": max(settings.rescore_interval_s * 3, 10)},
            },
            "governance-budgets": {
                "task": "governance.refresh_budgets",
                "schedule": settings.budget_interval_s,
                "options": {"expires": settings.budget_interval_s},
            },
            "finance-reprice": {
                "task": "finance.reprice",
                "schedule": settings.repricing_interval_s,
                "options": {"expires": max(settings.repricing_interval_s * 3, 10)},
            },
            "finance-reconcile": {
                "task": "finance.reconcile",
                "schedule": settings.reconcile_interval_s,
                "options": {"expires": settings.reconcile_interval_s},
            },
            "governance-deliveries": {
                "task": "governance.deliver_alerts",
                "schedule": settings.webhook_interval_s,
                "options": {"expires": max(settings.webhook_interval_s * 3, 10)},
            },
            "judge-pending": {
                "task": "judge.run_pending",
                "schedule": 30.0,
                "options": {"expires": 60},
            },
            "rightsizing-experiments": {
                "task": "rightsizing.run_experiments",
                "schedule": 15.0,
                "options": {"expires": 60},
            },
            "drift-all": {
                "task": "drift.run_all",
                "schedule": settings.drift_interval_s,
                "options": {"expires": settings.drift_interval_s},
            },
            "insight-anomalies": {
                "task": "insight.scan_anomalies",
                "schedule": settings.anomaly_interval_s,
                "options": {"expires": settings.anomaly_interval_s},
            },
        },
        timezone="UTC",
    )
    return app
