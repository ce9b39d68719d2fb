"""The real demo, loaded through the real SDK and collector, holds a right-sizing saving, and
the Models page shows it in headless Chromium (``test-artifacts/models.png``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.rightsizing import task_reports
from tests.browser import browser_page, capture, dashboard_server
from tests.demo_history import READERS, DemoHistory, demo_database

pytestmark = [pytest.mark.e2e, *READERS]


@pytest.fixture
def database_url(demo_history: DemoHistory) -> Iterator[str]:
    yield from demo_database(demo_history)


def test_the_demo_recommends_gpt_4o_mini_and_the_models_page_shows_it(
    database_url: str, session_factory: sessionmaker[Session], demo_history: DemoHistory
) -> None:
    with session_factory() as session:
        reports = {r.task: r for r in task_reports(session, demo_history.project_id)}
    classify = reports["classify-intent"]
    rec = classify.recommendation
    assert (rec.current, rec.recommended) == ("gpt-4o", "gpt-4o-mini"), rec.reason
    assert rec.monthly_savings is not None
    assert rec.monthly_savings > Decimal("0.10")
    assert classify.score_names == ("label_correct",)
    assert all(m.scored >= 30 for m in classify.models)
    with dashboard_server(database_url) as base, browser_page(2000) as page:
        capture(page, base + "/models?project=default", "models",
                selectors=['text="Projected monthly savings"',
                           '[data-testid="stDataFrame"] canvas'],
                settle_ms=3_000, min_bytes=20_000)  # fmt: skip
        body = page.inner_text("body")
    assert "Switch from gpt-4o to gpt-4o-mini" in body
    assert f"${rec.monthly_savings:,.2f}" in body
