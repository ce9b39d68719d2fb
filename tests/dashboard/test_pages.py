"""Each page renders the demo data from a real database through the real Streamlit app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys
from core.ingest import store_spans
from dashboard.transcript import format_cost
from tests.dashboard.demo import FAILED_TRACE, RAG_TRACE, Demo, failed_trace, rag_trace


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def open_detail(at: AppTest, trace_id: str) -> AppTest:
    at.run()
    at.query_params["trace_id"] = trace_id
    return at.switch_page("views/trace_detail.py").run()


def test_overview_shows_the_demo_totals(app: AppTest, demo: Demo) -> None:
    app.run()
    assert not app.exception
    shown = metrics(app)
    assert shown["Spend"] == format_cost(demo.total_cost) == "$0.00545"
    assert (shown["Traces"], shown["LLM calls"], shown["Traces with errors"]) == ("2", "2", "1")
    assert shown["Tokens"] == "1,150"
    assert shown["p50 latency"] == "2.25 s"
    assert len(app.get("plotly_chart")) == 1


def test_overview_without_data_says_so(app: AppTest, default_project: int) -> None:
    app.run()
    assert not app.exception
    assert metrics(app)["Spend"] == "$0.00"
    assert [i.value for i in app.info] == ["No LLM calls in this time range."]


def test_without_any_project_the_app_explains_what_to_do(app: AppTest) -> None:
    app.run()
    assert not app.exception
    assert "No project yet" in app.info[0].value


@pytest.mark.usefixtures("demo")
def test_traces_page_lists_names_models_and_costs(app: AppTest) -> None:
    app.run()
    app.switch_page("views/traces.py").run()
    assert not app.exception
    assert not app.warning
    table = app.dataframe[0].value
    assert list(table["name"]) == ["summarise-ticket", "answer-question"]
    assert list(table["models"]) == ["claude-sonnet-4", "gpt-4o-2024-08-06"]
    assert list(table["cost"]) == ["$0.0042", "$0.00125"]
    assert list(table["errors"]) == [1, 0]
    assert list(table["user"]) == ["user-7", "user-42"]


@pytest.mark.usefixtures("demo")
def test_filters_come_from_and_go_to_the_url(app: AppTest) -> None:
    app.query_params["model"] = "gpt-4o-2024-08-06"
    app.run()
    app.switch_page("views/traces.py").run()
    assert list(app.dataframe[0].value["name"]) == ["answer-question"]
    app.query_params.pop("model")
    app.selectbox(key="tl_model").select("")
    app.toggle(key="tl_errors").set_value(True).run()
    assert list(app.dataframe[0].value["name"]) == ["summarise-ticket"]
    assert app.query_params["errors"] == "1"
    assert "model" not in app.query_params
    app.text_input(key="tl_q").input("refund policy").run()
    assert [i.value for i in app.info] == ["No traces match these filters."]
    assert app.query_params["q"] == "refund policy"


@pytest.mark.usefixtures("demo")
def test_search_finds_text_inside_prompts(app: AppTest) -> None:
    app.query_params["q"] = "REFUND POLICY"
    app.run()
    app.switch_page("views/traces.py").run()
    assert list(app.dataframe[0].value["name"]) == ["answer-question"]


def test_next_and_previous_pages_walk_the_cursor(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        for n in range(57):
            spans = failed_trace(now - timedelta(minutes=n + 1), Decimal("0.001"))
            for span in spans:
                span.trace_id = f"{n:032x}"
            store_spans(session, default_project, spans)
    app.run()
    app.switch_page("views/traces.py").run()
    first = list(app.dataframe[0].value["trace id"])
    app.button(key="tl_older").click().run()
    second = list(app.dataframe[0].value["trace id"])
    assert (len(first), len(second)) == (50, 7)
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(f"{n:032x}" for n in range(57))
    assert app.button(key="tl_older").disabled
    app.button(key="tl_newer").click().run()
    assert list(app.dataframe[0].value["trace id"]) == first


@pytest.mark.usefixtures("demo")
def test_choosing_a_trace_opens_its_detail(app: AppTest) -> None:
    app.run()
    app.switch_page("views/traces.py").run()
    app.selectbox(key="tl_open_choice").select(RAG_TRACE)
    app.button(key="tl_open").click().run()
    assert not app.exception
    assert app.title[0].value == "Trace detail"
    assert "answer-question" in texts(app)


def test_trace_detail_shows_metrics_transcript_documents_and_scores(
    app: AppTest, demo: Demo
) -> None:
    open_detail(app, RAG_TRACE)
    assert not app.exception
    shown = metrics(app)
    assert (shown["Cost"], shown["Spans"], shown["LLM calls"]) == ("$0.00125", "4", "1")
    assert (shown["Tokens"], shown["Duration"], shown["Errors"]) == ("150", "1.50 s", "0")
    assert "cost source: computed" in texts(app)
    assert "provider: openai   model: gpt-4o-2024-08-06   (requested gpt-4o)" in texts(app)
    roles = [m.name for m in app.chat_message]
    assert roles == ["system", "user", "assistant"]
    assert "Refunds are accepted within 30 days." in texts(app)
    assert any('"name": "lookup_order"' in c.value for c in app.code)
    frames = [f.value for f in app.dataframe]
    usage = next(f for f in frames if "cache read" in f.columns)
    assert list(usage.iloc[0]) == ["120", "20", "–", "30", "–", "150"]
    docs = next(f for f in frames if "content" in f.columns)
    assert list(docs["id"]) == ["doc-refunds"]
    scores = next(f for f in frames if "scorer version" in f.columns)
    assert list(scores["name"]) == ["helpfulness"]
    assert len(app.get("plotly_chart")) == 1


@pytest.mark.usefixtures("demo")
def test_trace_detail_shows_the_error_and_reported_cost(app: AppTest) -> None:
    open_detail(app, FAILED_TRACE)
    assert metrics(app)["Errors"] == "1"
    assert "cost source: reported" in texts(app)
    assert any("TimeoutError: model took too long" in c.value for c in app.code)
    assert "Summarise this ticket." in texts(app)


def test_another_projects_trace_is_not_shown(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    with session_factory.begin() as session:
        other = keys.create_project(session, "other-team")
        store_spans(session, other.id, rag_trace(datetime.now(UTC), Decimal("1")))
    open_detail(app, RAG_TRACE)
    assert not app.exception
    assert [w.value for w in app.warning] == ["This trace is not in the selected project."]
    assert app.metric == []


@pytest.mark.usefixtures("demo")
def test_detail_without_a_trace_id_points_back_to_the_list(app: AppTest) -> None:
    open_detail(app, "not-a-trace-id")
    assert not app.exception
    assert [i.value for i in app.info] == ["Choose a trace on the Traces page."]


def test_project_selector_defaults_to_default_and_follows_the_url(
    app: AppTest, session_factory: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        first = keys.create_project(session, "alpha")  # older than "default"
        store_spans(session, first.id, failed_trace(now, Decimal("0.5")))
        default = keys.ensure_project(session)[0]
        store_spans(session, default.id, rag_trace(now, Decimal("0.25")))
    app.run()
    app.switch_page("views/traces.py").run()
    assert app.sidebar.selectbox[0].value == "default"
    assert list(app.dataframe[0].value["name"]) == ["answer-question"]
    app.sidebar.selectbox[0].select("alpha").run()
    assert list(app.dataframe[0].value["name"]) == ["summarise-ticket"]
    assert app.query_params["project"] == "alpha"
