"""A screenshot of the Spend page over the real demo history (30 days sent through the SDK
and the collector, the anomaly scan run) in headless Chromium: ``test-artifacts/spend.png``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import anomalies
from tests.browser import browser_page, capture, dashboard_server
from tests.demo_history import READERS, DemoHistory, demo_database

pytestmark = [pytest.mark.e2e, *READERS]


@pytest.fixture
def database_url(demo_history: DemoHistory) -> Iterator[str]:
    yield from demo_database(demo_history)


@pytest.fixture
def dashboard(
    database_url: str, session_factory: sessionmaker[Session], demo_history: DemoHistory
) -> Iterator[str]:
    with session_factory.begin() as session:
        anomalies.scan_project(session, demo_history.project_id, now=demo_history.now,
                               lookback_days=14)  # fmt: skip
    with dashboard_server(database_url) as base:
        yield base


def test_spend_renders_the_demo_in_chromium(dashboard: str, demo_history: DemoHistory) -> None:
    # Tall enough for the whole page: Streamlit scrolls inside its own container.
    with browser_page(3400) as page:
        capture(page, dashboard + "/spend?project=default", "spend", settle_ms=2_500,
                min_bytes=50_000)  # fmt: skip
        text = page.inner_text("body")
    assert "Forecast, month end" in text
    # The anomaly table is a canvas (glide grid): its rows are checked through AppTest.
    assert page_has(text, "Recent spend anomalies", "Top cost drivers", "Unit cost per feature")


def page_has(text: str, *titles: str) -> bool:
    return all(t in text for t in titles)
