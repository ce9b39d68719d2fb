"""Screenshots of the Quality and Drift pages in headless Chromium over seeded data: a week of
synthetic traffic with scores, one shifted feature, a drift run and a silent model change.
PNGs go to ``test-artifacts/``; a stored script in a prompt must not run (no dialog)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.drift_job import run_drift
from core.ingest import SpanRecord, store_spans
from core.models import Score
from core.timeutil import floor_hour
from tests.browser import browser_page, capture, dashboard_server
from tests.dashboard.demo import seed_demo
from tests.drift.synthetic import Shift, Traffic

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
    with dashboard_server(database_url) as base:
        yield base


def test_quality_and_drift_render_in_chromium_and_are_saved_as_png(dashboard: str) -> None:
    with browser_page(2600) as page:  # tall enough for the whole page
        for name, path in PAGES.items():
            # Charts and tables draw after the script ends; a busy machine takes a while.
            capture(page, dashboard + path, name,
                    selectors=['[data-testid="stDataFrame"] canvas'],
                    condition="document.querySelectorAll('.js-plotly-plot').length >= 2",
                    settle_ms=3_000, min_bytes=30_000)  # fmt: skip
