"""The real openai and anthropic clients, against a loopback stub, through @observe."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
import tokentrail

from tests.sdk.conftest import flush
from tests.sdk.providers import ANTHROPIC_MODEL, OPENAI_MODEL, ProviderStub
from tests.sdk.receiver import Receiver

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello"},
]


@pytest.fixture
def provider() -> Iterator[ProviderStub]:
    stub = ProviderStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def oai(provider: ProviderStub) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{provider.url}/v1", api_key="sk-test-not-real", max_retries=0)


@pytest.fixture
def claude(provider: ProviderStub) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=provider.url, api_key="sk-ant-test", max_retries=0)


def _messages(attr: str) -> Any:
    return json.loads(attr)


def test_openai_chat_completion(sdk: Receiver, oai: openai.OpenAI) -> None:
    @tokentrail.observe(name="chat")
    def chat(**kwargs: Any) -> Any:
        return oai.chat.completions.create(**kwargs)

    response = chat(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, max_tokens=50)
    assert response.choices[0].message.content == "Hello there"
    attrs = flush(sdk).by_name("chat").attributes
    assert attrs["tokentrail.span.kind"] == "llm"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == OPENAI_MODEL
    assert attrs["gen_ai.response.id"] == "chatcmpl-stub1"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 8
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 1
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert _messages(attrs["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Say hello"}]},
    ]
    assert _messages(attrs["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello there"}],
            "finish_reason": "stop",
        }
    ]
    assert "input.value" not in attrs
    assert "output.value" not in attrs
    assert "tokentrail.usage.estimated" not in attrs


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_stream(sdk: Receiver, oai: openai.OpenAI, include_usage: bool) -> None:
    @tokentrail.observe(name="stream_chat")
    def stream_chat(**kwargs: Any) -> Any:
        return oai.chat.completions.create(**kwargs)

    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = stream_chat(model="gpt-4o-mini", messages=MESSAGES, stream=True, **options)
    chunks = list(stream)
    assert len(chunks) == (5 if include_usage else 4)
    assert all(type(c).__name__ == "ChatCompletionChunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello, world!"
    attrs = flush(sdk).by_name("stream_chat").attributes
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0
    out = _messages(attrs["gen_ai.output.messages"])
    assert out[0]["parts"] == [{"type": "text", "content": "Hello, world!"}]
    if include_usage:
        assert attrs["gen_ai.usage.input_tokens"] == 9
        assert attrs["gen_ai.usage.output_tokens"] == 4
        assert "tokentrail.usage.estimated" not in attrs
    else:
        assert attrs["tokentrail.usage.estimated"] is True
        assert attrs["gen_ai.usage.output_tokens"] == 4  # ceil(13 chars / 4)
        assert attrs["gen_ai.usage.input_tokens"] == 5  # ceil(18 chars / 4)


def test_openai_stream_span_ends_only_when_consumed(sdk: Receiver, oai: openai.OpenAI) -> None:
    @tokentrail.observe(name="lazy")
    def lazy() -> Any:
        return oai.chat.completions.create(model="m", messages=MESSAGES, stream=True)

    stream = lazy()
    assert tokentrail.flush(2.0)
    assert sdk.spans == []
    with stream:
        next(iter(stream))
    assert flush(sdk).by_name("lazy").end_ns > 0


def test_openai_async_and_async_stream(sdk: Receiver, provider: ProviderStub) -> None:
    client = openai.AsyncOpenAI(base_url=f"{provider.url}/v1", api_key="sk-x", max_retries=0)

    @tokentrail.observe(name="achat")
    async def achat(**kwargs: Any) -> Any:
        return await client.chat.completions.create(**kwargs)

    async def main() -> str:
        plain = await achat(model="gpt-4o-mini", messages=MESSAGES)
        stream = await achat(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        await client.close()
        return str(plain.choices[0].message.content) + "|" + "".join(parts)

    assert asyncio.run(main()) == "Hello there|Hello, world!"
    spans = [s for s in flush(sdk).spans if s.name == "achat"]
    assert sorted(s.attributes["gen_ai.usage.input_tokens"] for s in spans) == [9, 12]


def test_openai_responses_api(sdk: Receiver, oai: openai.OpenAI) -> None:
    @tokentrail.observe(name="respond")
    def respond(**kwargs: Any) -> Any:
        return oai.responses.create(**kwargs)

    respond(model="gpt-4.1", input="Summarise", instructions="Be terse")
    attrs = flush(sdk).by_name("respond").attributes
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == 20
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 5
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 2
    assert _messages(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be terse"}
    ]
    assert _messages(attrs["gen_ai.input.messages"])[0]["parts"][0]["content"] == "Summarise"
    assert _messages(attrs["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Done"}
    ]


def test_anthropic_message_adds_cache_tokens_back(
    sdk: Receiver, claude: anthropic.Anthropic
) -> None:
    @tokentrail.observe(name="ask_claude")
    def ask(**kwargs: Any) -> Any:
        return claude.messages.create(**kwargs)

    ask(
        model="claude-test-model",
        max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hi"}],
    )
    attrs = flush(sdk).by_name("ask_claude").attributes
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.response.model"] == ANTHROPIC_MODEL
    assert attrs["gen_ai.usage.input_tokens"] == 130  # 10 + 100 cache read + 20 cache write
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == 20
    assert attrs["gen_ai.usage.output_tokens"] == 5
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert _messages(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "You are terse."}
    ]
    assert _messages(attrs["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Hi!"}
    ]


def test_anthropic_stream(sdk: Receiver, claude: anthropic.Anthropic) -> None:
    @tokentrail.observe(name="claude_stream")
    def ask(**kwargs: Any) -> Any:
        return claude.messages.create(**kwargs)

    stream = ask(
        model="claude-test-model",
        max_tokens=100,
        stream=True,
        messages=[{"role": "user", "content": "Hi"}],
    )
    events = [event.type for event in stream]
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    attrs = flush(sdk).by_name("claude_stream").attributes
    assert attrs["gen_ai.usage.input_tokens"] == 110
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"]
    out = _messages(attrs["gen_ai.output.messages"])
    assert out[0]["parts"] == [{"type": "text", "content": "Hi there"}]


def test_anthropic_async(sdk: Receiver, provider: ProviderStub) -> None:
    client = anthropic.AsyncAnthropic(base_url=provider.url, api_key="sk-ant-x", max_retries=0)

    @tokentrail.observe(name="aclaude")
    async def ask() -> Any:
        return await client.messages.create(
            model="claude-test-model", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )

    async def main() -> None:
        await ask()
        await client.close()

    asyncio.run(main())
    assert flush(sdk).by_name("aclaude").attributes["gen_ai.usage.input_tokens"] == 130
