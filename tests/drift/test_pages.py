"""The Quality and Drift pages in the real Streamlit app (AppTest) over a real database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys, users
from core.drift_job import list_baselines, run_drift
from core.ingest import store_spans
from core.models import Score
from core.review import REVIEW_SCORE
from tests.dashboard.demo import RAG_TRACE, XSS, seed_demo
from tests.drift.conftest import RECENT_END
from tests.drift.synthetic import Shift, Traffic

PASSWORD = "a-long-password"
LLM_SPAN = "c" * 16


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> int:
    """The default project: drifted synthetic traffic with a run, and the dashboard demo's
    traces (now) with a low score on the RAG trace's LLM span."""
    with session_factory.begin() as session:
        project_id = keys.ensure_project(session)[0].id
        store_spans(session, project_id, Traffic(5, RECENT_END, shift=Shift(length_sd=1.5),
                                                 per_day=60).records())  # fmt: skip
        run_drift(session, project_id, as_of=RECENT_END)
        seed_demo(session, project_id)
        session.add(Score(project_id=project_id, trace_id=RAG_TRACE, span_id=LLM_SPAN,
                          name="groundedness", value=0.2, source="scorer"))  # fmt: skip
    return project_id


def open_page(app: AppTest, page: str) -> AppTest:
    app.run()
    return app.switch_page(page).run()


def all_text(app: AppTest) -> str:
    kinds = ("text", "code", "markdown", "caption")
    return "\n".join(str(getattr(e, "value", "")) for kind in kinds for e in app.get(kind))


def test_quality_page_shows_trends_distributions_worst_traces_and_the_queue(
    app: AppTest, seeded: int
) -> None:
    open_page(app, "views/quality.py")
    assert not app.exception
    assert app.title[0].value == "Quality"
    assert [s.value for s in app.subheader] == [
        "Score trends", "Score distributions", "Worst traces", "Review queue"]  # fmt: skip
    assert len(app.get("plotly_chart")) == 2
    worst = app.dataframe[0].value
    assert worst["scorer"].tolist()[0] == "groundedness"
    assert worst["open"].tolist()[0] == f"/trace?project=default&trace_id={RAG_TRACE}"
    text = all_text(app)
    assert "Lowest score: groundedness = 0.200" in text
    assert XSS in text  # the prompt, shown as plain text


def test_labelling_a_span_stores_one_human_score_and_empties_the_queue(
    app: AppTest, seeded: int, session_factory: sessionmaker[Session]
) -> None:
    open_page(app, "views/quality.py")
    app.text_input(key=f"qv_comment_{LLM_SPAN}").input("made up refund window")
    app.button(key="qv_bad").click().run()
    assert not app.exception
    assert [s.value for s in app.success] == ["Nothing waits for review in this time range."]
    with session_factory() as session:
        reviews = session.scalars(select(Score).where(Score.name == REVIEW_SCORE)).all()
    assert [(r.value, r.label, r.comment, r.source) for r in reviews] == [
        (0.0, "bad", "made up refund window", "human")]  # fmt: skip
    assert reviews[0].client_id == f"review:{RAG_TRACE}:{LLM_SPAN}:open"


def test_finance_sees_scores_but_no_content_and_no_queue(
    app: AppTest, seeded: int, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        project = keys.ensure_project(session)[0]
        users.create_user(session, "cfo@example.com", project, "finance", PASSWORD)
    app.run()
    app.text_input(key="si_email").input("cfo@example.com")
    app.text_input(key="si_password").input(PASSWORD)
    app.button[0].click().run()
    app.switch_page("views/quality.py").run()
    assert not app.exception
    assert app.dataframe[0].value["score"].tolist()[0] == 0.2
    text = all_text(app)
    assert "Reviewing spans needs the admin or engineer role." in text
    assert "refund policy" not in text
    assert XSS not in text


def test_drift_page_draws_the_heatmap_and_the_most_drifted_cell(app: AppTest, seeded: int) -> None:
    open_page(app, "views/drift.py")
    assert not app.exception
    assert app.title[0].value == "Drift"
    assert len(app.get("plotly_chart")) == 2  # heatmap and the chosen cell
    segment = app.selectbox(key="dv_segment").value
    metric = app.selectbox(key="dv_metric").value
    assert segment is not None
    assert "summary" in segment[1]
    assert metric in ("input_tokens", "cost_per_call")
    assert "drifted" in all_text(app)
    moved = app.dataframe[0].value
    assert len(moved) == 10
    assert moved["open"].str.startswith("/trace?project=default&trace_id=").all()


def test_choosing_a_steady_cell_shows_it_as_steady(app: AppTest, seeded: int) -> None:
    open_page(app, "views/drift.py")
    app.selectbox(key="dv_segment").set_value(("feature", "copy")).run()
    app.selectbox(key="dv_metric").set_value("latency_ms").run()
    assert not app.exception
    assert "feature: copy · latency_ms: steady" in all_text(app)


def test_drift_page_without_a_run_explains_the_schedule(
    app: AppTest, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        keys.ensure_project(session)
    open_page(app, "views/drift.py")
    assert not app.exception
    assert "No drift results yet" in app.info[0].value


def test_an_engineer_pins_the_baseline_and_goes_back_to_rolling(
    app: AppTest, seeded: int, session_factory: sessionmaker[Session]
) -> None:
    open_page(app, "views/drift.py")
    app.date_input(key="dv_pin_range").set_value((date(2026, 11, 1), date(2026, 11, 7))).run()
    app.button(key="dv_pin").click().run()
    assert not app.exception
    with session_factory() as session:
        pins = list_baselines(session, seeded)
    assert [(p.segment_kind, p.start_time.date(), p.end_time.date()) for p in pins] == [
        ("", date(2026, 11, 1), date(2026, 11, 8))]  # fmt: skip
    assert "Pinned: 2026-11-01 – 2026-11-08" in all_text(app)
    app.button(key="dv_unpin").click().run()
    with session_factory() as session:
        assert list_baselines(session, seeded) == []
