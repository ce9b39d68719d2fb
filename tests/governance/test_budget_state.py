"""Budget state from the rollups: periods, scopes, thresholds once per period, the live check."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import budgets
from core.budget_state import budget_status, burn_down, exhausted_hard_budgets, refresh_budget
from core.budgets import BudgetIn, period_bounds
from core.models import Project
from core.models_governance import Alert, BudgetState
from tests.governance.conftest import make_budget, spend

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday


def alerts(factory: sessionmaker[Session], project_id: int) -> list[str]:
    with factory() as session:
        query = select(Alert.dedup_key).where(Alert.project_id == project_id).order_by(Alert.id)
        return list(session.scalars(query))


def refresh(factory: sessionmaker[Session], project_id: int, budget_id: int, now: datetime
            ) -> list[int] | None:  # fmt: skip
    with factory.begin() as session:
        return refresh_budget(session, project_id, budget_id, now)


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", NOW, datetime(2026, 11, 18), datetime(2026, 11, 19)),
        ("week", NOW, datetime(2026, 11, 16), datetime(2026, 11, 23)),
        ("week", datetime(2026, 11, 22, 23, 59, tzinfo=UTC), datetime(2026, 11, 16),
         datetime(2026, 11, 23)),
        ("month", NOW, datetime(2026, 11, 1), datetime(2026, 12, 1)),
        ("month", datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2026, 12, 1),
         datetime(2027, 1, 1)),
        ("day", datetime(2026, 11, 18, 20, 30, tzinfo=timezone(timedelta(hours=-5))),
         datetime(2026, 11, 19), datetime(2026, 11, 20)),
    ],
)  # fmt: skip
def test_periods_are_utc_calendar_periods(
    period: str, now: datetime, start: datetime, end: datetime
) -> None:
    assert period_bounds(period, now) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_each_threshold_fires_exactly_once_per_period(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    budget = make_budget(session_factory, project.id, thresholds=[50, 80, 100])
    spend(session_factory, project.id, NOW - timedelta(days=3), "6")
    for _ in range(3):
        refresh(session_factory, project.id, budget, NOW)
    assert alerts(session_factory, project.id) == [f"budget:{budget}:2026-11-01T00:00:00+00:00:50"]
    spend(session_factory, project.id, NOW - timedelta(hours=1), "4.5")
    raised = [refresh(session_factory, project.id, budget, NOW) for _ in range(3)]
    assert raised == [[80, 100], [], []]
    assert len(alerts(session_factory, project.id)) == 3
    # A new month: the same spend pattern alerts again, once, under the new period's key.
    december = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    spend(session_factory, project.id, december - timedelta(hours=2), "5")
    raised = [refresh(session_factory, project.id, budget, december) for _ in range(3)]
    assert raised == [[50], [], []]
    assert alerts(session_factory, project.id)[-1] == (
        f"budget:{budget}:2026-12-01T00:00:00+00:00:50"
    )


def test_concurrent_runs_raise_each_threshold_once(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    budget = make_budget(session_factory, project.id, thresholds=[10, 20, 30, 40, 50])
    spend(session_factory, project.id, NOW - timedelta(hours=2), "9")
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        for _ in range(5):
            refresh(session_factory, project.id, budget, NOW)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(alerts(session_factory, project.id)) == 5


def test_a_budget_being_computed_elsewhere_is_skipped(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    budget = make_budget(session_factory, project.id)
    with session_factory.begin() as holder:
        budgets.get_budget(holder, project.id, budget)
        holder.connection().exec_driver_sql(
            "SELECT 1 FROM budgets WHERE id = %s FOR UPDATE", (budget,)
        )
        assert refresh(session_factory, project.id, budget, NOW) is None
    assert refresh(session_factory, project.id, budget, NOW) == []


@pytest.mark.parametrize(
    ("scope", "value", "expected"),
    [("project", "", "7.5"), ("team", "search", "3"), ("feature", "chat", "1.5"),
     ("customer", "acme", "4.5"), ("model", "gpt-4o-mini", "3"), ("user", "u-1", "1.5")],
)  # fmt: skip
def test_a_scoped_budget_counts_only_its_value(
    session_factory: sessionmaker[Session], project: Project, scope: str, value: str,
    expected: str,
) -> None:  # fmt: skip
    at = NOW - timedelta(hours=5)
    spend(session_factory, project.id, at, "1.5", team="search", feature="chat", user_id="u-1",
          customer="acme")  # fmt: skip
    spend(session_factory, project.id, at, "1.5", team="search", model="gpt-4o-mini")
    spend(session_factory, project.id, at, "3", team="ads", customer="acme")
    spend(session_factory, project.id, at, "1.5", model="gpt-4o-mini")
    spend(session_factory, project.id, NOW - timedelta(days=40), "100", team="search")
    budget = make_budget(session_factory, project.id, scope=scope, value=value)
    with session_factory() as session:
        status = budget_status(session, project.id, budget, NOW)
    assert status.spent == Decimal(expected)
    assert status.fraction == (Decimal(expected) / 10).quantize(Decimal("0.0001"))


def test_status_reports_forecast_and_exhaustion(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    for day in range(1, 18):
        spend(session_factory, project.id, datetime(2026, 11, day, 12, tzinfo=UTC), "1")
    budget = make_budget(session_factory, project.id, limit_usd="25", hard=True)
    with session_factory() as session:
        status = budget_status(session, project.id, budget, NOW)
    assert status.spent == Decimal(17)
    assert status.thresholds_crossed == [50]
    assert not status.exhausted
    assert status.expected_low <= status.expected_total <= status.expected_high
    assert Decimal(28) < status.expected_total < Decimal(32)  # about $1 a day for 30 days
    assert status.exhausts_on is not None
    assert date(2026, 11, 24) <= status.exhausts_on <= date(2026, 11, 27)


def test_the_state_job_stores_settled_spend(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    budget = make_budget(session_factory, project.id, period="day")
    spend(session_factory, project.id, NOW - timedelta(hours=2), "2")
    spend(session_factory, project.id, NOW - timedelta(minutes=5), "3")
    refresh(session_factory, project.id, budget, NOW)
    with session_factory() as session:
        state = session.get_one(BudgetState, (project.id, budget))
    assert (state.spent, state.settled_spent) == (Decimal(5), Decimal(2))
    assert state.settled_until == datetime(2026, 11, 18, 15, tzinfo=UTC)


def check(factory: sessionmaker[Session], project_id: int, now: datetime = NOW, **dims: str
          ) -> list[int]:  # fmt: skip
    with factory() as session:
        return [b.id for b in exhausted_hard_budgets(session, project_id, dims, now)]


def test_the_check_sees_new_spend_before_the_job_runs(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    hard = make_budget(session_factory, project.id, scope="team", value="search", hard=True,
                       limit_usd="5")  # fmt: skip
    spend(session_factory, project.id, NOW - timedelta(hours=3), "3", team="search")
    refresh(session_factory, project.id, hard, NOW)
    assert check(session_factory, project.id, team="search") == []
    spend(session_factory, project.id, NOW - timedelta(minutes=1), "2", team="search")
    assert check(session_factory, project.id, team="search") == [hard]
    assert check(session_factory, project.id, team="ads") == []
    assert check(session_factory, project.id) == [], "a team budget needs the team named"


def test_soft_disabled_and_other_period_budgets_never_refuse(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    make_budget(session_factory, project.id, limit_usd="1")  # soft
    disabled = make_budget(session_factory, project.id, limit_usd="1", hard=True)
    with session_factory.begin() as session:
        budgets.set_enabled(session, project.id, disabled, False)
    daily = make_budget(session_factory, project.id, limit_usd="1", hard=True, period="day")
    spend(session_factory, project.id, NOW - timedelta(days=2), "5")
    assert check(session_factory, project.id) == []
    spend(session_factory, project.id, NOW, "1")
    assert check(session_factory, project.id, feature="x") == [daily]
    # The next day the daily budget starts over.
    assert check(session_factory, project.id, NOW + timedelta(days=1)) == []


def test_editing_a_budget_drops_its_state_and_never_repeats_an_alert(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    budget = make_budget(session_factory, project.id, thresholds=[50])
    spend(session_factory, project.id, NOW - timedelta(hours=2), "6")
    refresh(session_factory, project.id, budget, NOW)
    data = BudgetIn(name="renamed", limit_usd=Decimal(11), thresholds=[50, 100])
    with session_factory.begin() as session:
        budgets.update_budget(session, project.id, budget, data)
        assert session.get(BudgetState, (project.id, budget)) is None
    assert refresh(session_factory, project.id, budget, NOW) == []
    assert len(alerts(session_factory, project.id)) == 1


def test_burn_down_runs_from_zero_through_today_to_the_forecast(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    for day in range(1, 18):
        spend(session_factory, project.id, datetime(2026, 11, day, 12, tzinfo=UTC), "1")
    budget = make_budget(session_factory, project.id, limit_usd="40")
    with session_factory() as session:
        chart = burn_down(session, project.id, budget, NOW)
    assert chart.actual[0] == (datetime(2026, 11, 1, tzinfo=UTC), Decimal(0))
    assert chart.actual[-1] == (NOW, Decimal(17))
    assert chart.expected[0] == chart.actual[-1]
    assert chart.expected[-1][0] == datetime(2026, 12, 1, tzinfo=UTC)
    assert chart.expected[-1][1] == chart.status.expected_total
    cumulative = [v for _, v in chart.actual + chart.expected]
    assert cumulative == sorted(cumulative)
