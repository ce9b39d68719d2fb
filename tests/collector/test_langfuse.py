"""What a Langfuse SDK sends to ``/api/public/otel/v1/traces`` is normalised like any span.

Langfuse SDKs post gzip protobuf with Basic auth (the secret key as password) and
``x-langfuse-*`` headers; their spans carry ``langfuse.observation.*`` and ``langfuse.trace.*``
attributes, a model name without request model or provider, and the raw OpenAI usage object.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Span, Trace
from tests.collector.conftest import export_request, make_span

ROOT, GENERATION, TOOL = "1" * 16, "2" * 16, "3" * 16
TRACE_ATTRIBUTES = {
    "langfuse.trace.name": "support-answer", "langfuse.trace.tags": ["beta", "eu"],
    "user.id": "user-42", "session.id": "sess-7", "langfuse.environment": "production",
    "langfuse.trace.metadata.tenant": '"acme"',
}  # fmt: skip


@pytest.fixture
def langfuse(app: FastAPI, api_key: str) -> Iterator[TestClient]:
    basic = base64.b64encode(f"pk-lf-1234:{api_key}".encode()).decode()
    headers = {
        "Authorization": f"Basic {basic}", "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip", "x-langfuse-sdk-name": "python",
        "x-langfuse-sdk-version": "5.0.4", "x-langfuse-public-key": "pk-lf-1234",
    }  # fmt: skip
    with TestClient(app, headers=headers) as client:
        yield client


def _send(client: TestClient) -> None:
    root = make_span(ROOT, name="answer", attributes={
        **TRACE_ATTRIBUTES, "langfuse.observation.type": "span",
        "langfuse.observation.input": json.dumps({"question": "Reset my password?"}),
        "langfuse.observation.output": json.dumps("Use Settings > Security."),
    })  # fmt: skip
    generation = make_span(GENERATION, parent=ROOT, name="OpenAI-generation", attributes={
        **TRACE_ATTRIBUTES, "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o-mini-2024-07-18",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0.2}),
        "langfuse.observation.usage_details": json.dumps({
            "prompt_tokens": 1200, "completion_tokens": 40, "total_tokens": 1240,
            "prompt_tokens_details": {"cached_tokens": 1024},
        }),
        "langfuse.observation.input": json.dumps([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Reset my password?"},
        ]),
        "langfuse.observation.output": json.dumps(
            {"role": "assistant", "content": "Use Settings > Security."}
        ),
        "langfuse.observation.prompt.name": "support", "langfuse.observation.prompt.version": 3,
        "langfuse.observation.metadata.ticket": '"T-9"',
    }, start_ns=1_792_056_600_100_000_000, duration_ns=500_000_000)  # fmt: skip
    tool = make_span(TOOL, parent=ROOT, name="lookup", attributes={
        **TRACE_ATTRIBUTES, "langfuse.observation.type": "tool",
        "langfuse.observation.input": json.dumps({"user": "user-42"}),
        "langfuse.observation.level": "ERROR",
        "langfuse.observation.status_message": "directory unavailable",
    })  # fmt: skip
    body = gzip.compress(export_request(root, generation, tool).SerializeToString())
    response = client.post("/api/public/otel/v1/traces", content=body)
    assert response.status_code == 200
    assert response.content == b""


def _spans(factory: sessionmaker[Session]) -> dict[str, Span]:
    with factory() as session:
        return {s.span_id: s for s in session.scalars(select(Span))}


def test_generation_is_an_llm_call_with_usage_cost_and_messages(
    langfuse: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _send(langfuse)
    span = _spans(session_factory)[GENERATION]
    assert (span.kind, span.provider, span.response_model) == (
        "llm",
        "openai",  # inferred from the model name: Langfuse sends no provider
        "gpt-4o-mini-2024-07-18",
    )
    assert (span.input_tokens, span.cache_read_tokens, span.output_tokens) == (1200, 1024, 40)
    expected = (176 * Decimal("0.15") + 1024 * Decimal("0.075") + 40 * Decimal("0.60")) / 10**6
    assert (span.cost, span.cost_source) == (expected, "computed")
    assert [m["role"] for m in span.input] == ["system", "user"]
    assert span.output_text == '{"role":"assistant","content":"Use Settings > Security."}'
    assert span.details["model_parameters"] == {"temperature": 0.2}
    assert span.details["prompt"] == {"name": "support", "version": "3"}
    assert span.details["metadata"] == {"tenant": "acme", "ticket": "T-9"}


def test_trace_attributes_reach_every_span_and_the_summary(
    langfuse: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _send(langfuse)
    spans = _spans(session_factory)
    for span in spans.values():
        assert (span.user_id, span.session_id, span.environment) == (
            "user-42",
            "sess-7",
            "production",
        )
        assert span.tags == ["beta", "eu"]
    with session_factory() as session:
        trace = session.scalars(select(Trace)).one()
    assert (trace.span_count, trace.llm_calls, trace.input_tokens, trace.error_count) == (
        3,
        1,
        1200,
        1,
    )
    assert spans[GENERATION].details["trace_name"] == "support-answer"


def test_span_and_tool_observations_keep_their_kinds_and_errors(
    langfuse: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _send(langfuse)
    spans = _spans(session_factory)
    root, tool = spans[ROOT], spans[TOOL]
    assert (root.kind, root.input, root.output) == (
        "chain",
        {"question": "Reset my password?"},
        "Use Settings > Security.",
    )
    assert (tool.kind, tool.status, tool.error_message) == (
        "tool",
        "error",
        "directory unavailable",
    )
    assert tool.input == {"user": "user-42"}
