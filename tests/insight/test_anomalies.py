"""Spend anomalies: the band on generated series, the detector over stored calls, the alerts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import anomalies
from core.models import Project
from core.models_governance import Alert
from tests.insight.spend import Spike, store, traffic

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 11, 6, 3, tzinfo=UTC)  # before MIN_PARTIAL_HOURS: today is not judged


def weekly(days: int, seed: int, noise: float = 0.1, weekend: float = 0.35) -> list[float]:
    rng = random.Random(seed)
    out = []
    for i in range(days):
        base = 100.0 * (weekend if (FIRST + timedelta(days=i)).weekday() >= 5 else 1.0)
        out.append(max(0.0, rng.gauss(base, base * noise)))
    return out


def judge(values: list[float], i: int) -> bool:
    past = [FIRST + timedelta(days=j) for j in range(i - 28, i)]
    limits = anomalies.band(values[i - 28 : i], [d.weekday() for d in past],
                            (FIRST + timedelta(days=i)).weekday())  # fmt: skip
    assert limits is not None
    return anomalies.is_anomalous(values[i], limits, material=limits.level * 0.15)


def test_an_ordinary_weekly_pattern_with_noise_never_leaves_its_band() -> None:
    """200 series × 30 judged days of weekday/weekend spend with 10 % noise: no false alarm."""
    alarms = sum(judge(weekly(58, seed), i) for seed in range(200) for i in range(28, 58))
    assert alarms == 0


@pytest.mark.parametrize("weekday_of_spike", [2, 5])
def test_a_spike_of_double_the_day_is_found_on_a_weekday_and_a_weekend(
    weekday_of_spike: int,
) -> None:
    values = weekly(42, seed=7)
    i = next(i for i in range(35, 42) if (FIRST + timedelta(days=i)).weekday() == weekday_of_spike)
    quiet = values[i]
    assert not judge(values, i)
    values[i] = quiet + 100.0  # an extra ordinary weekday's spend
    assert judge(values, i)


def test_a_weekday_is_not_an_anomaly_after_a_weekend() -> None:
    values = weekly(42, seed=11, noise=0.0)
    monday = next(i for i in range(28, 42) if (FIRST + timedelta(days=i)).weekday() == 0)
    assert not judge(values, monday)


def test_too_little_history_is_not_judged() -> None:
    assert anomalies.band([1.0] * 13, [0] * 13, 0) is None


@pytest.fixture
def spiky(session_factory: sessionmaker[Session], project: Project) -> date:
    """36 days of weekly traffic with globex hammering the search feature on Nov 1 (Sunday)."""
    spike = Spike(day=date(2026, 11, 1), customer="globex", feature="search", calls=30)
    with session_factory.begin() as session:
        store(session, project.id, traffic(FIRST, 36, spike=spike))
    return spike.day


def test_the_spike_is_found_once_and_its_driver_named(
    session_factory: sessionmaker[Session], project: Project, spiky: date
) -> None:
    with session_factory() as session:
        found = anomalies.detect(session, project.id, now=NOW, lookback_days=20)
    assert [(f.day, f.dimension) for f in found] == [(spiky, "total")]
    drivers = {(c.dimension, c.value) for c in found[0].drivers()}
    assert {("customer", "globex"), ("feature", "search"), ("model", "gpt-4o")} <= drivers
    assert ("customer", "acme") not in drivers


def test_contributions_add_up_to_the_excess_exactly(
    session_factory: sessionmaker[Session], project: Project, spiky: date
) -> None:
    with session_factory() as session:
        finding = anomalies.detect(session, project.id, now=NOW, lookback_days=20)[0]
        history = (spiky - timedelta(days=28), spiky)
        every = anomalies.decompose(session, project.id, finding, history)
    by_customer = [c for c in every if c.dimension == "customer"]
    assert by_customer[0].value == "globex"
    assert by_customer[0].share > 0.8
    title, body = anomalies.describe(finding)
    assert "2026-11-01" in title
    assert "customer globex" in body


def _alerts(factory: sessionmaker[Session]) -> list[Alert]:
    with factory() as session:
        return list(session.scalars(select(Alert).where(Alert.kind == anomalies.ALERT_KIND)))


def test_scanning_twice_raises_one_alert(
    session_factory: sessionmaker[Session], project: Project, spiky: date
) -> None:
    for _ in range(2):
        with session_factory.begin() as session:
            anomalies.scan_project(session, project.id, now=NOW, lookback_days=20)
    alerts = _alerts(session_factory)
    assert len(alerts) == 1
    assert alerts[0].dedup_key == f"spend_anomaly:{spiky.isoformat()}:total:"
    assert alerts[0].details["contributors"][0]["value"] in {"globex", "search", "gpt-4o",
                                                              "growth", "openai"}  # fmt: skip
    assert Decimal(alerts[0].details["excess"]) > 0


def test_weekly_traffic_without_a_spike_raises_nothing(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store(session, project.id, traffic(FIRST, 36, seed=5))
        assert anomalies.scan_project(session, project.id, now=NOW, lookback_days=20) == []


def test_today_is_judged_on_the_hours_that_have_passed(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spike = Spike(day=date(2026, 11, 6), customer="hooli", feature="drafts", calls=75)
    with session_factory.begin() as session:
        store(session, project.id, traffic(FIRST, 37, spike=spike))
    at_noon = datetime(2026, 11, 6, 12, tzinfo=UTC)
    with session_factory() as session:
        found = anomalies.detect(session, project.id, now=at_noon, lookback_days=3)
    assert [(f.day, f.hours) for f in found] == [(spike.day, 12)]
    assert ("customer", "hooli") in {(c.dimension, c.value) for c in found[0].drivers()}


def test_a_new_project_with_under_two_weeks_of_spend_is_not_judged(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spike = Spike(day=date(2026, 11, 5), calls=500)
    with session_factory.begin() as session:
        store(session, project.id, traffic(date(2026, 10, 25), 12, spike=spike))
    with session_factory() as session:
        assert anomalies.detect(session, project.id, now=NOW, lookback_days=10) == []
