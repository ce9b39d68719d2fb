"""Screenshots of the Quality and Drift pages in headless Chromium over seeded data: a week of
synthetic traffic with scores, one shifted feature, a drift run and a silent model change.
PNGs go to ``test-artifacts/``; a stored script in a prompt must not run (no dialog)."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.drift_job import run_drift
from core.ingest import SpanRecord, store_spans
from core.models import Score
from core.timeutil import floor_hour
from tests.dashboard.demo import seed_demo
from tests.drift.synthetic import Shift, Traffic
from tests.e2e.test_screenshots import ARTIFACTS, BROWSER_ARGS, CHROMIUM
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

pytestmark = pytest.mark.e2e
PAGES = {"quality": "/quality?project=default", "drift": "/drift?project=default"}


def _model_change(now: datetime) -> list[SpanRecord]:
    spans = []
    for i in range(120):
        start = now - timedelta(hours=150 - i * (1.2 if i < 60 else 0.8))
        spans.append(SpanRecord(
            trace_id=f"{0xF000 + i:032x}", span_id=f"{0xF000 + i:016x}", name="chat gpt-4o",
            kind="llm", start_time=start, end_time=start + timedelta(seconds=1),
            provider="openai", request_model="gpt-4o", input_tokens=20, output_tokens=5,
            response_model="gpt-4o-2024-08-06" if i < 60 else "gpt-4o-2024-11-20"))  # fmt: skip
    return spans


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    traffic = Traffic(5, floor_hour(now), per_day=50, shift=Shift(length_sd=1.5, vocabulary=0.3))
    records = traffic.records()
    rng = random.Random(3)
    with session_factory.begin() as session:
        project_id = keys.ensure_project(session)[0].id
        store_spans(session, project_id, records)
        store_spans(session, project_id, _model_change(floor_hour(now)))
        seed_demo(session, project_id, now)
        for r in records[::7]:
            late = r.start_time > now - timedelta(days=2) and r.feature == "summary"
            session.add_all([
                Score(project_id=project_id, trace_id=r.trace_id, span_id=r.span_id,
                      name="groundedness", source="scorer",
                      value=min(1.0, max(0.0, rng.gauss(0.55 if late else 0.8, 0.15)))),
                Score(project_id=project_id, trace_id=r.trace_id, span_id=r.span_id,
                      name="no_refusal", source="scorer",
                      value=0.0 if (r.output_text or "").startswith("I'm sorry") else 1.0),
            ])  # fmt: skip
    with session_factory.begin() as session:
        run_drift(session, project_id, as_of=now)


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
        wait_until(healthy, 120, "the dashboard to be healthy")
        yield base
    finally:
        stop(process)


def test_quality_and_drift_render_in_chromium_and_are_saved_as_png(dashboard: str) -> None:
    assert CHROMIUM.exists(), "Debian chromium is needed for the screenshots"
    from playwright.sync_api import Dialog, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 2600})  # the whole page

        def refuse(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", refuse)
        for name, path in PAGES.items():
            page.goto(dashboard + path, wait_until="domcontentloaded")
            page.wait_for_selector("h1", timeout=90_000)
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                                   timeout=90_000)  # fmt: skip
            # Charts and tables draw after the script ends; a busy machine takes a while.
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2",
                                   timeout=90_000)  # fmt: skip
            page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=90_000)
            page.wait_for_timeout(3_000)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        browser.close()
    assert dialogs == []
    for name in PAGES:
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 30_000
