"""Screenshots of the real dashboard in headless Chromium: ``streamlit run`` on a free loopback
port over seeded data; PNGs of Overview, Traces and Trace detail go to ``test-artifacts/``.

A stored script in a prompt must not run in a real browser either: any dialog fails the test.
"""

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
from core.ingest import store_spans
from tests.dashboard.demo import RAG_TRACE, failed_trace, seed_demo
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]  # fmt: skip
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
        wait_until(healthy, 60, "the dashboard to be healthy")
        yield base
    finally:
        stop(process)


def test_pages_render_in_chromium_and_are_saved_as_png(dashboard: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for name, path in PAGES.items():
            page.goto(dashboard + path, wait_until="domcontentloaded")
            page.wait_for_selector("h1", timeout=60_000)
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                                   timeout=60_000)  # fmt: skip
            page.wait_for_timeout(1_500)  # charts finish their first draw
            assert page.locator('[data-testid="stException"]').count() == 0, name
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        browser.close()
    assert dialogs == []
    for name in PAGES:
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
