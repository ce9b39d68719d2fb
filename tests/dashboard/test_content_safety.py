"""Trace content reaches the page as text only: never as markdown, HTML or a label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.demo import RAG_TRACE, XSS

#: Elements that show their body verbatim; anything else must never carry span content.
PLAIN_TEXT_TYPES = frozenset({"text", "code"})


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


@pytest.fixture
def detail(app: AppTest) -> AppTest:
    app.run()
    app.query_params["trace_id"] = RAG_TRACE
    app.switch_page("views/trace_detail.py").run()
    assert not app.exception
    return app


@pytest.mark.usefixtures("demo")
def test_payload_in_a_prompt_is_shown_as_plain_text(detail: AppTest) -> None:
    assert f"What is our refund policy? {XSS}" in [t.value for t in detail.text]


@pytest.mark.usefixtures("demo")
def test_payload_in_a_span_name_and_json_is_shown_as_plain_text(detail: AppTest) -> None:
    assert any(XSS in t.value for t in detail.text)  # the tool span's name
    assert any(XSS in c.value for c in detail.code)  # its JSON input and the span tree


@pytest.mark.usefixtures("demo")
def test_no_markdown_html_or_label_carries_the_payload(detail: AppTest) -> None:
    nodes = [*walk(detail.main), *walk(detail.sidebar)]
    carriers = [
        n.type for n in nodes
        if n.type not in PLAIN_TEXT_TYPES | {"dataframe", "plotly_chart"}
        and "onerror" in str(getattr(n, "proto", ""))
    ]  # fmt: skip
    assert carriers == []
    assert detail.get("html") == []
    assert all(not m.proto.allow_html for m in detail.markdown)


@pytest.mark.usefixtures("demo")
def test_the_timeline_escapes_span_names(detail: AppTest) -> None:
    (chart,) = detail.get("plotly_chart")
    spec = chart.proto.spec
    assert "<script>" not in spec
    assert "&lt;script&gt;" in spec or "\\u0026lt;script\\u0026gt;" in spec


PAGES = ["views/overview.py", "views/traces.py", "views/sessions.py", "views/users.py",
         "views/trace_detail.py"]  # fmt: skip


@pytest.fixture
def hostile(session_factory: Any, default_project: int) -> None:
    """A trace whose every attribution field and score carries the payload."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from core.ingest import store_spans
    from core.models import Score
    from tests.dashboard.demo import rag_trace

    spans = rag_trace(datetime.now(UTC) - timedelta(minutes=3), Decimal("0.001"))
    for span in spans:
        span.user_id, span.session_id, span.team, span.tags = XSS, XSS, XSS, [XSS]
        span.service, span.environment, span.name = XSS, XSS, f"{span.name} {XSS}"
    with session_factory.begin() as session:
        store_spans(session, default_project, spans)
        session.add(Score(project_id=default_project, trace_id=RAG_TRACE, name=XSS, value=0.5,
                          label=XSS, comment=XSS, source="human"))  # fmt: skip


@pytest.mark.usefixtures("hostile")
@pytest.mark.parametrize("page", PAGES)
def test_stored_payloads_render_inert_on_every_page(app: AppTest, page: str) -> None:
    app.run()
    app.query_params["trace_id"] = RAG_TRACE
    app.query_params["session"] = XSS
    app.switch_page(page).run()
    assert not app.exception
    nodes = [*walk(app.main), *walk(app.sidebar)]
    inert = PLAIN_TEXT_TYPES | {"dataframe", "plotly_chart", "selectbox", "text_input"}
    carriers = [
        n.type for n in nodes if n.type not in inert and "onerror" in str(getattr(n, "proto", ""))
    ]
    assert carriers == []
    assert app.get("html") == []
    assert all(not m.proto.allow_html for m in app.markdown)
    for chart in app.get("plotly_chart"):
        assert "<script>" not in chart.proto.spec
    shown = [*(t.value for t in app.text), *(c.value for c in app.code)]
    if page != "views/overview.py":
        assert any(XSS in value for value in shown) or any(
            XSS in str(f.value.to_dict()) for f in app.dataframe
        )
