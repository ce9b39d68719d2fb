"""A real Celery worker (with beat) re-prices spans and rollups after a price override change
made through the API, and its reconciliation task repairs a tampered rollup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.ingest import store_spans
from core.models import Project, Span, UsageHourly
from core.models_finance import RepricingJob, UsageDaily
from core.settings import Settings
from tests.finance.spans import T0, llm, span_cost
from tests.processes import celery_worker, wait_until
from tests.services import REDIS_URL
from workers.celery_app import create_celery
from workers.finance_tasks import RECONCILE_TASK

PRICE = {"model_pattern": "gpt-4o", "effective_from": (T0 - timedelta(days=1)).isoformat(),
         "input_per_mtok": "1", "output_per_mtok": "2"}  # fmt: skip


def _job_done(factory: sessionmaker[Session], job_id: int) -> bool:
    with factory() as session:
        return (
            session.scalar(select(RepricingJob.status).where(RepricingJob.id == job_id)) == "done"
        )


def test_a_price_override_change_reprices_spans_and_rollups_through_the_worker(
    database_url: str, admin: TestClient, session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [llm(n) for n in range(30)])
    created = admin.post("/api/v1/prices", json=PRICE)
    assert created.status_code == 201, created.text
    job_id = created.json()["repricing_job_id"]
    env = {"TOKENTRAIL_REPRICING_INTERVAL_S": "1", "TOKENTRAIL_REPRICING_BATCH_SIZE": "7"}
    with celery_worker(database_url, beat=True, **env):
        wait_until(lambda: _job_done(session_factory, job_id), 90, "the re-pricing job")
    with session_factory() as session:
        costs = set(session.scalars(select(Span.cost)))
        job = session.get_one(RepricingJob, (project.id, job_id))
        hourly = session.scalar(select(UsageHourly.cost))
        daily = session.scalar(select(UsageDaily.cost))
        truth = span_cost(session, project.id)
    assert costs == {Decimal("0.0014")}
    assert (job.spans_repriced, job.batches) == (30, 5)
    assert hourly == daily == truth == Decimal("0.0014") * 30


def test_the_reconciliation_task_repairs_a_tampered_rollup(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    recent = datetime.now(UTC) - timedelta(hours=2)
    with session_factory.begin() as session:
        store_spans(session, project.id, [llm(n, start_time=recent) for n in range(4)])
        session.execute(update(UsageHourly).values(cost=Decimal(99)))

    def repaired() -> bool:
        with session_factory() as session:
            return session.scalar(select(UsageHourly.cost)) == Decimal("0.018")

    with celery_worker(database_url) as queue:
        create_celery(Settings(broker_url=REDIS_URL, celery_queue=queue)).send_task(RECONCILE_TASK)
        wait_until(repaired, 60, "the repaired rollup")
