"""The real demo, loaded through the real SDK and collector, holds a right-sizing saving, and
the Models page shows it in headless Chromium (``test-artifacts/models.png``)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.rightsizing import task_reports
from tests.browser import browser_page, capture, dashboard_server
from tests.conftest import PEPPER
from tests.processes import ROOT, collector_process, service_env

pytestmark = pytest.mark.e2e
DEMO_TIMEOUT_S = 1200


@pytest.fixture
def demo_project(database_url: str, session_factory: sessionmaker[Session]) -> int:
    """The default project holding the full 30-day demo, sent with ``tokentrail demo``."""
    with session_factory.begin() as session:
        project = keys.ensure_project(session)[0]
        key = keys.create_key(session, project, ("ingest",), PEPPER, "demo").secret
    with collector_process(database_url) as base:
        subprocess.run([sys.executable, "-m", "cli", "demo", "--endpoint", base, "--api-key", key],
                       env=service_env(database_url), cwd=ROOT, check=True,
                       timeout=DEMO_TIMEOUT_S, stdout=subprocess.DEVNULL)  # fmt: skip
    return project.id


def test_the_demo_recommends_gpt_4o_mini_and_the_models_page_shows_it(
    database_url: str, session_factory: sessionmaker[Session], demo_project: int
) -> None:
    with session_factory() as session:
        reports = {r.task: r for r in task_reports(session, demo_project)}
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
