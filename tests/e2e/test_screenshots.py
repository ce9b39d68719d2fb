"""Screenshots of the real dashboard in headless Chromium: ``streamlit run`` on a free loopback
port over seeded data; PNGs of Overview, Traces and Trace detail go to ``test-artifacts/``.

A stored script in a prompt must not run in a real browser either: any dialog fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.ingest import store_spans
from tests.browser import browser_page, capture, dashboard_server
from tests.dashboard.demo import RAG_TRACE, failed_trace, seed_demo

pytestmark = pytest.mark.e2e
PAGES = {
    "overview": "/?project=default",
    "traces": "/traces?project=default&range=30d",
    "trace-detail": f"/trace?project=default&trace_id={RAG_TRACE}",
}


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> None:
    """The demo traces plus two weeks of failing traces, so the charts have a shape."""
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        project_id = keys.ensure_project(session)[0].id
        seed_demo(session, project_id, now)
        for n in range(14):
            spans = failed_trace(now - timedelta(days=n, hours=3), Decimal("0.002") * (n % 5 + 1))
            for span in spans:
                span.trace_id = f"{n + 100:032x}"
            store_spans(session, project_id, spans)


@pytest.fixture
def dashboard(database_url: str, seeded: None) -> Iterator[str]:
    with dashboard_server(database_url) as base:
        yield base


def test_pages_render_in_chromium_and_are_saved_as_png(dashboard: str) -> None:
    with browser_page() as page:
        for name, path in PAGES.items():
            capture(page, dashboard + path, name)
