"""The anomaly scan through a real Celery worker on a real broker."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import anomalies
from core.models import Project
from core.models_governance import Alert
from core.settings import Settings
from tests.insight.spend import Spike, store, traffic
from tests.processes import celery_worker, wait_until
from tests.services import REDIS_URL
from workers.celery_app import create_celery
from workers.insight_tasks import ANOMALY_TASK


def _alerts(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        rows = session.execute(select(Alert.dedup_key, Alert.title)
                               .where(Alert.kind == anomalies.ALERT_KIND))  # fmt: skip
        return [(k, t) for k, t in rows]


def test_the_worker_raises_the_spike_once_however_often_the_task_runs(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    spike = Spike(day=date(2026, 11, 1), calls=30)
    with session_factory.begin() as session:
        store(session, project.id, traffic(date(2026, 10, 1), 36, spike=spike))
    now = datetime(2026, 11, 6, 3, tzinfo=UTC).isoformat()
    with celery_worker(database_url) as queue:
        app = create_celery(Settings(broker_url=REDIS_URL, celery_queue=queue))
        for _ in range(3):  # redelivered or overlapping runs raise nothing twice
            app.send_task(ANOMALY_TASK, args=[now])
        wait_until(lambda: len(_alerts(session_factory)) == 1, 90, "the anomaly alert")
        time.sleep(5)  # the other two runs finish (a scan takes well under a second here)
    alerts = _alerts(session_factory)
    assert [k for k, _ in alerts] == ["spend_anomaly:2026-11-01:total:"]
    assert "2026-11-01" in alerts[0][1]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1


def test_beat_schedules_the_scan(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    """With today's spike in the last complete day, beat's own run finds it."""
    today = datetime.now(UTC).date()
    first = date.fromordinal(today.toordinal() - 36)
    spike = Spike(day=date.fromordinal(today.toordinal() - 1), calls=40)
    with session_factory.begin() as session:
        store(session, project.id, traffic(first, 36, spike=spike))
    with celery_worker(database_url, beat=True, TOKENTRAIL_ANOMALY_INTERVAL_S="2"):
        wait_until(lambda: len(_alerts(session_factory)) >= 1, 90, "a beat-driven scan")
    keys = [k for k, _ in _alerts(session_factory)]
    assert f"spend_anomaly:{spike.day.isoformat()}:total:" in keys
