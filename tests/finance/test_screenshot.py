"""A screenshot of the Chargeback page over demo-like spend (three teams, six customers, four
models, unattributed calls, a month of traffic) in headless Chromium:
``test-artifacts/chargeback.png``."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.cost_reports import chargeback
from core.ingest import store_spans
from tests.browser import browser_page, capture, dashboard_server
from tests.finance.spans import llm

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
    with dashboard_server(database_url) as base:
        yield base


def test_chargeback_renders_in_chromium(
    dashboard: str, month: str, session_factory: sessionmaker[Session]
) -> None:
    with browser_page(2000) as page:
        capture(page, dashboard + "/chargeback?project=default", "chargeback",
                selectors=["text=Download Parquet"], settle_ms=2_500,
                min_bytes=30_000)  # fmt: skip
        text = page.inner_text("body")
    with session_factory() as session:
        project_id = keys.ensure_project(session)[0].id
        total = chargeback(session, project_id, month, "team").total
    assert f"${total:,.2f}" in text
    assert "Download Excel (XLSX)" in text
