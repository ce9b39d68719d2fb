"""Conventions beyond the fixtures, normalised field by field (pure functions, no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.normalise import normalise_span
from collector.spans import RawSpan
from core.ingest import SpanRecord
from tests.collector.conftest import T0_NS


def _span(
    attributes: dict[str, Any],
    events: list[dict[str, Any]] | None = None,
    resource: dict[str, Any] | None = None,
    status: str = "unset",
    message: str | None = None,
) -> SpanRecord:
    raw = RawSpan(
        trace_id="a" * 32, span_id="b" * 16, parent_span_id=None, name="span", otel_kind=1,
        start_ns=T0_NS, end_ns=T0_NS + 10**9, status=status, status_message=message,
        attributes=attributes, resource=resource or {}, scope={"name": "", "version": ""},
        events=events or [],
    )  # fmt: skip
    return normalise_span(raw)


def _event(name: str, **attributes: Any) -> dict[str, Any]:
    return {"name": name, "time": "2026-10-15T09:30:00+00:00", "attributes": attributes}


def test_tokentrail_sdk_attributes() -> None:
    span = _span({
        "tokentrail.span.kind": "llm", "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5, "tokentrail.team": "search",
        "tokentrail.feature": "autocomplete", "tokentrail.customer": "acme",
        "tokentrail.metadata.ticket": "T-1", "deployment.environment.name": "prod",
    }, resource={"service.name": "api"})  # fmt: skip
    assert (span.kind, span.provider, span.team, span.feature, span.customer) == (
        "llm",
        "anthropic",
        "search",
        "autocomplete",
        "acme",
    )
    assert (span.environment, span.service) == ("prod", "api")
    assert span.details["metadata"] == {"ticket": "T-1"}


def test_span_level_service_name_wins_over_the_resource() -> None:
    """One process may serve several services (OpenLIT and our demo set it per span)."""
    span = _span({"service.name": "search-api"}, resource={"service.name": "gateway"})
    assert span.service == "search-api"
    assert _span({}, resource={"service.name": "gateway"}).service == "gateway"


def test_openai_v2_default_mode_with_old_names() -> None:
    span = _span({
        "gen_ai.system": "az.ai.openai", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o", "gen_ai.usage.prompt_tokens": 7,
        "gen_ai.usage.completion_tokens": 3,
    })  # fmt: skip
    assert (span.provider, span.input_tokens, span.output_tokens, span.total_tokens) == (
        "azure.ai.openai",
        7,
        3,
        10,
    )


def test_role_events_of_the_v1_28_generation() -> None:
    span = _span({"gen_ai.operation.name": "chat"}, events=[
        _event("gen_ai.system.message", content="be brief"),
        _event("gen_ai.user.message", content="hi"),
        _event("gen_ai.choice", index=0, finish_reason="stop",
               message=json.dumps({"role": "assistant", "content": "hello"})),
    ])  # fmt: skip
    assert [m["role"] for m in span.input] == ["system", "user"]
    assert span.output[0]["parts"] == [{"type": "text", "content": "hello"}]
    assert span.finish_reasons == ["stop"]


def test_old_openlit_prompt_and_completion_events() -> None:
    span = _span({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"}, events=[
        _event("gen_ai.content.prompt", **{"gen_ai.prompt": "user: hi"}),
        _event("gen_ai.content.completion", **{"gen_ai.completion": "hello"}),
    ])  # fmt: skip
    assert span.kind == "llm"
    assert (span.input_text, span.output_text) == ("user: hi", "hello")


def test_openllmetry_new_with_cache_creation_and_reasoning() -> None:
    span = _span({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "o3-mini", "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 50, "gen_ai.usage.cache_creation.input_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 30, "gen_ai.usage.reasoning_tokens": 40,
        "traceloop.association.properties.customer_id": "c-9",
    })  # fmt: skip
    assert (span.cache_write_tokens, span.cache_read_tokens, span.reasoning_tokens) == (20, 30, 40)
    assert span.customer == "c-9"


def test_openlit_span_attributes() -> None:
    span = _span({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "langchain",
        "gen_ai.request.model": "claude-3-5-haiku", "gen_ai.usage.input_tokens": 25,
        "gen_ai.usage.output_tokens": 5, "gen_ai.client.token.usage": 30,
        "gen_ai.session.id": "s1", "gen_ai.user.id": "u1", "deployment.environment": "dev",
    })  # fmt: skip
    assert span.provider == "anthropic"  # framework ignored, provider from the model name
    assert span.details["framework"] == "langchain"
    assert (span.session_id, span.user_id, span.environment) == ("s1", "u1", "dev")
    assert span.total_tokens == 30


def test_logfire_span_with_tags_message_and_raw_reasoning() -> None:
    span = _span({
        "logfire.span_type": "span", "logfire.msg": "Chat Completion with 'gpt-4o'",
        "logfire.tags": ["prod", "beta"], "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 90,
        "gen_ai.usage.raw": json.dumps({"completion_tokens_details": {"reasoning_tokens": 64}}),
    })  # fmt: skip
    assert span.name == "Chat Completion with 'gpt-4o'"
    assert span.tags == ["prod", "beta"]
    assert span.reasoning_tokens == 64


def test_langfuse_generation() -> None:
    span = _span({
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o-2024-08-06",
        "langfuse.observation.usage_details": json.dumps(
            {"input": 80, "output": 20, "input_cache_read": 20, "total": 120}
        ),
        "langfuse.observation.input": json.dumps([{"role": "user", "content": "hi"}]),
        "langfuse.observation.output": json.dumps({"role": "assistant", "content": "hello"}),
        "langfuse.trace.tags": '["a", "b"]', "langfuse.user.id": "u", "langfuse.session.id": "s",
        "langfuse.observation.level": "ERROR", "langfuse.observation.status_message": "bad",
        "langfuse.environment": "staging",
    })  # fmt: skip
    assert (span.kind, span.provider, span.response_model) == ("llm", "openai", "gpt-4o-2024-08-06")
    assert (span.input_tokens, span.cache_read_tokens, span.output_tokens) == (100, 20, 20)
    assert span.input[0]["parts"] == [{"type": "text", "content": "hi"}]
    assert span.output_text == '{"role":"assistant","content":"hello"}'
    assert (span.tags, span.user_id, span.session_id) == (["a", "b"], "u", "s")
    assert (span.status, span.error_message, span.environment) == ("error", "bad", "staging")


def test_openinference_tool_and_agent_spans() -> None:
    tool = _span({"openinference.span.kind": "TOOL", "tool.name": "get_weather",
                  "input.value": '{"city": "Paris"}', "output.value": "sunny"})  # fmt: skip
    assert (tool.kind, tool.name, tool.input, tool.output) == (
        "tool",
        "get_weather",
        {"city": "Paris"},
        "sunny",
    )
    agent = _span({"openinference.span.kind": "AGENT", "agent.name": "planner"})
    assert agent.kind == "agent"


def test_openinference_embedding_model() -> None:
    span = _span({"openinference.span.kind": "EMBEDDING",
                  "embedding.model_name": "text-embedding-3-small",
                  "llm.token_count.prompt": 12, "llm.token_count.total": 12})  # fmt: skip
    assert (span.kind, span.request_model, span.provider) == (
        "embedding",
        "text-embedding-3-small",
        "openai",
    )
    assert span.cost_source == "computed"


def test_openllmetry_oldest_llm_prefix_and_tool_calls() -> None:
    span = _span({
        "llm.request.type": "chat", "llm.vendor": "OpenAI", "llm.request.model": "gpt-4",
        "llm.usage.prompt_tokens": 5, "llm.usage.completion_tokens": 2,
        "llm.prompts.0.role": "user", "llm.prompts.0.content": "weather?",
        "llm.completions.0.role": "assistant", "llm.completions.0.finish_reason": "tool_calls",
        "llm.completions.0.tool_calls.0.id": "c1", "llm.completions.0.tool_calls.0.name": "w",
        "llm.completions.0.tool_calls.0.arguments": '{"q": 1}',
    })  # fmt: skip
    assert (span.provider, span.request_model, span.input_tokens) == ("openai", "gpt-4", 5)
    assert span.output[0]["parts"] == [
        {"type": "tool_call", "id": "c1", "name": "w", "arguments": {"q": 1}}
    ]
    assert span.finish_reasons == ["tool_calls"]


def test_flattened_indices_sort_numerically() -> None:
    attributes: dict[str, Any] = {"gen_ai.operation.name": "chat"}
    for i in range(12):
        attributes[f"llm.input_messages.{i}.message.role"] = "user"
        attributes[f"llm.input_messages.{i}.message.content"] = f"m{i}"
    span = _span(attributes)
    assert [m["parts"][0]["content"] for m in span.input] == [f"m{i}" for i in range(12)]


def test_exception_event_gives_error_type_and_message() -> None:
    span = _span({}, status="error", events=[
        _event("exception", **{"exception.type": "RateLimitError", "exception.message": "429"})
    ])  # fmt: skip
    assert (span.status, span.error_type, span.error_message) == ("error", "RateLimitError", "429")


def test_anthropic_finish_reasons_are_folded() -> None:
    reasons = ["end_turn", "max_tokens", "tool_use"]
    span = _span({"gen_ai.operation.name": "chat", "gen_ai.response.finish_reasons": reasons})
    assert span.finish_reasons == ["stop", "length", "tool_calls"]


def test_unclassifiable_span_is_other() -> None:
    assert _span({"http.method": "GET"}).kind == "other"


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.cache_write.input_tokens",  # Anthropic SDK, util-genai, newer OTel text
        "gen_ai.usage.cache_creation.input_tokens",  # OpenLLMetry, OpenLIT, Logfire, v1.40 spec
        "llm.token_count.prompt_details.cache_write",  # OpenInference
        "gen_ai.usage.cache_creation_input_tokens",  # OpenLLMetry <= 0.54
    ],
)
def test_both_names_for_cache_writes_fill_one_bucket(key: str) -> None:
    span = _span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                  "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 120,
                  "gen_ai.usage.output_tokens": 5, key: 100})  # fmt: skip
    assert (span.input_tokens, span.cache_write_tokens, span.cache_read_tokens) == (120, 100, None)


def test_input_that_excludes_cached_tokens_is_made_inclusive() -> None:
    """OpenLIT with Anthropic reports 25 where the call read 1300 tokens from the cache."""
    span = _span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                  "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 25,
                  "gen_ai.usage.cache_read.input_tokens": 1000,
                  "gen_ai.usage.cache_creation.input_tokens": 300,
                  "gen_ai.usage.output_tokens": 5})  # fmt: skip
    assert (span.input_tokens, span.cache_read_tokens, span.cache_write_tokens) == (1325, 1000, 300)
    assert span.total_tokens == 1330


def test_inclusive_input_is_left_alone() -> None:
    span = _span({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 1325,
                  "gen_ai.usage.cache_read.input_tokens": 1000,
                  "gen_ai.usage.output_tokens": 5})  # fmt: skip
    assert span.input_tokens == 1325


def test_anthropic_sdk_span_with_stop_reason_attribute() -> None:
    span = _span({"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat",
                  "gen_ai.response.model": "claude-sonnet-4-5-20250929",
                  "gen_ai.usage.input_tokens": 130, "gen_ai.usage.output_tokens": 7,
                  "anthropic.message.stop_reason": "max_tokens"})  # fmt: skip
    assert (span.kind, span.provider, span.finish_reasons) == ("llm", "anthropic", ["length"])


def test_openinference_llm_spans_are_chats_and_legacy_prompts_completions() -> None:
    chat = _span({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"})
    legacy = _span({"openinference.span.kind": "LLM", "llm.prompts.0.prompt.text": "Once"})
    embedding = _span({"openinference.span.kind": "EMBEDDING"})
    assert (chat.operation, legacy.operation, embedding.operation) == (
        "chat",
        "text_completion",
        "embeddings",
    )
