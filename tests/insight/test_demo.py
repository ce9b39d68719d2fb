"""The demo history (30 days sent by the real SDK through the real collector): the anomaly
detector finds the injected spike, names its driver and stays quiet otherwise; the forecast
reads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import anomalies
from core.forecast import forecast_month
from core.models_governance import Alert
from tests.demo_history import READERS, DemoHistory, demo_database

pytestmark = READERS


@pytest.fixture
def database_url(demo_history: DemoHistory) -> Iterator[str]:
    yield from demo_database(demo_history)


def test_the_demo_spike_is_the_one_anomaly_of_the_demo_and_globex_drove_it(
    session_factory: sessionmaker[Session], demo_history: DemoHistory
) -> None:
    """Every day with two weeks of history is judged; only the spike nine days ago is found."""
    spike_day = demo_history.now.date() - timedelta(days=9)
    with session_factory.begin() as session:
        raised = anomalies.scan_project(session, demo_history.project_id, now=demo_history.now,
                                        lookback_days=16)  # fmt: skip
        found = anomalies.detect(session, demo_history.project_id, now=demo_history.now,
                                 lookback_days=16)  # fmt: skip
        alerts = int(session.scalar(select(func.count()).select_from(Alert)) or 0)
    assert [(f.day, f.dimension) for f in found] == [(spike_day, "total")]
    assert len(raised) == alerts == 1
    drivers = {(c.dimension, c.value): c.share for c in found[0].drivers()}
    assert drivers[("customer", "globex")] > 0.9
    assert drivers[("feature", "rag-qa")] > 0.9
    model = next(value for dimension, value in drivers if dimension == "model")
    assert model.startswith("gpt-4o")  # the response model: gpt-4o-2024-08-06 then
    assert drivers[("model", model)] > 0.9


def test_the_forecast_of_the_demo_month_brackets_its_run_rate(
    session_factory: sessionmaker[Session], demo_history: DemoHistory
) -> None:
    with session_factory() as session:
        f = forecast_month(session, demo_history.project_id, now=demo_history.now)
    assert f.spent > 0
    assert f.low < f.expected_total < f.high
    assert f.history_days >= 29
    assert f.method.startswith("seasonal")
