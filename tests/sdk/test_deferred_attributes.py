"""An LLM span's attributes are built on the export thread when the TracerProvider is ours,
and on the span itself when it is shared; either way the collector receives the same span."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import tokentrail
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once
from tokentrail import _otlp

from tests.sdk.conftest import flush
from tests.sdk.providers import CHAT_COMPLETION
from tests.sdk.receiver import Receiver


@tokentrail.observe(name="chat", kind="llm")
def chat(messages: list[dict[str, str]], temperature: float = 0.0) -> dict[str, Any]:
    return copy.deepcopy(CHAT_COMPLETION)


def _expected_usage(attributes: dict[str, Any]) -> None:
    usage = CHAT_COMPLETION["usage"]
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]  # type: ignore[index]
    assert attributes["gen_ai.response.model"] == CHAT_COMPLETION["model"]
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["tokentrail.span.kind"] == "llm"


def test_a_conversation_appended_after_the_call_is_recorded_as_it_was_sent(
    sdk: Receiver,
) -> None:
    history = [{"role": "user", "content": "What is the capital of France?"}]
    chat(history, temperature=0.5)
    history.append({"role": "assistant", "content": "Paris."})  # what chat apps do next
    history.append({"role": "user", "content": "And of Spain?"})
    attributes = flush(sdk).by_name("chat").attributes
    _expected_usage(attributes)
    # Messages passed positionally are recognised as the request's, as keyword ones are.
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}
    ]
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert "input.value" not in attributes
    assert "Hello there" in attributes["gen_ai.output.messages"]


def test_an_attribute_the_app_sets_after_the_response_wins_over_the_built_one(
    sdk: Receiver,
) -> None:
    with tokentrail.span("manual", kind="llm") as span:
        span.record_llm_response(CHAT_COMPLETION, messages=[{"role": "user", "content": "hi"}])
        span.set_attributes(**{"gen_ai.response.model": "corrected-model"})
    attributes = flush(sdk).by_name("manual").attributes
    assert attributes["gen_ai.response.model"] == "corrected-model"
    assert attributes["gen_ai.usage.input_tokens"] == CHAT_COMPLETION["usage"]["prompt_tokens"]  # type: ignore[index]


def test_other_processors_on_a_shared_provider_see_the_llm_attributes_on_the_span(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    trace.set_tracer_provider(provider)
    tokentrail.configure(endpoint=receiver.url)

    chat([{"role": "user", "content": "hi"}])
    (local,) = memory.get_finished_spans()
    _expected_usage(dict(local.attributes or {}))
    _expected_usage(flush(receiver).by_name("chat").attributes)


def test_deferred_attributes_are_not_kept_for_spans_that_are_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2048")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512")
    tokentrail.configure(endpoint="http://127.0.0.1:9")
    for _ in range(6_000):
        chat([{"role": "user", "content": "hi"}])
    stats = tokentrail.stats()
    assert stats["dropped_by_reason"].get("queue_full", 0) > 0  # type: ignore[attr-defined]
    assert _otlp._PENDING == {}
    assert len(_otlp._DEFERRED) <= 2048  # the queue, batches in flight included
