"""The Chargeback and Prices pages in the real Streamlit app (AppTest) over a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys, repricing, users
from core.ingest import store_spans
from core.models import PriceOverride, Span
from core.models_finance import RepricingJob
from tests.finance.spans import T0, llm
from tests.pages import APP
from tests.pages import open_page as page

PASSWORD = "a-long-password"
XSS = "<script>alert(1)</script>**bold**"


@pytest.fixture
def app(dashboard_env: None) -> AppTest:
    """The dashboard (this directory's conftest names the finance API's FastAPI app ``app``)."""
    return AppTest.from_file(str(APP), default_timeout=60)


# The Prices page lists the models used in the last 30 days, so its spans are recent.
RECENT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


def _project_with_spans(factory: sessionmaker[Session], start: datetime) -> int:
    with factory.begin() as session:
        pid = keys.ensure_project(session)[0].id
        spans = [llm(n, start_time=start + timedelta(hours=n), team=(XSS, "search", None)[n % 3],
                     request_model=("gpt-4o", "gpt-4o-mini")[n % 2],
                     cost=Decimal("0.25") * (n + 1)) for n in range(6)]  # fmt: skip
        store_spans(session, pid, spans)
        return pid


@pytest.fixture
def project_id(session_factory: sessionmaker[Session]) -> int:
    """Spans in October 2026, the month the chargeback tests read."""
    return _project_with_spans(session_factory, T0)


@pytest.fixture
def priced_project_id(session_factory: sessionmaker[Session]) -> int:
    """The same spans two days ago, inside the Prices page's window."""
    return _project_with_spans(session_factory, RECENT)


def frame(app: AppTest, column: str) -> pd.DataFrame:
    """The first table showing ``column``."""
    return next(f.value for f in app.dataframe if column in f.value.columns)


def sign_in_as(app: AppTest, factory: sessionmaker[Session], role: str) -> AppTest:
    with factory.begin() as session:
        project = keys.ensure_project(session)[0]
        users.create_user(session, f"{role}@example.com", project, role, PASSWORD)
    app.run()
    app.text_input(key="si_email").input(f"{role}@example.com")
    app.text_input(key="si_password").input(PASSWORD)
    app.button[0].click().run()
    return app


def test_chargeback_statement_per_team_totals_the_month(app: AppTest, project_id: int) -> None:
    page(app, "chargeback")
    app.selectbox(key="cb_month").select("2026-10").run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Total"] == "$5.25"  # 0.25 × (1 + … + 6)
    assert metrics["Unattributed"] == "$2.25"  # n = 2, 5
    owners = frame(app, "share %")
    assert list(owners["team"]) == ["search", XSS, "(unattributed)"]
    assert sum(owners["share %"]) == pytest.approx(100, abs=0.02)
    lines = frame(app, "cost (USD)")
    assert sum(Decimal(v) for v in lines["cost (USD)"]) == Decimal("5.25")
    assert len(app.get("download_button")) == 3
    assert all("<script>" not in m.value for m in app.markdown)


def test_chargeback_per_customer_and_an_empty_month(app: AppTest, project_id: int) -> None:
    page(app, "chargeback")
    app.selectbox(key="cb_month").select("2026-10").run()
    app.radio(key="cb_by").set_value("customer").run()
    assert list(frame(app, "share %")["customer"]) == ["acme"]
    months = app.selectbox(key="cb_month").options
    other = next(m for m in months if m != "2026-10")
    app.selectbox(key="cb_month").select(other).run()
    assert any("No spend" in i.value for i in app.info)


def test_chargeback_and_prices_are_refused_to_an_engineer(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    sign_in_as(app, session_factory, "engineer")
    for name in ("chargeback", "prices"):
        app.switch_page(f"views/{name}.py").run()
        assert app.warning, name
        assert not app.dataframe


def test_finance_reads_prices_but_cannot_change_them(
    app: AppTest, session_factory: sessionmaker[Session], priced_project_id: int
) -> None:
    sign_in_as(app, session_factory, "finance")
    app.switch_page("views/prices.py").run()
    assert not app.exception
    prices = frame(app, "price source")
    assert set(prices["model"]) == {"gpt-4o", "gpt-4o-mini"}
    assert not [f for f in app.get("form")]
    assert any("Only admins" in c.value for c in app.caption)


def _fill(app: AppTest, pattern: str, input_price: str, output_price: str) -> None:
    app.text_input(key="pr_pattern").input(pattern)
    app.text_input(key="pr_input_per_mtok").input(input_price)
    app.text_input(key="pr_output_per_mtok").input(output_price)
    app.date_input(key="pr_day").set_value(RECENT.date() - timedelta(days=1))


def test_an_admin_previews_then_saves_an_override_and_the_job_reprices(
    app: AppTest, session_factory: sessionmaker[Session], priced_project_id: int
) -> None:
    page(app, "prices")
    prices = frame(app, "price source")
    gpt4o = prices[prices["model"] == "gpt-4o"].iloc[0]
    assert (gpt4o["input / Mtok"], gpt4o["output / Mtok"]) == ("$2.5", "$10")
    _fill(app, "gpt-4o", "1", "2")
    app.button(key="FormSubmitter:pr_form-Preview the re-pricing").click().run()
    assert not app.exception, app.exception
    preview = frame(app, "spans affected")
    assert list(preview["model"]) == ["gpt-4o"]
    assert list(preview["spans affected"]) == [3]
    with session_factory() as session:
        assert session.scalars(select(PriceOverride)).all() == []
    _fill(app, "gpt-4o", "1", "2")
    app.button(key="FormSubmitter:pr_form-Save and re-price").click().run()
    assert any("queued" in s.value for s in app.success)
    repricing.run_jobs(session_factory)
    app.run()
    jobs = frame(app, "spans re-priced")
    assert list(jobs["status"]) == ["done"]
    assert list(jobs["spans re-priced"]) == [3]
    audit = frame(app, "who")
    assert list(audit["action"]) == ["create"]
    with session_factory() as session:
        costs = set(session.scalars(select(Span.cost).where(Span.request_model == "gpt-4o")))
    assert costs == {Decimal("0.0014")}


def test_bad_prices_are_explained_and_nothing_is_saved(
    app: AppTest, session_factory: sessionmaker[Session], priced_project_id: int
) -> None:
    page(app, "prices")
    _fill(app, "gpt-4o", "cheap", "2")
    app.button(key="FormSubmitter:pr_form-Save and re-price").click().run()
    assert any("must be a number" in e.value for e in app.error)
    with session_factory() as session:
        assert session.scalars(select(RepricingJob)).all() == []
