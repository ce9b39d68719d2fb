"""A screenshot of the Spend page over the real demo history (30 days sent through the SDK
and the collector, the anomaly scan run) in headless Chromium: ``test-artifacts/spend.png``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import anomalies
from tests.e2e.test_screenshots import ARTIFACTS, BROWSER_ARGS, CHROMIUM
from tests.insight.conftest import DemoHistory, demo_database, load_demo_history
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

# Loading the demo through the SDK and the collector takes minutes on a loaded 2-CPU machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def demo_history(template_database: str) -> Iterator[DemoHistory]:
    with load_demo_history(template_database) as history:
        yield history


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


def test_spend_renders_the_demo_in_chromium(dashboard: str, demo_history: DemoHistory) -> None:
    from playwright.sync_api import Dialog, sync_playwright

    assert CHROMIUM.exists(), "Debian chromium is needed for the screenshot"
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "spend.png"
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        # Tall enough for the whole page: Streamlit scrolls inside its own container.
        page = browser.new_page(viewport={"width": 1440, "height": 3400})

        def refuse(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", refuse)
        page.goto(dashboard + "/spend?project=default", wait_until="domcontentloaded")
        page.wait_for_selector("h1", timeout=90_000)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                               timeout=90_000)  # fmt: skip
        page.wait_for_timeout(2_500)  # charts finish their first draw
        assert page.locator('[data-testid="stException"]').count() == 0
        text = page.inner_text("body")
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    assert dialogs == []
    assert "Forecast, month end" in text
    spike = (demo_history.now - timedelta(days=9)).date().isoformat()
    assert page_has(text, "Recent spend anomalies", "Top cost drivers", "Unit cost per feature")
    assert path.stat().st_size > 50_000
    assert spike  # the anomaly table is a canvas (glide grid): checked through AppTest instead


def page_has(text: str, *titles: str) -> bool:
    return all(t in text for t in titles)
