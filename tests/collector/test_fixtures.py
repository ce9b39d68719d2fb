"""Every reference fixture, posted as OTLP/JSON, is stored normalised to the expected fields."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Span
from tests.collector.conftest import FIXTURES, JSON


def _post_fixture(client: TestClient, name: str) -> None:
    response = client.post("/v1/traces", content=(FIXTURES / name).read_bytes(), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {}


def _spans(factory: sessionmaker[Session]) -> dict[str, Span]:
    with factory() as session:
        return {s.span_id: s for s in session.scalars(select(Span))}


def _details(span: Span) -> dict[str, Any]:
    return span.details


def test_otel_genai_latest_chat(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    _post_fixture(client, "01-otel-genai-chat-latest.json")
    span = _spans(session_factory)["00f067aa0ba902b7"]
    assert (span.kind, span.provider, span.operation) == ("llm", "openai", "chat")
    assert (span.request_model, span.response_model) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (span.input_tokens, span.cache_read_tokens, span.output_tokens) == (1250, 1024, 42)
    assert span.total_tokens == 1292
    assert span.session_id == "conv_7f3a9c2e"
    assert [m["role"] for m in span.input] == ["system", "user"]
    assert span.input[0]["parts"] == [
        {"type": "text", "content": "You are a concise support assistant for Acme."}
    ]
    assert span.output[0]["role"] == "assistant"
    assert span.finish_reasons == ["stop"]
    assert span.end_time - span.start_time == timedelta(milliseconds=1420)
    assert span.status == "unset"
    assert span.environment == "staging"
    assert span.service == "support-bot"
    assert span.cost_source == "computed"
    assert "reset my password" in (span.input_text or "")
    assert "Reset password" in (span.output_text or "")
    assert span.attributes["gen_ai.request.max_tokens"] == 256


def test_openinference_llm_with_tool_call(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post_fixture(client, "02-openinference-llm.json")
    span = _spans(session_factory)["1f2e3d4c5b6a7988"]
    assert (span.kind, span.provider, span.response_model) == ("llm", "openai", "gpt-4o-2024-08-06")
    assert span.request_model == "gpt-4o"  # only inside llm.invocation_parameters
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (143, 18, 161)
    assert [m["role"] for m in span.input] == ["system", "user"]
    assert span.output == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_Q1w2E3r4",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        }
    ]
    assert span.finish_reasons == ["tool_calls"]
    assert (span.session_id, span.user_id) == ("sess_2f9c41", "user_1138")
    assert span.tags == ["beta", "eu-west"]
    details = _details(span)
    assert len(details["tools"]) == 1
    assert details["metadata"] == {"tenant": "acme", "experiment": "b"}
    assert details["model_parameters"] == {"model": "gpt-4o", "temperature": 0.1}
    assert span.status == "ok"
    assert span.error_message is None


def test_openllmetry_legacy_workflow_and_llm(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post_fixture(client, "03-openllmetry-legacy-flattened.json")
    spans = _spans(session_factory)
    workflow, llm = spans["2a3b4c5d6e7f8091"], spans["3b4c5d6e7f809102"]
    assert (workflow.kind, workflow.name) == ("chain", "answer_question")
    assert workflow.input == {"args": ["What is the capital of France?"], "kwargs": {}}
    assert workflow.output == "The capital of France is Paris."
    assert (llm.kind, llm.provider, llm.response_model) == ("llm", "openai", "gpt-3.5-turbo-0125")
    assert (llm.input_tokens, llm.output_tokens, llm.total_tokens) == (24, 8, 32)
    assert [m["role"] for m in llm.input] == ["system", "user"]
    assert llm.output[0]["parts"] == [
        {"type": "text", "content": "The capital of France is Paris."}
    ]
    assert llm.finish_reasons == ["stop"]
    for span in (workflow, llm):
        assert (span.user_id, span.session_id) == ("user_77", "sess_abc123")
        assert _details(span)["trace_name"] == "answer_question"
    params = _details(llm)["model_parameters"]
    assert (params["temperature"], params["max_tokens"]) == (0.7, 100)
    assert _details(llm)["streaming"] is False


def test_openinference_retriever(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post_fixture(client, "04-openinference-retriever.json")
    span = _spans(session_factory)["b1c2d3e4f5a60718"]
    assert span.kind == "retriever"
    assert span.input == "What is the refund policy?"
    assert span.documents == [
        {
            "id": "node-5c1e",
            "score": 0.873,
            "content": "Refunds are issued within 14 days of purchase for unused items.",
            "metadata": {"source": "policies/refunds.md", "page": 1},
        },
        {
            "id": "node-9a42",
            "score": 0.812,
            "content": "Digital goods are non-refundable once downloaded.",
            "metadata": {"source": "policies/refunds.md", "page": 2},
        },
    ]
    assert span.session_id == "sess_2f9c41"
    assert span.duration_ms == 112.0
    assert span.status == "ok"
    assert span.cost is None
    assert "non-refundable" in (span.output_text or "")


def test_otel_genai_retrieval(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    _post_fixture(client, "05-otel-genai-retrieval.json")
    span = _spans(session_factory)["c2d3e4f5a6b70819"]
    assert (span.kind, span.provider, span.operation) == ("retriever", "openai", "retrieval")
    assert _details(span)["data_source"] == "vs_kb_support"
    assert _details(span)["top_k"] == 2
    assert span.input == "What is the refund policy?"
    assert span.documents == [
        {"id": "node-5c1e", "score": 0.873},
        {"id": "node-9a42", "score": 0.812},
    ]
    assert (span.cost, span.cost_source) == (None, "unknown")


def test_priced_fixture_cost_matches_hand_computation(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post_fixture(client, "01-otel-genai-chat-latest.json")
    span = _spans(session_factory)["00f067aa0ba902b7"]
    # gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output.
    per_token = Decimal("0.000001")
    expected = (
        (1250 - 1024) * Decimal("0.15") + 1024 * Decimal("0.075") + 42 * Decimal("0.60")
    ) * per_token
    assert span.cost == expected
