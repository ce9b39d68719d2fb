"""Recognise provider responses by shape and turn them into ``gen_ai.*`` span attributes.

Supported, all duck-typed (no provider package is imported): OpenAI chat completions, Responses
and embeddings (objects or dicts), Anthropic Messages, Gemini ``GenerateContentResponse`` (SDK
objects or REST dicts) and LiteLLM's OpenAI-shaped responses. Usage follows the OTel subset rules:
input tokens *include* cache reads and writes, output tokens include reasoning.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tokentrail._messages import (
    Message,
    as_list,
    enum_text,
    get,
    openai_tool_call,
    parts_of,
    system_parts,
    text_part,
    to_messages,
)
from tokentrail._serialize import to_json

# Prompts with retrieved context are routinely larger than an argument: a wider, still finite bound.
MAX_MESSAGES_BYTES = 128 * 1024

# LiteLLM model prefixes ("anthropic/claude-…") and bare model families → provider names.
_PREFIX_PROVIDER = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "groq": "groq",
    "mistral": "mistral_ai",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
}
_FAMILY_PROVIDER = (
    ("claude", "anthropic"),
    ("gemini", "gcp.gemini"),
    ("mistral", "mistral_ai"),
    ("mixtral", "mistral_ai"),
    ("command", "cohere"),
    ("deepseek", "deepseek"),
    ("grok", "x_ai"),
)


@dataclass
class LLMCall:
    """What one LLM call reported, provider-neutral."""

    provider: str | None = None
    operation: str = "chat"
    kind: str = "llm"
    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    output_messages: list[Message] = field(default_factory=list)
    usage_estimated: bool = False


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sum(*values: Any) -> int | None:
    ints = [v for v in (_int(v) for v in values) if v is not None]
    return sum(ints) if ints else None


def provider_for_model(model: Any, default: str | None) -> str | None:
    """A provider name from a LiteLLM-style ``provider/model`` or a well-known model family."""
    if not isinstance(model, str):
        return default
    return _provider_of(model, default)


@functools.lru_cache(maxsize=512)  # an app uses a handful of model names, call after call
def _provider_of(model: str, default: str | None) -> str | None:
    prefix, sep, _ = model.partition("/")
    if sep and prefix.lower() in _PREFIX_PROVIDER:
        return _PREFIX_PROVIDER[prefix.lower()]
    low = model.lower()
    for family, provider in _FAMILY_PROVIDER:
        if low.startswith(family):
            return provider
    return default


def _openai_usage(call: LLMCall, usage: Any) -> None:
    call.input_tokens = _int(get(usage, "prompt_tokens", "input_tokens"))
    call.output_tokens = _int(get(usage, "completion_tokens", "output_tokens"))
    call.cache_read_tokens = _int(
        get(get(usage, "prompt_tokens_details", "input_tokens_details"), "cached_tokens")
    ) or _int(get(usage, "cache_read_input_tokens"))
    call.cache_write_tokens = _int(get(usage, "cache_creation_input_tokens"))
    call.reasoning_tokens = _int(
        get(get(usage, "completion_tokens_details", "output_tokens_details"), "reasoning_tokens")
    )


def _chat_completion(response: Any) -> LLMCall:
    model = get(response, "model")
    hidden = get(response, "_hidden_params")
    provider = get(hidden, "custom_llm_provider") if isinstance(hidden, Mapping) else None
    call = LLMCall(
        provider=_PREFIX_PROVIDER.get(str(provider), str(provider)) if provider else None,
        response_model=model,
        response_id=get(response, "id"),
    )
    call.provider = call.provider or provider_for_model(model, "openai")
    for choice in as_list(get(response, "choices")):
        reason = enum_text(get(choice, "finish_reason")) or ""
        call.finish_reasons.append(reason)
        message = get(choice, "message")
        if message is None:  # legacy text completion
            call.operation = "text_completion"
            parts = [text_part(str(get(choice, "text") or ""))]
            role = "assistant"
        else:
            parts = parts_of(get(message, "content"))
            refusal = get(message, "refusal")
            if refusal:
                parts.append({"type": "refusal", "content": refusal})
            parts.extend(openai_tool_call(c) for c in as_list(get(message, "tool_calls")))
            role = get(message, "role") or "assistant"
        call.output_messages.append(
            {"role": role, "parts": parts, "finish_reason": _otel_reason(reason)}
        )
    _openai_usage(call, get(response, "usage"))
    return call


def _otel_reason(reason: str) -> str:
    return {"tool_calls": "tool_call", "tool_use": "tool_call", "end_turn": "stop"}.get(
        reason, reason
    )


def _responses(response: Any) -> LLMCall:
    call = LLMCall(
        provider="openai",
        response_model=get(response, "model"),
        response_id=get(response, "id"),
    )
    parts = []
    for item in as_list(get(response, "output")):
        kind = get(item, "type")
        if kind == "message":
            parts.extend(parts_of(get(item, "content")))
        elif kind == "reasoning":
            text = " ".join(str(get(s, "text") or "") for s in as_list(get(item, "summary")))
            if text:
                parts.append({"type": "reasoning", "content": text})
        else:
            parts.extend(parts_of([item]))
    status = get(response, "status")
    reason = "stop" if status in (None, "completed") else str(status)
    incomplete = get(get(response, "incomplete_details"), "reason")
    if incomplete:
        reason = "length" if incomplete == "max_output_tokens" else str(incomplete)
    if any(p.get("type") == "tool_call" for p in parts) and reason == "stop":
        reason = "tool_call"
    call.finish_reasons = [reason]
    call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]
    _openai_usage(call, get(response, "usage"))
    return call


def anthropic_usage(call: LLMCall, usage: Any) -> None:
    """Anthropic's ``input_tokens`` excludes cache reads and writes: add them back."""
    raw_input = _int(get(usage, "input_tokens"))
    call.cache_read_tokens = _int(get(usage, "cache_read_input_tokens"))
    call.cache_write_tokens = _int(get(usage, "cache_creation_input_tokens"))
    if raw_input is not None:
        call.input_tokens = _sum(raw_input, call.cache_read_tokens, call.cache_write_tokens)
    output = _int(get(usage, "output_tokens"))
    if output is not None:
        call.output_tokens = output


def _anthropic(response: Any) -> LLMCall:
    reason = enum_text(get(response, "stop_reason")) or ""
    call = LLMCall(
        provider="anthropic",
        response_model=get(response, "model"),
        response_id=get(response, "id"),
        finish_reasons=[reason],
    )
    call.output_messages = [
        {
            "role": "assistant",
            "parts": parts_of(get(response, "content")),
            "finish_reason": _otel_reason(reason),
        }
    ]
    anthropic_usage(call, get(response, "usage"))
    return call


def gemini_usage(call: LLMCall, usage: Any) -> None:
    """Gemini counts thoughts apart from candidates; OTel output includes reasoning."""
    call.input_tokens = _sum(
        get(usage, "prompt_token_count", "promptTokenCount"),
        get(usage, "tool_use_prompt_token_count", "toolUsePromptTokenCount"),
    )
    call.cache_read_tokens = _int(
        get(usage, "cached_content_token_count", "cachedContentTokenCount")
    )
    call.reasoning_tokens = _int(get(usage, "thoughts_token_count", "thoughtsTokenCount"))
    call.output_tokens = _sum(
        get(usage, "candidates_token_count", "candidatesTokenCount"), call.reasoning_tokens
    )


def _gemini(response: Any) -> LLMCall:
    call = LLMCall(
        provider="gcp.gemini",
        operation="generate_content",
        response_model=get(response, "model_version", "modelVersion"),
        response_id=get(response, "response_id", "responseId"),
    )
    for candidate in as_list(get(response, "candidates")):
        reason = enum_text(get(candidate, "finish_reason", "finishReason")) or ""
        call.finish_reasons.append(reason)
        content = get(candidate, "content")
        call.output_messages.append(
            {
                "role": "assistant",
                "parts": parts_of(get(content, "parts")),
                "finish_reason": reason,
            }
        )
    gemini_usage(call, get(response, "usage_metadata", "usageMetadata"))
    return call


def _embeddings(response: Any) -> LLMCall:
    call = LLMCall(
        provider=provider_for_model(get(response, "model"), "openai"),
        operation="embeddings",
        kind="embedding",
        response_model=get(response, "model"),
    )
    call.input_tokens = _int(get(get(response, "usage"), "prompt_tokens", "input_tokens"))
    return call


def parse_response(response: Any) -> LLMCall | None:
    """An :class:`LLMCall` when ``response`` looks like a provider response, else ``None``."""
    if response is None or isinstance(response, str | bytes | int | float | list | tuple):
        return None
    kind = get(response, "object")
    if kind in ("chat.completion", "text_completion"):
        return _chat_completion(response)
    if kind == "response" and get(response, "output") is not None:
        return _responses(response)
    if kind == "list":
        data = as_list(get(response, "data"))
        if data and get(data[0], "object") == "embedding":
            return _embeddings(response)
    if (
        get(response, "type") == "message"
        and get(response, "content") is not None
        and get(response, "usage", "stop_reason") is not None
    ):
        return _anthropic(response)
    if get(response, "candidates") is not None and (
        get(response, "usage_metadata", "usageMetadata", "model_version", "modelVersion")
        is not None
    ):
        return _gemini(response)
    choices = as_list(get(response, "choices"))
    if choices and get(choices[0], "message") is not None:
        return _chat_completion(response)
    return None


@dataclass
class LLMRequest:
    """What the call asked for, read from its keyword arguments."""

    model: str | None = None
    system: list[Any] | None = None
    messages: list[Message] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False


_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


def read_request(kwargs: Mapping[str, Any], messages: Any = None) -> LLMRequest:
    """Request model, parameters, system instructions and input messages from call kwargs."""
    request = LLMRequest(
        model=kwargs.get("model") if isinstance(kwargs.get("model"), str) else None
    )
    for name, value in kwargs.items():  # a call passes a few arguments; there are more params
        attr = _PARAMS.get(name)
        if attr is not None and isinstance(value, int | float) and not isinstance(value, bool):
            request.params[attr] = value
    request.stream = kwargs.get("stream") is True
    if messages is None:
        for name in ("messages", "input", "contents", "prompt"):
            if kwargs.get(name) is not None:
                messages = kwargs[name]
                break
    if messages is not None:
        request.messages = to_messages(messages)
    config = kwargs.get("config")
    system = kwargs.get("system") or kwargs.get("instructions") or get(config, "system_instruction")
    if system is not None:
        request.system = system_parts(system)
    return request


def llm_attributes(call: LLMCall, capture_content: bool) -> dict[str, Any]:
    """The ``gen_ai.*`` attributes of docs/sdk-attributes.md for one call."""
    attrs: dict[str, Any] = {
        "tokentrail.span.kind": call.kind,
        "gen_ai.operation.name": call.operation,
    }
    optional = {
        "gen_ai.provider.name": call.provider,
        "gen_ai.response.model": call.response_model,
        "gen_ai.response.id": call.response_id,
        "gen_ai.usage.input_tokens": call.input_tokens,
        "gen_ai.usage.output_tokens": call.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": call.cache_read_tokens,
        "gen_ai.usage.cache_write.input_tokens": call.cache_write_tokens,
        "gen_ai.usage.reasoning.output_tokens": call.reasoning_tokens,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    if call.finish_reasons:
        attrs["gen_ai.response.finish_reasons"] = tuple(call.finish_reasons)
    if call.usage_estimated:
        attrs["tokentrail.usage.estimated"] = True
    if capture_content and call.output_messages:
        attrs["gen_ai.output.messages"] = to_json(call.output_messages, MAX_MESSAGES_BYTES)
    return attrs


def request_attributes(request: LLMRequest, capture_content: bool) -> dict[str, Any]:
    """``gen_ai.request.*`` and input content attributes for one call."""
    attrs: dict[str, Any] = dict(request.params)
    if request.model:
        attrs["gen_ai.request.model"] = request.model
    if request.stream:
        attrs["gen_ai.request.stream"] = True
    if capture_content and request.messages is not None:
        attrs["gen_ai.input.messages"] = to_json(request.messages, MAX_MESSAGES_BYTES)
    if capture_content and request.system:
        attrs["gen_ai.system_instructions"] = to_json(request.system, MAX_MESSAGES_BYTES)
    return attrs
