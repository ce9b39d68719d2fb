"""Input, output, finish reasons and retrieved documents, by the precedence of §5.3.3:
structured OTel messages > OpenInference flattened > OpenLLMetry flattened > events >
generic ``input.value`` / entity input. The raw attributes stay stored alongside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collector.normalise import messages as m
from collector.normalise.attrs import Attrs
from collector.values import decode_json

Events = list[dict[str, Any]]
_ROLE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}  # fmt: skip
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
RAW_INPUT_KEYS = (
    "langfuse.observation.input", "input.value", "traceloop.entity.input",
    "gen_ai.tool.call.arguments", "gen_ai.retrieval.query.text", "reranker.query",
    "gen_ai.retrieval.query", "input", "tool_arguments",
)  # fmt: skip
RAW_OUTPUT_KEYS = (
    "langfuse.observation.output", "output.value", "traceloop.entity.output",
    "gen_ai.tool.call.result", "output", "tool_response", "final_result",
)  # fmt: skip


@dataclass(slots=True)
class Content:
    input: Any = None
    output: Any = None
    input_messages: list[m.Message] | None = None
    output_messages: list[m.Message] | None = None
    finish_reasons: list[str] | None = None
    documents: list[dict[str, Any]] | None = None


def content_of(attrs: Attrs, events: Events) -> Content:
    content = Content()
    content.input_messages = _with_system(attrs, events, _first(_input_sources(attrs, events)))
    content.output_messages = _first(_output_sources(attrs, events))
    raw_in, raw_out = attrs.decoded(*RAW_INPUT_KEYS), attrs.decoded(*RAW_OUTPUT_KEYS)
    if content.input_messages is None and isinstance(raw_in, dict) and "messages" in raw_in:
        content.input_messages = m.to_messages(raw_in, "user")
    if content.output_messages is None:
        content.output_messages = _response_messages(raw_out)
    content.input = content.input_messages if content.input_messages is not None else raw_in
    content.output = content.output_messages if content.output_messages is not None else raw_out
    content.finish_reasons = _finish_reasons(attrs, content.output_messages, raw_out)
    content.documents = documents_of(attrs, events)
    return content


def _first(sources: list[Callable[[], list[m.Message] | None]]) -> list[m.Message] | None:
    for source in sources:
        found = source()
        if found:
            return found
    return None


def _input_sources(attrs: Attrs, events: Events) -> list[Callable[[], list[m.Message] | None]]:
    return [
        lambda: m.to_messages(attrs.get("gen_ai.input.messages"), "user"),
        lambda: m.to_messages(_event_attr(events, _DETAILS_EVENT, "gen_ai.input.messages"), "user"),
        lambda: m.from_openinference(attrs.indexed("llm.input_messages"), "user"),
        lambda: m.from_indexed_prompts(attrs.indexed("gen_ai.prompt"), "user"),
        lambda: m.from_indexed_prompts(attrs.indexed("llm.prompts"), "user"),
        lambda: m.to_messages(attrs.get("llm.prompts"), "user"),
        lambda: _role_events(events),
        lambda: _prompt_event(events, "gen_ai.content.prompt", "gen_ai.prompt", "user"),
        lambda: _logfire_events(attrs, completion=False),
        lambda: _single(attrs.get("gen_ai.prompt"), "user"),
        lambda: m.to_messages(attrs.get("pydantic_ai.all_messages"), "user"),
        lambda: m.to_messages(attrs.decoded("request_data"), "user"),
        lambda: m.to_messages(attrs.get("langfuse.observation.input"), "user"),
    ]


def _output_sources(attrs: Attrs, events: Events) -> list[Callable[[], list[m.Message] | None]]:
    return [
        lambda: m.to_messages(attrs.get("gen_ai.output.messages"), "assistant"),
        lambda: m.to_messages(
            _event_attr(events, _DETAILS_EVENT, "gen_ai.output.messages"), "assistant"
        ),
        lambda: m.from_openinference(attrs.indexed("llm.output_messages"), "assistant"),
        lambda: m.from_indexed_prompts(attrs.indexed("gen_ai.completion"), "assistant"),
        lambda: m.from_indexed_prompts(attrs.indexed("llm.completions"), "assistant"),
        lambda: m.from_indexed_prompts(attrs.indexed("llm.choices"), "assistant"),
        lambda: m.to_messages(
            [e["attributes"] for e in events if e["name"] == "gen_ai.choice"], "assistant"
        ),
        lambda: _prompt_event(
            events, "gen_ai.content.completion", "gen_ai.completion", "assistant"
        ),
        lambda: _logfire_events(attrs, completion=True),
        lambda: _single(attrs.get("gen_ai.completion"), "assistant"),
        lambda: _single(_response_data(attrs), "assistant"),
        lambda: m.to_messages(attrs.get("langfuse.observation.output"), "assistant"),
    ]


def _with_system(
    attrs: Attrs, events: Events, found: list[m.Message] | None
) -> list[m.Message] | None:
    """Put ``gen_ai.system_instructions`` in front as a system message (once)."""
    instructions = decode_json(attrs.get("gen_ai.system_instructions"))
    if instructions is None:
        instructions = _event_attr(events, _DETAILS_EVENT, "gen_ai.system_instructions")
    if instructions is None or instructions == "":
        return found
    parts = instructions if isinstance(instructions, list) else [m.text_part(instructions)]
    system = {"role": "system", "parts": [p for p in parts if isinstance(p, dict)]}
    if found and found[0].get("role") == "system":
        return found
    return [system, *(found or [])]


def _single(value: Any, role: str) -> list[m.Message] | None:
    """A plain prompt/completion string (old OpenLIT) or a list of messages in a string."""
    value = decode_json(value)
    if isinstance(value, list | dict):
        return m.to_messages(value if isinstance(value, list) else [value], role)
    if isinstance(value, str) and value:
        return [{"role": role, "parts": [m.text_part(value)]}]
    return None


def _event_attr(events: Events, name: str, key: str) -> Any:
    for event in events:
        if event["name"] == name and key in event["attributes"]:
            return event["attributes"][key]
    return None


def _role_events(events: Events) -> list[m.Message] | None:
    found = []
    for event in events:
        role = _ROLE_EVENTS.get(event["name"])
        if role:
            found.append({"role": role, **event["attributes"]})
    return m.to_messages(found, "user")


def _prompt_event(events: Events, name: str, key: str, role: str) -> list[m.Message] | None:
    return _single(_event_attr(events, name, key), role)


def _logfire_events(attrs: Attrs, *, completion: bool) -> list[m.Message] | None:
    """Logfire's semconv v1 ``events`` attribute: a JSON list of gen_ai event dicts."""
    listed = attrs.decoded("events")
    if not isinstance(listed, list):
        return None
    picked = []
    for event in listed:
        if not isinstance(event, dict):
            continue
        name = event.get("event.name")
        if completion and name == "gen_ai.choice":
            picked.append(event)
        elif not completion and name in _ROLE_EVENTS:
            picked.append({"role": _ROLE_EVENTS[name], **event})
    return m.to_messages(picked, "assistant" if completion else "user")


def _response_data(attrs: Attrs) -> Any:
    data = attrs.decoded("response_data")
    return data.get("message") if isinstance(data, dict) else None


def _response_messages(raw_out: Any) -> list[m.Message] | None:
    """An OpenAI chat response (``choices``) carried as a generic output value."""
    if isinstance(raw_out, dict) and isinstance(raw_out.get("choices"), list):
        return m.to_messages(raw_out["choices"], "assistant")
    return None


_SINGLE_REASON_KEYS = ("llm.finish_reason", "gen_ai.response.finish_reason",
                       "llm.response.finish_reason", "gen_ai.response.stop_reason",
                       "llm.response.stop_reason", "anthropic.message.stop_reason")  # fmt: skip


def _finish_reasons(attrs: Attrs, output: list[m.Message] | None, raw_out: Any) -> list[str] | None:
    declared = decode_json(attrs.get("gen_ai.response.finish_reasons"))
    candidates: list[list[Any]] = [
        declared if isinstance(declared, list) else [declared],
        [msg.get("finish_reason") for msg in output or []],
        [attrs.text(*_SINGLE_REASON_KEYS)],
        [msg.get("finish_reason") for msg in _response_messages(raw_out) or []],
    ]
    for candidate in candidates:
        reasons = [r for r in (m.finish_reason(v) for v in candidate) if r]
        if reasons:
            return reasons
    return None


def documents_of(attrs: Attrs, events: Events) -> list[dict[str, Any]] | None:
    """Retrieved documents as ``{id, score, content, metadata}`` (absent keys left out)."""
    declared = attrs.decoded("gen_ai.retrieval.documents")
    if isinstance(declared, list) and declared:
        return [_document(d) for d in declared if isinstance(d, dict)] or None
    for prefix in ("retrieval.documents", "reranker.output_documents"):
        items = [i.get("document") for i in attrs.indexed(prefix) if isinstance(i, dict)]
        if items:
            return [_document(d) for d in items if isinstance(d, dict)] or None
    results = [
        e["attributes"] for e in events if e["name"] in ("db.query.result", "db.search.result")
    ]
    found = [_document(_strip_prefix(r)) for r in results]
    return found or None


def _strip_prefix(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k.rsplit(".", 1)[-1]: v for k, v in attributes.items()}


def _document(doc: dict[str, Any]) -> dict[str, Any]:
    picked = {
        "id": doc.get("id"),
        "score": doc.get("score", doc.get("distance")),
        "content": doc.get("content", doc.get("document", doc.get("text"))),
        "metadata": decode_json(doc.get("metadata")),
    }
    return {k: v for k, v in picked.items() if v is not None}
