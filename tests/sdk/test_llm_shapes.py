"""Duck-typed provider shapes: Gemini, LiteLLM, embeddings, tool calls and streamed chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace as NS
from typing import Any

import tokentrail
from tokentrail._llm import parse_response

from tests.sdk.conftest import flush
from tests.sdk.receiver import Receiver


def gemini_object() -> Any:
    """Shaped like google-genai's GenerateContentResponse (attributes, enum finish reason)."""
    finish = NS(name="STOP")
    return NS(
        candidates=[
            NS(
                content=NS(role="model", parts=[NS(text="Bonjour", thought=None)]),
                finish_reason=finish,
                index=0,
            )
        ],
        usage_metadata=NS(
            prompt_token_count=40,
            candidates_token_count=6,
            thoughts_token_count=10,
            cached_content_token_count=32,
            tool_use_prompt_token_count=None,
        ),
        model_version="gemini-2.5-flash",
        response_id="gem-1",
    )


def test_gemini_response_object(sdk: Receiver) -> None:
    @tokentrail.observe(name="gemini")
    def gemini(**kwargs: Any) -> Any:
        return gemini_object()

    gemini(model="gemini-2.5-flash", contents="Say hi in French")
    attrs = flush(sdk).by_name("gemini").attributes
    assert attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs["gen_ai.operation.name"] == "generate_content"
    assert attrs["gen_ai.response.model"] == "gemini-2.5-flash"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.usage.input_tokens"] == 40
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 32
    assert attrs["gen_ai.usage.output_tokens"] == 16  # candidates + thoughts
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 10
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hi in French"}]}
    ]


def test_gemini_rest_dict_with_camel_case() -> None:
    call = parse_response(
        {
            "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
            "modelVersion": "gemini-2.0-flash",
        }
    )
    assert call is not None
    assert (call.provider, call.input_tokens, call.output_tokens) == ("gcp.gemini", 3, 1)


def test_litellm_dict_for_an_anthropic_model() -> None:
    call = parse_response(
        {
            "id": "chatcmpl-l1",
            "model": "anthropic/claude-3-5-haiku",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 3,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 10,
            },
        }
    )
    assert call is not None
    assert call.provider == "anthropic"
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (120, 100, 10)


def test_openai_tool_calls_become_tool_call_parts() -> None:
    call = parse_response(
        {
            "object": "chat.completion",
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                            }
                        ],
                    },
                }
            ],
        }
    )
    assert call is not None
    assert call.finish_reasons == ["tool_calls"]
    assert call.output_messages == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "weather",
                    "arguments": {"city": "Paris"},
                }
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_embeddings_response_is_an_embedding_span(sdk: Receiver) -> None:
    @tokentrail.observe(name="embed")
    def embed(**kwargs: Any) -> Any:
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        }

    embed(model="text-embedding-3-small", input="hello")
    attrs = flush(sdk).by_name("embed").attributes
    assert attrs["tokentrail.span.kind"] == "embedding"
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.usage.input_tokens"] == 7


def test_plain_values_are_not_mistaken_for_llm_responses() -> None:
    for value in (None, "text", 3, [1], {"choices": "no"}, {"type": "message"}, object()):
        assert parse_response(value) is None


def test_generator_of_gemini_chunks_is_accumulated(sdk: Receiver) -> None:
    @tokentrail.observe(name="gemini_stream")
    def gemini_stream(**kwargs: Any) -> Iterator[Any]:
        for text in ("Bon", "jour"):
            yield NS(candidates=[NS(content=NS(parts=[NS(text=text)]), finish_reason=None)])
        yield NS(
            candidates=[NS(content=NS(parts=[]), finish_reason=NS(name="STOP"))],
            usage_metadata=NS(prompt_token_count=5, candidates_token_count=2),
            model_version="gemini-2.5-flash",
        )

    assert len(list(gemini_stream(model="gemini-2.5-flash", contents="hi"))) == 3
    attrs = flush(sdk).by_name("gemini_stream").attributes
    assert attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs["gen_ai.usage.input_tokens"] == 5
    assert attrs["gen_ai.usage.output_tokens"] == 2
    out = json.loads(attrs["gen_ai.output.messages"])
    assert out[0]["parts"] == [{"type": "text", "content": "Bonjour"}]
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]


def test_responses_stream_events_take_the_completed_response(sdk: Receiver) -> None:
    final = {
        "object": "response",
        "id": "resp_9",
        "model": "gpt-4.1",
        "status": "completed",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Yo"}]}],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }

    @tokentrail.observe(name="responses_stream")
    def responses_stream(**kwargs: Any) -> Iterator[dict[str, Any]]:
        return iter(
            [
                {"type": "response.created", "response": {**final, "status": "in_progress"}},
                {"type": "response.output_text.delta", "delta": "Yo"},
                {"type": "response.completed", "response": final},
            ]
        )

    assert len(list(responses_stream(model="gpt-4.1", input="hi"))) == 3
    attrs = flush(sdk).by_name("responses_stream").attributes
    assert attrs["gen_ai.response.id"] == "resp_9"
    assert attrs["gen_ai.usage.input_tokens"] == 3
    assert "tokentrail.usage.estimated" not in attrs


def test_plain_iterator_result_records_its_items(sdk: Receiver) -> None:
    @tokentrail.observe(name="plain_iter")
    def plain_iter() -> Iterator[int]:
        return iter([1, 2, 3])

    assert list(plain_iter()) == [1, 2, 3]
    attrs = flush(sdk).by_name("plain_iter").attributes
    assert json.loads(attrs["output.value"]) == [1, 2, 3]
    assert attrs["tokentrail.span.kind"] == "other"
