"""OTLP values → JSON-safe Python values, cleaned and bounded on the way in.

PostgreSQL rejects NUL characters in ``text`` and ``jsonb`` and any string that is not valid
UTF-8 (lone surrogates from JSON escapes), and ``jsonb`` has no NaN: every string and number
that reaches the database passes through this module first.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.limits import MAX_DEPTH, MAX_VALUE_BYTES, TOO_DEEP, TRUNCATED


def clean_text(text: str, limit: int = MAX_VALUE_BYTES) -> str:
    """``text`` without NUL characters, valid UTF-8, at most ``limit`` bytes (then marked)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        encoded = text.encode("utf-8", "replace")
        text = encoded.decode("utf-8")
    if len(encoded) <= limit:
        return text
    kept = encoded[:limit].decode("utf-8", "ignore")
    return kept + TRUNCATED.format(len(encoded) - len(kept.encode("utf-8")))


def clean_number(value: float) -> float | str:
    """JSON has no NaN or infinity; keep them readable as strings."""
    return value if math.isfinite(value) else str(value)


def from_any_value(value: AnyValue, depth: int = 0) -> Any:
    """The Python value of an OTLP ``AnyValue`` (maps become dicts, bytes become base64)."""
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return clean_text(value.string_value)
    if kind in ("bool_value", "int_value"):
        return getattr(value, kind)
    if kind == "double_value":
        return clean_number(value.double_value)
    if kind == "array_value":
        return [from_any_value(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {
            clean_text(kv.key): from_any_value(kv.value, depth + 1)
            for kv in value.kvlist_value.values
        }
    if kind == "bytes_value":
        return clean_text(base64.b64encode(value.bytes_value).decode("ascii"))
    return None  # unset, or a profiles-only string index


def bound_json(value: Any, depth: int = 0) -> Any:
    """A decoded JSON value with the same cleaning and bounds as attribute values."""
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return clean_number(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): bound_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [bound_json(item, depth + 1) for item in value]
    return value


def decode_json(value: Any) -> Any:
    """Decode a string that holds JSON (object, array or string); anything else is returned.

    A string that fails to decode, or nests too deeply for the parser, stays a string.
    """
    if not isinstance(value, str):
        return value
    head = value.lstrip()[:1]
    if head not in ("{", "[", '"'):
        return value
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return value
    return bound_json(decoded)


def to_text(value: Any) -> str | None:
    """A readable text form of any value (strings as they are, the rest as compact JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
