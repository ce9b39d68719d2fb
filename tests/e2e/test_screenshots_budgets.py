"""A screenshot of the real Budgets page in headless Chromium (``test-artifacts/budgets.png``):
``streamlit run`` on a free loopback port over eight weeks of seeded spend and three budgets."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from tests.governance.conftest import make_budget, spend
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]  # fmt: skip
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
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    process = subprocess.Popen(command, env=service_env(database_url), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, f"streamlit exited with {process.returncode}"
        try:
            return httpx.get(base + "/_stcore/health", timeout=1).text == "ok"
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 90, "the dashboard to be healthy")
        yield base
    finally:
        stop(process)


def test_budgets_page_renders_in_chromium(dashboard: str) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian chromium is needed for screenshots"
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "budgets.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.goto(dashboard + "/budgets?project=default", wait_until="domcontentloaded")
        page.wait_for_selector("h1", timeout=90_000)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                               timeout=90_000)  # fmt: skip
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        page.wait_for_timeout(2_000)  # the chart finishes its first draw
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator("h1").first.inner_text() == "Budgets"
        page.screenshot(path=str(target), full_page=True)
        browser.close()
    assert target.stat().st_size > 20_000
