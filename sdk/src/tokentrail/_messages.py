"""Provider message shapes → OpenTelemetry GenAI "parts" messages (duck-typed, no provider import).

Objects may be dicts (raw JSON, LiteLLM) or SDK objects (pydantic models of openai, anthropic,
google-genai); :func:`get` reads a field from either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tokentrail._serialize import to_plain

Part = dict[str, Any]
Message = dict[str, Any]

_NO_VALUE = object()


def get(obj: Any, *names: str) -> Any:
    """The first of ``names`` present and not ``None`` on ``obj`` (a mapping or an object)."""
    if obj is None:
        return None
    if type(obj) is dict:  # the common case, without the ABC check below
        for name in names:
            value = obj.get(name)
            if value is not None:
                return value
        return None
    for name in names:
        if isinstance(obj, Mapping):
            value = obj.get(name)
        else:
            try:
                value = getattr(obj, name, None)
            except Exception:
                value = None
        if value is not None:
            return value
    return None


def as_list(value: Any) -> list[Any]:
    """``value`` as a list when it is a list/tuple, else ``[]`` (never iterates user iterators)."""
    return list(value) if isinstance(value, list | tuple) else []


def enum_text(value: Any) -> str | None:
    """Provider finish reasons may be enums (``FinishReason.STOP``) or strings."""
    if value is None:
        return None
    name = getattr(value, "name", None)
    if isinstance(name, str) and not isinstance(value, str):
        return name.lower()
    return str(value)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return to_plain(raw)


def text_part(text: str) -> Part:
    return {"type": "text", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> Part:
    part: Part = {"type": "tool_call", "name": name, "arguments": _arguments(arguments)}
    if call_id:
        part["id"] = call_id
    return part


def _image_part(item: Any) -> Part:
    url = get(get(item, "image_url"), "url") or get(item, "image_url")
    if isinstance(url, str):
        return {"type": "uri", "modality": "image", "uri": url}
    source = get(item, "source")
    part: Part = {"type": "blob", "modality": "image"}
    media = get(source, "media_type")
    if media:
        part["mime_type"] = media
    data = get(source, "data", "url")
    if data is not None:
        part["content"] = data
    return part


def _part(item: Any) -> Part | None:  # noqa: C901 - one branch per provider part type
    if isinstance(item, str):
        return text_part(item)
    kind = get(item, "type")
    if kind in ("text", "input_text", "output_text") or (kind is None and get(item, "text")):
        if get(item, "thought") is True:
            return {"type": "reasoning", "content": get(item, "text")}
        return text_part(str(get(item, "text") or ""))
    if kind in ("image_url", "image", "input_image"):
        return _image_part(item)
    if kind in ("tool_use", "server_tool_use"):
        return tool_call_part(get(item, "id"), get(item, "name"), get(item, "input"))
    if kind in ("function_call",):
        return tool_call_part(get(item, "call_id", "id"), get(item, "name"), get(item, "arguments"))
    if kind == "tool_result":
        return {
            "type": "tool_call_response",
            "id": get(item, "tool_use_id"),
            "response": to_plain(get(item, "content")),
        }
    if kind in ("thinking", "reasoning"):
        return {"type": "reasoning", "content": get(item, "thinking", "text")}
    if kind == "refusal":
        return {"type": "refusal", "content": get(item, "refusal")}
    function_call = get(item, "function_call")
    if function_call is not None:  # Gemini part
        return tool_call_part(
            get(function_call, "id"), get(function_call, "name"), get(function_call, "args")
        )
    function_response = get(item, "function_response")
    if function_response is not None:
        return {
            "type": "tool_call_response",
            "id": get(function_response, "id"),
            "response": to_plain(get(function_response, "response")),
        }
    if kind is None:
        return None
    plain = to_plain(item)
    return plain if isinstance(plain, dict) else {"type": str(kind)}


def parts_of(content: Any) -> list[Part]:
    """Parts for a message ``content`` (a string or a list of provider parts/blocks)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    items = content if isinstance(content, list | tuple) else [content]
    return [part for part in (_part(item) for item in items) if part is not None]


def openai_tool_call(call: Any) -> Part:
    """A ``tool_call`` part from an OpenAI ``{"id", "function": {"name", "arguments"}}``."""
    function = get(call, "function")
    return tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments"))


def _tool_calls(message: Any) -> list[Part]:
    return [openai_tool_call(call) for call in as_list(get(message, "tool_calls"))]


def to_message(message: Any) -> Message:
    """One input message (OpenAI, Anthropic, Responses or Gemini shape) in the parts schema."""
    if isinstance(message, str):
        return {"role": "user", "parts": [text_part(message)]}
    if type(message) is dict and len(message) == 2 and type(message.get("content")) is str:
        role = message.get("role")  # the common {"role", "content": text} message, directly
        if type(role) is str and role and role not in ("model", "tool"):
            return {"role": role, "parts": [text_part(message["content"])]}
    role = get(message, "role") or "user"
    if role == "model":
        role = "assistant"
    if role == "tool":
        return {
            "role": "tool",
            "parts": [
                {
                    "type": "tool_call_response",
                    "id": get(message, "tool_call_id"),
                    "response": to_plain(get(message, "content")),
                }
            ],
        }
    kind = get(message, "type")
    if kind in ("function_call", "function_call_output", "reasoning"):
        if kind == "function_call_output":
            part: Part = {
                "type": "tool_call_response",
                "id": get(message, "call_id"),
                "response": to_plain(get(message, "output")),
            }
            return {"role": "tool", "parts": [part]}
        return {"role": "assistant", "parts": parts_of([message])}
    parts = parts_of(get(message, "content", "parts"))
    parts.extend(_tool_calls(message))
    result: Message = {"role": str(role), "parts": parts}
    name = get(message, "name")
    if isinstance(name, str):
        result["name"] = name
    return result


def to_messages(messages: Any) -> list[Message]:
    """Input messages: a list of messages, a single string prompt, or one message."""
    if isinstance(messages, str | Mapping):
        return [to_message(messages)]
    if isinstance(messages, list | tuple):
        return [to_message(m) for m in messages]
    return [to_message(messages)]


def system_parts(system: Any) -> list[Part]:
    """``system=``/``instructions=``/``system_instruction`` as a list of parts."""
    if isinstance(system, Mapping) or (
        not isinstance(system, str | list | tuple) and get(system, "parts") is not None
    ):
        return parts_of(get(system, "parts", "content"))
    return parts_of(system)
