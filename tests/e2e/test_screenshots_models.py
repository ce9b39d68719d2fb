"""The real demo, loaded through the real SDK and collector, holds a right-sizing saving, and
the Models page shows it in headless Chromium (``test-artifacts/models.png``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.rightsizing import task_reports
from tests.conftest import PEPPER
from tests.e2e.test_screenshots import ARTIFACTS, BROWSER_ARGS, CHROMIUM
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

pytestmark = pytest.mark.e2e
#: Generous: on a loaded 2-CPU machine the collector alone can take a minute to import.
START_TIMEOUT_S = 180
DEMO_TIMEOUT_S = 1200


@contextmanager
def serve(command: list[str], database_url: str, probe: str) -> Iterator[str]:
    """Run ``command`` (with ``{port}`` filled in) until ``probe`` answers; yield the base URL."""
    port = free_port()
    process = subprocess.Popen([c.format(port=port) for c in command],
                               env=service_env(database_url), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"{command[2]} exited with {process.returncode}"
        try:
            return httpx.get(base + probe, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, START_TIMEOUT_S, f"{command[2]} to answer {probe}", interval=0.5)
        yield base
    finally:
        stop(process)


COLLECTOR = [sys.executable, "-m", "uvicorn", "--factory", "collector.app:app_from_env",
             "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]  # fmt: skip
DASHBOARD = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
             "--server.address", "127.0.0.1", "--server.port", "{port}",
             "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip


@pytest.fixture
def demo_project(database_url: str, session_factory: sessionmaker[Session]) -> int:
    """The default project holding the full 30-day demo, sent with ``tokentrail demo``."""
    with session_factory.begin() as session:
        project = keys.ensure_project(session)[0]
        key = keys.create_key(session, project, ("ingest",), PEPPER, "demo").secret
    with serve(COLLECTOR, database_url, "/readyz") as base:
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
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with serve(DASHBOARD, database_url, "/_stcore/health") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 2000})
        page.goto(base + "/models?project=default", wait_until="domcontentloaded")
        page.wait_for_selector("h1", timeout=120_000)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                               timeout=120_000)  # fmt: skip
        page.get_by_text("Projected monthly savings").wait_for(timeout=120_000)
        page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=60_000)
        page.wait_for_timeout(3_000)  # tables and metrics finish their first draw
        assert page.locator('[data-testid="stException"]').count() == 0
        body = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "models.png"), full_page=True)
        browser.close()
    assert "Switch from gpt-4o to gpt-4o-mini" in body
    assert f"${rec.monthly_savings:,.2f}" in body
    assert (ARTIFACTS / "models.png").stat().st_size > 20_000
