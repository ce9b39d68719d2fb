"""OTel ``gen_ai.evaluation.result`` events sent to /v1/traces become scores, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core.models import Score
from core.settings import Settings

T0 = 1_792_056_600_000_000_000
TRACE, SPAN = bytes.fromhex("0af7651916cd43dd8448eb211c80319c"), bytes.fromhex("b7ad6b7169203331")


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _event(name: str, offset_ns: int, **attrs: object) -> Span.Event:
    event = Span.Event(name=name, time_unix_nano=T0 + offset_ns)
    event.attributes.extend(_kv(k, v) for k, v in attrs.items())
    return event


def _request() -> bytes:
    span = Span(trace_id=TRACE, span_id=SPAN, name="chat gpt-4o", kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=T0, end_time_unix_nano=T0 + 10**9)  # fmt: skip
    span.attributes.extend([_kv("gen_ai.operation.name", "chat"),
                            _kv("gen_ai.request.model", "gpt-4o")])  # fmt: skip
    span.events.extend([
        _event("gen_ai.evaluation.result", 1, **{
            "gen_ai.evaluation.name": "Relevance", "gen_ai.evaluation.score.value": 0.82,
            "gen_ai.evaluation.score.label": "relevant",
            "gen_ai.evaluation.explanation": "Answers the question asked."}),
        _event("gen_ai.evaluation.result", 2, **{
            "gen_ai.evaluation.name": "Toxicity", "gen_ai.evaluation.score.label": "none"}),
        # No name, or neither value nor label: not a usable result.
        _event("gen_ai.evaluation.result", 3, **{"gen_ai.evaluation.score.value": 1.0}),
        _event("gen_ai.evaluation.result", 4, **{"gen_ai.evaluation.name": "Empty"}),
        _event("exception", 5, **{"exception.message": "unrelated"}),
    ])  # fmt: skip
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    )
    return request.SerializeToString()


@pytest.fixture
def client(settings: Settings, api_key: str) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client
    app.state.engine.dispose()


def test_evaluation_events_are_stored_as_scores_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    for _ in range(2):  # OTLP delivers at least once: a re-sent batch adds nothing
        response = client.post("/v1/traces", content=_request(),
                               headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
        assert response.status_code == 200
    with session_factory() as session:
        scores = session.scalars(select(Score).order_by(Score.name)).all()
    assert [(s.name, s.value, s.label, s.comment, s.source, s.span_id) for s in scores] == [
        ("Relevance", 0.82, "relevant", "Answers the question asked.", "evaluation", SPAN.hex()),
        ("Toxicity", None, "none", None, "evaluation", SPAN.hex()),
    ]
    assert all(s.trace_id == TRACE.hex() for s in scores)
