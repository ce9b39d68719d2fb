"""Chat messages of every convention → the OTel GenAI message schema (role + parts).

A canonical message is ``{"role", "parts": [...], "name"?, "finish_reason"?}`` with parts
``text`` (content), ``tool_call`` (id, name, arguments), ``tool_call_response`` (id,
response), ``uri``/``blob``/``reasoning`` and any other part passed through as sent.
"""

from __future__ import annotations

from typing import Any

from collector.values import decode_json, to_text

Message = dict[str, Any]
_FINISH_REASONS = {
    "tool_call": "tool_calls", "function_call": "tool_calls", "tool_use": "tool_calls",
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "content_filtered": "content_filter", "safety": "content_filter",
    "recitation": "content_filter", "prohibited_content": "content_filter",
}  # fmt: skip


def finish_reason(value: Any) -> str | None:
    """Finish reasons folded to OpenAI's names (the fixtures and most providers use them)."""
    if not isinstance(value, str) or not value.strip():
        return None
    folded = value.strip().lower()
    return _FINISH_REASONS.get(folded, folded)


def to_messages(value: Any, default_role: str) -> list[Message] | None:
    """A list of canonical messages from any message-list shape, or None if it is not one."""
    value = decode_json(value)
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if not isinstance(value, list) or not value:
        return None
    messages = [m for m in (to_message(item, default_role) for item in value) if m]
    return messages or None


def to_message(item: Any, default_role: str) -> Message | None:
    """One message from the OTel parts shape, the OpenAI/Anthropic shape or a bare string."""
    item = decode_json(item)
    if isinstance(item, str):
        return {"role": default_role, "parts": [text_part(item)]}
    if not isinstance(item, dict):
        return None
    inner_message = decode_json(item.get("message"))
    if isinstance(inner_message, dict):  # an OpenAI choice or a gen_ai.choice body
        inner = dict(inner_message)
        inner.setdefault("finish_reason", item.get("finish_reason"))
        item = inner
    role = item.get("role") if isinstance(item.get("role"), str) else default_role
    parts = item["parts"] if isinstance(item.get("parts"), list) else _openai_parts(item)
    message: Message = {"role": role, "parts": [p for p in parts if isinstance(p, dict)]}
    if isinstance(item.get("name"), str):
        message["name"] = item["name"]
    reason = finish_reason(item.get("finish_reason") or item.get("stop_reason"))
    if reason:
        message["finish_reason"] = reason
    return message


def text_part(content: Any) -> dict[str, Any]:
    return {
        "type": "text",
        "content": content if isinstance(content, str) else decode_json(content),
    }


def tool_call_part(call: dict[str, Any]) -> dict[str, Any]:
    """OpenAI ``{id, function: {name, arguments}}`` or flattened ``{id, name, arguments}``."""
    function: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else call
    part = {
        "type": "tool_call",
        "name": function.get("name"),
        "arguments": decode_json(function.get("arguments", function.get("input"))),
    }
    if call.get("id") is not None:
        part["id"] = call["id"]
    return part


def _openai_parts(item: dict[str, Any]) -> list[Any]:
    content = decode_json(item.get("content"))
    parts: list[Any] = []
    if item.get("tool_call_id") is not None or item.get("role") == "tool":
        parts.append(
            {"type": "tool_call_response", "id": item.get("tool_call_id") or item.get("id"),
             "response": content}
        )  # fmt: skip
    elif isinstance(content, list):
        parts.extend(_content_block(block) for block in content)
    elif content is not None and content != "":
        parts.append(text_part(content))
    if isinstance(item.get("refusal"), str) and item["refusal"]:
        parts.append({"type": "refusal", "content": item["refusal"]})
    calls = decode_json(item.get("tool_calls"))
    if isinstance(calls, list):
        parts.extend(tool_call_part(c) for c in calls if isinstance(c, dict))
    legacy_call = item.get("function_call")
    if isinstance(legacy_call, dict):
        parts.append(tool_call_part({"function": legacy_call}))
    return parts


def _content_block(block: Any) -> Any:
    """OpenAI / Anthropic content blocks → parts; unknown blocks pass through."""
    if isinstance(block, str):
        return text_part(block)
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text") and "text" in block:
        return text_part(block["text"])
    if kind == "image_url" and isinstance(block.get("image_url"), dict):
        return {"type": "uri", "modality": "image", "uri": block["image_url"].get("url")}
    if kind == "tool_use":
        return tool_call_part(block)
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": block.get("tool_use_id"),
                "response": block.get("content")}  # fmt: skip
    if kind == "thinking":
        return {"type": "reasoning", "content": block.get("thinking")}
    return block


def from_openinference(items: list[Any], default_role: str) -> list[Message] | None:
    """``llm.{input,output}_messages.{i}.message.*`` rebuilt → canonical messages."""
    converted = []
    for item in items:
        message = item.get("message") if isinstance(item, dict) else None
        if not isinstance(message, dict):
            continue
        openai_like = dict(message)
        contents = message.get("contents")
        if isinstance(contents, list):
            openai_like["content"] = [_oi_content(c) for c in contents]
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            openai_like["tool_calls"] = [
                c.get("tool_call")
                for c in calls
                if isinstance(c, dict) and isinstance(c.get("tool_call"), dict)
            ]
        converted.append(openai_like)
    return to_messages(converted, default_role)


def _oi_content(content: Any) -> Any:
    block = content.get("message_content") if isinstance(content, dict) else None
    if not isinstance(block, dict):
        return None
    if block.get("type") == "image":
        image = block.get("image")
        url = image.get("image", {}).get("url") if isinstance(image, dict) else None
        return {"type": "image_url", "image_url": {"url": url}}
    return block


def from_indexed_prompts(items: list[Any], default_role: str) -> list[Message] | None:
    """OpenLLMetry ``gen_ai.prompt.{i}.*``; OpenInference legacy ``llm.prompts.{i}.prompt.text``."""
    converted: list[Any] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("prompt"), dict):
            converted.append({"role": default_role, "content": item["prompt"].get("text")})
        elif isinstance(item, dict) and isinstance(item.get("completion"), dict):
            converted.append({"role": default_role, "content": item["completion"].get("text")})
        else:
            converted.append(item)
    return to_messages(converted, default_role)


def message_text(messages: list[Message]) -> str:
    """The searchable text of messages: text, reasoning, tool calls and tool results."""
    lines: list[str] = []
    for message in messages:
        for part in message.get("parts", []):
            kind = part.get("type")
            if kind in ("text", "reasoning", "refusal"):
                lines.append(_plain(part.get("content")))
            elif kind == "tool_call":
                lines.append(f"{_plain(part.get('name'))}({_plain(part.get('arguments'))})")
            elif kind == "tool_call_response":
                lines.append(_plain(part.get("response", part.get("result"))))
    return "\n".join(line for line in lines if line)


def _plain(value: Any) -> str:
    return to_text(value) or ""
