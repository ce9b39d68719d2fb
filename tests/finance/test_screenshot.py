"""A screenshot of the Chargeback page over demo-like spend (three teams, six customers, four
models, unattributed calls, a month of traffic) in headless Chromium:
``test-artifacts/chargeback.png``."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.cost_reports import chargeback
from core.ingest import store_spans
from tests.e2e.test_screenshots import ARTIFACTS, BROWSER_ARGS, CHROMIUM
from tests.finance.spans import llm
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

pytestmark = pytest.mark.e2e
TEAMS = ("search", "support", "growth", None)
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", None)
MODELS = (
    ("openai", "gpt-4o", "0.004"),
    ("openai", "gpt-4o-mini", "0.0003"),
    ("anthropic", "claude-sonnet-4-5", "0.006"),
    ("gcp.gemini", "gemini-2.5-flash", "0.0008"),
)


@pytest.fixture
def month(session_factory: sessionmaker[Session]) -> str:
    """This month's demo-like traffic: ~1,200 calls, one in ten without a team."""
    rng = random.Random(6)
    now = datetime.now(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    hours = max(int((now - first).total_seconds() // 3600), 1)
    spans = []
    for n in range(1200):
        provider, model, unit = rng.choice(MODELS)
        team = rng.choices(TEAMS, weights=(5, 3, 2, 1))[0]
        spans.append(llm(n, start_time=first + timedelta(hours=rng.randrange(hours),
                                                         minutes=rng.randrange(60)),
                         provider=provider, request_model=model, team=team,
                         customer=rng.choice(CUSTOMERS), user_id=f"user-{rng.randrange(40)}",
                         cost=Decimal(unit) * rng.randint(1, 40)))  # fmt: skip
    with session_factory.begin() as session:
        project_id = keys.ensure_project(session)[0].id
        store_spans(session, project_id, spans)
    return now.strftime("%Y-%m")


@pytest.fixture
def dashboard(database_url: str, month: str) -> Iterator[str]:
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


def test_chargeback_renders_in_chromium(
    dashboard: str, month: str, session_factory: sessionmaker[Session]
) -> None:
    from playwright.sync_api import Dialog, sync_playwright

    assert CHROMIUM.exists(), "Debian chromium is needed for the screenshot"
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "chargeback.png"
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 2000})

        def refuse(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", refuse)
        page.goto(dashboard + "/chargeback?project=default", wait_until="domcontentloaded")
        page.wait_for_selector("h1", timeout=90_000)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                               timeout=90_000)  # fmt: skip
        page.wait_for_selector("text=Download Parquet", timeout=90_000)
        page.wait_for_timeout(2_500)  # the chart finishes its first draw
        assert page.locator('[data-testid="stException"]').count() == 0
        text = page.inner_text("body")
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    assert dialogs == []
    with session_factory() as session:
        project_id = keys.ensure_project(session)[0].id
        total = chargeback(session, project_id, month, "team").total
    assert f"${total:,.2f}" in text
    assert "Download Excel (XLSX)" in text
    assert path.stat().st_size > 30_000
