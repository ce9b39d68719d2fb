"""Accumulate streamed LLM chunks (OpenAI chat/Responses, Anthropic, Gemini) into one call.

The caller gets every chunk unchanged; this only reads them. Text is kept up to a bound, while
its length is always counted, so an estimate (≈ 4 characters per token) is possible when the
stream carries no usage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tokentrail._llm import (
    LLMCall,
    anthropic_usage,
    gemini_usage,
    parse_response,
    provider_for_model,
)
from tokentrail._messages import Part, as_list, enum_text, get, text_part, tool_call_part

MAX_STREAM_TEXT = 128 * 1024
CHARS_PER_TOKEN = 4


@dataclass
class _Choice:
    text: list[str] = field(default_factory=list)
    size: int = 0
    finish_reason: str | None = None
    tools: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add_text(self, text: str) -> int:
        if self.size < MAX_STREAM_TEXT:
            self.text.append(text[: MAX_STREAM_TEXT - self.size])
        self.size += len(text)
        return len(text)


def estimate_tokens(chars: int) -> int:
    """Roughly 4 characters per token, at least one token for non-empty text."""
    return math.ceil(chars / CHARS_PER_TOKEN) if chars else 0


class StreamAccumulator:
    """Feed chunks; :meth:`result` returns the call, or ``None`` if these are not LLM chunks."""

    def __init__(self) -> None:
        self.call = LLMCall()
        self.mode: str | None = None  # openai, responses, anthropic, gemini or "other"
        self.chars = 0
        self._choices: dict[int, _Choice] = {}
        self._final: LLMCall | None = None

    def _choice(self, index: Any) -> _Choice:
        key = index if isinstance(index, int) else 0
        return self._choices.setdefault(key, _Choice())

    def _detect(self, chunk: Any) -> str:
        kind = get(chunk, "object")
        event = get(chunk, "type")
        if kind == "chat.completion.chunk" or (
            kind is None
            and as_list(get(chunk, "choices"))
            and get(chunk, "choices")[0] is not None
            and get(get(chunk, "choices")[0], "delta") is not None
        ):
            return "openai"
        if isinstance(event, str) and event.startswith("response."):
            return "responses"
        if event in ("message_start", "content_block_start", "content_block_delta", "ping"):
            return "anthropic"
        if get(chunk, "candidates") is not None:
            return "gemini"
        return "other"

    def feed(self, chunk: Any) -> None:
        """Read one chunk; never changes it."""
        if self.mode is None:
            self.mode = self._detect(chunk)
        if self.mode == "openai":
            self._openai(chunk)
        elif self.mode == "responses":
            self._responses(chunk)
        elif self.mode == "anthropic":
            self._anthropic(chunk)
        elif self.mode == "gemini":
            self._gemini(chunk)

    @property
    def is_llm(self) -> bool:
        return self.mode not in (None, "other")

    def _openai(self, chunk: Any) -> None:
        call = self.call
        call.response_id = call.response_id or get(chunk, "id")
        model = get(chunk, "model")
        call.response_model = call.response_model or model
        for choice in as_list(get(chunk, "choices")):
            state = self._choice(get(choice, "index"))
            delta = get(choice, "delta")
            content = get(delta, "content")
            if isinstance(content, str):
                self.chars += state.add_text(content)
            for tool in as_list(get(delta, "tool_calls")):
                slot = state.tools.setdefault(get(tool, "index") or 0, {"arguments": ""})
                function = get(tool, "function")
                slot["id"] = slot.get("id") or get(tool, "id")
                slot["name"] = slot.get("name") or get(function, "name")
                arguments = get(function, "arguments")
                if isinstance(arguments, str):
                    slot["arguments"] += arguments
                    self.chars += len(arguments)
            reason = get(choice, "finish_reason")
            if reason:
                state.finish_reason = enum_text(reason)
        usage = get(chunk, "usage")
        if usage is not None:
            final = parse_response({"object": "chat.completion", "usage": usage, "model": model})
            if final is not None:
                self._take_usage(final)

    def _take_usage(self, other: LLMCall) -> None:
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        ):
            value = getattr(other, name)
            if value is not None:
                setattr(self.call, name, value)

    def _responses(self, chunk: Any) -> None:
        event = get(chunk, "type")
        if event == "response.output_text.delta":
            delta = get(chunk, "delta")
            if isinstance(delta, str):
                self.chars += self._choice(0).add_text(delta)
        elif event in ("response.completed", "response.incomplete", "response.failed"):
            self._final = parse_response(get(chunk, "response"))

    def _anthropic(self, chunk: Any) -> None:
        event = get(chunk, "type")
        call = self.call
        if event == "message_start":
            message = get(chunk, "message")
            call.response_id = get(message, "id")
            call.response_model = get(message, "model")
            anthropic_usage(call, get(message, "usage"))
        elif event == "content_block_start":
            block = get(chunk, "content_block")
            if get(block, "type") == "tool_use":
                state = self._choice(0)
                state.tools[get(chunk, "index") or 0] = {
                    "id": get(block, "id"),
                    "name": get(block, "name"),
                    "arguments": "",
                }
        elif event == "content_block_delta":
            delta = get(chunk, "delta")
            state = self._choice(0)
            text = get(delta, "text")
            if isinstance(text, str):
                self.chars += state.add_text(text)
            partial = get(delta, "partial_json")
            slot = state.tools.get(get(chunk, "index") or 0)
            if isinstance(partial, str) and slot is not None:
                slot["arguments"] += partial
                self.chars += len(partial)
        elif event == "message_delta":
            reason = get(get(chunk, "delta"), "stop_reason")
            if reason:
                self._choice(0).finish_reason = enum_text(reason)
            usage = get(chunk, "usage")
            if get(usage, "output_tokens") is not None:
                call.output_tokens = get(usage, "output_tokens")
            if get(usage, "input_tokens") is not None:
                anthropic_usage(call, usage)

    def _gemini(self, chunk: Any) -> None:
        call = self.call
        call.response_model = get(chunk, "model_version", "modelVersion") or call.response_model
        call.response_id = get(chunk, "response_id", "responseId") or call.response_id
        for index, candidate in enumerate(as_list(get(chunk, "candidates"))):
            state = self._choice(get(candidate, "index") or index)
            for part in as_list(get(get(candidate, "content"), "parts")):
                text = get(part, "text")
                if isinstance(text, str) and get(part, "thought") is not True:
                    self.chars += state.add_text(text)
            reason = get(candidate, "finish_reason", "finishReason")
            if reason is not None:
                state.finish_reason = enum_text(reason)
        usage = get(chunk, "usage_metadata", "usageMetadata")
        if usage is not None:
            gemini_usage(call, usage)

    def result(self, input_chars: int) -> LLMCall | None:
        """The accumulated call (usage estimated when the stream carried none)."""
        if not self.is_llm:
            return None
        if self._final is not None:
            return self._final
        call = self.call
        call.provider = {
            "anthropic": "anthropic",
            "gemini": "gcp.gemini",
        }.get(self.mode or "") or provider_for_model(call.response_model, "openai")
        if self.mode == "gemini":
            call.operation = "generate_content"
        for index in sorted(self._choices):
            state = self._choices[index]
            parts: list[Part] = [text_part("".join(state.text))] if state.text else []
            parts.extend(
                tool_call_part(slot.get("id"), slot.get("name"), slot.get("arguments"))
                for _, slot in sorted(state.tools.items())
            )
            reason = state.finish_reason or ""
            call.finish_reasons.append(reason)
            call.output_messages.append(
                {"role": "assistant", "parts": parts, "finish_reason": reason}
            )
        if call.output_tokens is None:
            call.output_tokens = estimate_tokens(self.chars)
            call.usage_estimated = True
        if call.input_tokens is None and input_chars:
            call.input_tokens = estimate_tokens(input_chars)
            call.usage_estimated = True
        return call
