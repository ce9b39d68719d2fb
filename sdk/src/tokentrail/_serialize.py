"""Turn arbitrary user values into bounded JSON without ever letting user code raise into ours.

Arguments and return values are user objects: their ``__repr__``, properties or ``model_dump``
may raise, recurse forever or be enormous. Every user hook is called inside ``try``; structures
are walked with a depth bound, a cycle guard and a running size budget, so one value costs at most
``MAX_VALUE_BYTES`` of span attribute.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

MAX_VALUE_BYTES = 32 * 1024
MAX_DEPTH = 12
MAX_ITEMS = 256
TRUNCATED = "…[truncated]"
REDACTED = "[REDACTED]"

# Dict keys whose values are secrets whatever they look like.
_DENY_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|apikey|auth(orization)?|cookie|credential|"
    r"private[_-]?key|session[_-]?key|access[_-]?key|signature|x-api-key",
    re.IGNORECASE,
)
# Every key _DENY_KEY matches contains one of these: plain substring tests are much faster than
# the pattern over a whole text, and a false alarm only sends the value down the slow path.
_SECRET_FRAGMENTS = ("pass", "secret", "token", "key", "auth", "cookie", "credential", "signature")
# Keys like "max_tokens" or "input_tokens" are counts, not secrets.
_ALLOW_KEY = re.compile(r"(^|_)(max|input|output|total|prompt|completion)_?tokens?$|tokens$", re.I)


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (password, api_key, authorization, cookie, …)."""
    # Cached: the same few keys ("role", "content", "messages"…) come back on every call.
    return bool(_DENY_KEY.search(key)) and not _ALLOW_KEY.search(key)


class _Budget:
    __slots__ = ("left",)

    def __init__(self, size: int) -> None:
        self.left = size


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__qualname__} object>"
    if not isinstance(text, str):
        return f"<{type(value).__qualname__} object>"
    return text


def _call_dump(value: object) -> Any:
    """Plain data from pydantic (``model_dump``), ``to_dict`` or dataclass objects, or a marker."""
    for method in ("model_dump", "to_dict", "dict"):
        fn = getattr(type(value), method, None)
        if callable(fn):
            try:
                return fn(value)
            except Exception:
                return _NOTHING
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        except Exception:
            return _NOTHING
    return _NOTHING


_NOTHING = object()


def _text(value: str, budget: _Budget) -> str:
    if len(value) > budget.left:
        cut = max(budget.left, 0)
        budget.left = 0
        return value[:cut] + TRUNCATED
    budget.left -= len(value) + 2
    return value


def _walk(value: Any, depth: int, budget: _Budget, seen: set[int]) -> Any:
    if budget.left <= 0:
        return TRUNCATED
    kind = type(value)
    # Exact-type fast paths for what calls carry most (str, int, dict, list): the isinstance
    # chain below, with its ABC checks, is the slow general case.
    if kind is str:
        return _text(value, budget)
    if kind is int:
        budget.left -= 6
        return value
    if kind is not dict and kind is not list:
        return _walk_scalar(value, depth, budget, seen)
    return _walk_nested(value, depth, budget, seen)


def _walk_scalar(value: Any, depth: int, budget: _Budget, seen: set[int]) -> Any:
    if value is None or isinstance(value, bool | int):
        budget.left -= 6
        if isinstance(value, enum.Enum):
            return _walk(value.value, depth, budget, seen)
        return value
    if isinstance(value, float):
        budget.left -= 8
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _text(value, budget)
    if isinstance(value, bytes | bytearray | memoryview):
        return _text(f"<{len(value)} bytes>", budget)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return _text(value.isoformat(), budget)
    if isinstance(value, Decimal | uuid.UUID | dt.timedelta):
        return _text(str(value), budget)
    if isinstance(value, enum.Enum):
        return _walk(value.value, depth, budget, seen)
    return _walk_nested(value, depth, budget, seen)


def _walk_nested(value: Any, depth: int, budget: _Budget, seen: set[int]) -> Any:
    if depth >= MAX_DEPTH:
        return _text(f"<{type(value).__qualname__}: depth limit>", budget)
    ident = id(value)
    if ident in seen:
        return _text("<cycle>", budget)
    seen.add(ident)
    try:
        return _walk_container(value, depth, budget, seen)
    finally:
        seen.discard(ident)


def _walk_container(value: Any, depth: int, budget: _Budget, seen: set[int]) -> Any:
    if type(value) is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        try:
            items = list(value.items())
        except Exception:
            return _text(f"<{type(value).__qualname__}: unreadable mapping>", budget)
        for i, (key, item) in enumerate(items):
            if i >= MAX_ITEMS or budget.left <= 0:
                out[TRUNCATED] = len(items) - i
                break
            name = key if isinstance(key, str) else _safe_repr(key)
            budget.left -= len(name) + 4
            out[name] = REDACTED if is_secret_key(name) else _walk(item, depth + 1, budget, seen)
        return out
    if type(value) is list or isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        result = []
        for i, item in enumerate(seq):
            if i >= MAX_ITEMS or budget.left <= 0:
                result.append(f"{TRUNCATED} {len(seq) - i} more")
                break
            result.append(_walk(item, depth + 1, budget, seen))
        return result
    dumped = _call_dump(value)
    if dumped is not _NOTHING and dumped is not value:
        return _walk(dumped, depth + 1, budget, seen)
    return _text(_safe_repr(value), budget)


def to_plain(value: Any, max_bytes: int = MAX_VALUE_BYTES) -> Any:
    """A JSON-compatible copy of ``value``, bounded in size and depth, secrets masked by key."""
    return _walk(value, 0, _Budget(max_bytes), set())


# One encoder for the fast path: ``json.dumps`` with options builds a new one on every call.
_PLAIN_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _plain_json(value: Any, max_bytes: int) -> str | None:
    """JSON of ``value`` when it is small, plain data with no key that could name a secret.

    The fast path of :func:`to_json`: ``json.dumps`` in C instead of the walk. Anything it cannot
    take as is (objects, sets, NaN, cycles, deep nesting) raises, and the walk takes over; so does
    any text the secret-key pattern matches anywhere (keys or values: a false alarm only costs
    the slow path).
    """
    try:
        text = _PLAIN_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if len(text) > max_bytes:
        return None
    low = text.lower()
    for fragment in _SECRET_FRAGMENTS:
        if fragment in low:
            return None
    return text


def to_json(value: Any, max_bytes: int = MAX_VALUE_BYTES) -> str:
    """Bounded JSON text for ``value``; strings are kept as JSON strings too."""
    if type(value) is dict or type(value) is list:
        fast = _plain_json(value, max_bytes)
        if fast is not None:
            return fast
    text = json.dumps(to_plain(value, max_bytes), ensure_ascii=False, default=str)
    if len(text) > max_bytes * 2:
        # The running budget is approximate (escapes, separators): a hard cap, still valid JSON.
        text = json.dumps(text[:max_bytes] + TRUNCATED, ensure_ascii=False)
    return text
