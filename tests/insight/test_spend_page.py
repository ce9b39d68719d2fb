"""The Spend page through the real Streamlit app (AppTest) over a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import anomalies
from core.budgets import BudgetIn, create_budget
from tests.dashboard.test_access import make_user, sign_in
from tests.insight.spend import Spike, store, traffic

#: A column only each table of the page has.
TABLES = {"spend_units": "per 1k tokens", "spend_anomalies": "driven by",
          "spend_drivers": "previous window", "spend_budgets": "exhausts on"}  # fmt: skip


def tables(at: AppTest) -> dict[str, Any]:
    found = {}
    for frame in at.dataframe:
        value = frame.value
        for name, column in TABLES.items():
            if column in value.columns:
                found[name] = value
    return found


def spend_page(app: AppTest) -> AppTest:
    app.run()
    return app.switch_page("views/spend.py").run()


@pytest.fixture
def spend(session_factory: sessionmaker[Session], default_project: int) -> datetime:
    """Five weeks of weekly traffic ending yesterday, a spike a week ago, and its alert."""
    now = datetime.now(UTC)
    first = (now - timedelta(days=35)).date()
    spike = Spike(day=(now - timedelta(days=7)).date(), calls=60)
    with session_factory.begin() as session:
        store(session, default_project, traffic(first, 35, spike=spike))
        anomalies.scan_project(session, default_project, now=now, lookback_days=10)
    return now


def test_spend_shows_month_to_date_forecast_breakdowns_and_the_anomaly(
    app: AppTest, spend: datetime
) -> None:
    at = spend_page(app)
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert set(shown) >= {"Month to date", "Forecast, month end", "Monthly budget",
                          "Calls this month"}  # fmt: skip
    assert shown["Monthly budget"] == "–"
    assert not [link for link in at.get("page_link") if "Savings" in link.proto.label]
    assert len(at.get("plotly_chart")) == 3  # forecast, stacked daily, cost per 1k calls
    shown_tables = tables(at)
    assert set(shown_tables["spend_units"]["feature"]) == {"search", "summary", "drafts"}
    anomaly = shown_tables["spend_anomalies"]
    assert list(anomaly["series"]) == ["project total"]
    assert "customer globex" in anomaly["driven by"][0]
    assert "globex" in list(shown_tables["spend_drivers"]["value"])


def test_the_stack_selector_changes_the_daily_chart(app: AppTest, spend: datetime) -> None:
    at = spend_page(app)
    at.radio(key="spend_stack").set_value("customer").run()
    assert not at.exception
    chart = at.get("plotly_chart")[1].proto.spec
    assert "globex" in chart
    assert "gpt-4o-mini" not in chart


def test_a_monthly_project_budget_is_set_against_the_forecast(
    app: AppTest, spend: datetime, session_factory: sessionmaker[Session], default_project: int
) -> None:
    with session_factory.begin() as session:
        create_budget(session, default_project, BudgetIn(name="AI spend", limit_usd=Decimal(500),
                                                         period="month"))  # fmt: skip
    at = spend_page(app)
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Monthly budget"] == "$500.00"
    budgets = tables(at)["spend_budgets"]
    assert list(budgets["budget"]) == ["AI spend"]


def test_spend_without_any_data_renders_and_says_so(app: AppTest, default_project: int) -> None:
    at = spend_page(app)
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Month to date"] == "$0.00"
    assert shown["Forecast, month end"] == "$0.00"
    assert "No spend in this window." in [i.value for i in at.info]


@pytest.mark.parametrize(("role", "sees"), [("finance", True), ("engineer", True),
                                            ("viewer", False)])  # fmt: skip
def test_spend_is_for_finance_engineers_and_admins(
    app: AppTest, spend: datetime, session_factory: sessionmaker[Session],
    default_project: int, role: str, sees: bool,
) -> None:  # fmt: skip
    make_user(session_factory, f"{role}@example.com", role)
    at = sign_in(app, f"{role}@example.com").switch_page("views/spend.py").run()
    assert not at.exception
    assert bool(at.metric) is sees
    assert any("finance, engineer and admin" in w.value for w in at.warning) is not sees
