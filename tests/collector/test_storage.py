"""Storage promises: re-sends change nothing, and an unreachable database answers 503."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core.models import Span, Trace, UsageHourly
from core.settings import Settings
from tests.collector.conftest import PROTOBUF, export_request, llm_attributes, make_span
from tests.services import free_port


def _snapshot(factory: sessionmaker[Session]) -> tuple[list[tuple[object, ...]], ...]:
    with factory() as session:
        spans = [(s.span_id, s.cost, s.input_tokens) for s in session.scalars(select(Span))]
        traces = [(t.trace_id, t.span_count, t.llm_calls, t.input_tokens, t.cost, t.name)
                  for t in session.scalars(select(Trace))]  # fmt: skip
        rollups = [(r.calls, r.input_tokens, r.cost) for r in session.scalars(select(UsageHourly))]
    return sorted(spans), sorted(traces), sorted(rollups)


def test_resending_a_batch_changes_no_row_and_no_summary(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    root = make_span("1" * 16, name="answer", attributes={"traceloop.span.kind": "workflow"})
    child = make_span("2" * 16, parent="1" * 16, attributes=llm_attributes())
    body = export_request(root, child).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
    first = _snapshot(session_factory)
    for _ in range(3):
        assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
    assert _snapshot(session_factory) == first
    _, traces, rollups = first
    assert traces[0][1:4] == (2, 1, 100)
    assert rollups[0][0] == 1


def test_duplicate_span_inside_one_batch_is_stored_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    span = make_span(attributes=llm_attributes())
    client.post(
        "/v1/traces", content=export_request(span, span).SerializeToString(), headers=PROTOBUF
    )
    spans, traces, _ = _snapshot(session_factory)
    assert len(spans) == 1
    assert traces[0][1] == 1


def test_logfire_pending_spans_are_dropped_silently(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    pending = make_span("3" * 16, attributes={"logfire.span_type": "pending_span"})
    real = make_span("4" * 16, attributes={"logfire.span_type": "span", "logfire.msg": "Chat"})
    response = client.post(
        "/v1/traces", content=export_request(pending, real).SerializeToString(), headers=PROTOBUF
    )
    assert response.content == b""  # not a rejection
    with session_factory() as session:
        assert [s.name for s in session.scalars(select(Span))] == ["Chat"]


def test_unreachable_database_answers_503_with_retry_after(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/none"}
    )
    app = create_app(dead)
    try:
        with TestClient(app, headers={"Authorization": "Bearer tt_anything"}) as client:
            started = time.perf_counter()
            body = export_request(make_span()).SerializeToString()
            response = client.post("/v1/traces", content=body, headers=PROTOBUF)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == str(dead.retry_after_s)
            assert time.perf_counter() - started < 2.0
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "Retry-After" in ready.headers
            assert client.get("/healthz").status_code == 200
            assert "tokentrail_collector_db_errors_total" in client.get("/metrics").text
    finally:
        app.state.engine.dispose()
