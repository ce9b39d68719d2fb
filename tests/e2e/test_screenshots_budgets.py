"""A screenshot of the real Budgets page in headless Chromium (``test-artifacts/budgets.png``):
``streamlit run`` on a free loopback port over eight weeks of seeded spend and three budgets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from tests.browser import browser_page, capture, dashboard_server
from tests.governance.conftest import make_budget, spend

pytestmark = pytest.mark.e2e
#: Spend per weekday (Monday first): busy weekdays, quiet weekends.
WEEKDAY_SPEND = [Decimal(v) for v in ("14", "16", "15", "17", "13", "4", "3")]


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        project_id = keys.ensure_project(session)[0].id
    for back in range(56, -1, -1):
        day = (now - timedelta(days=back)).replace(hour=9, minute=0, second=0, microsecond=0)
        if day > now:
            day = now - timedelta(minutes=5)
        base = WEEKDAY_SPEND[day.weekday()]
        spend(session_factory, project_id, day, str(base * Decimal("0.6")), team="search",
              feature="chat")  # fmt: skip
        spend(session_factory, project_id, day, str(base * Decimal("0.4")), team="ads",
              feature="summaries")  # fmt: skip
    make_budget(session_factory, project_id, name="Search team, monthly", scope="team",
                value="search", limit_usd="250", hard=True)  # fmt: skip
    make_budget(session_factory, project_id, name="Whole project, monthly", limit_usd="600")
    make_budget(session_factory, project_id, name="Summaries, weekly", scope="feature",
                value="summaries", period="week", limit_usd="30")  # fmt: skip


@pytest.fixture
def dashboard(database_url: str, seeded: None) -> Iterator[str]:
    with dashboard_server(database_url) as base:
        yield base


def test_budgets_page_renders_in_chromium(dashboard: str) -> None:
    with browser_page() as page:
        capture(page, dashboard + "/budgets?project=default", "budgets",
                selectors=[".js-plotly-plot"], settle_ms=2_000, min_bytes=20_000)  # fmt: skip
        assert page.locator("h1").first.inner_text() == "Budgets"
