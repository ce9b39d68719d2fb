"""Reading attributes by priority lists: typed lookups, JSON-in-strings, flattened lists."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from collector.limits import MAX_FLAT_INDEX, MAX_NAME_CHARS
from collector.values import decode_json

#: Token counts and similar integers must fit a PostgreSQL bigint with room to add them up.
MAX_COUNT = 2**53


class Attrs:
    """A span's attributes, with its resource attributes consulted where asked."""

    def __init__(self, span: Mapping[str, Any], resource: Mapping[str, Any] | None = None):
        self.span = span
        self.resource = resource or {}

    def __contains__(self, key: str) -> bool:
        return key in self.span

    def get(self, key: str) -> Any:
        return self.span.get(key)

    def text(self, *keys: str, resource: bool = False) -> str | None:
        """The first non-empty scalar among ``keys`` as a string (capped for id columns)."""
        sources = (self.span, self.resource) if resource else (self.span,)
        for source in sources:
            for key in keys:
                found = as_text(source.get(key))
                if found:
                    return found
        return None

    def count(self, *keys: str) -> int | None:
        """The first value among ``keys`` that is a non-negative whole number."""
        for key in keys:
            found = as_count(self.span.get(key))
            if found is not None:
                return found
        return None

    def number(self, *keys: str) -> float | None:
        for key in keys:
            found = as_number(self.span.get(key))
            if found is not None:
                return found
        return None

    def flag(self, *keys: str) -> bool | None:
        for key in keys:
            value = self.span.get(key)
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        return None

    def decoded(self, *keys: str) -> Any:
        """The first present value among ``keys``, JSON-decoded when it is a JSON string."""
        for key in keys:
            value = self.span.get(key)
            if value is not None and value != "":
                return decode_json(value)
        return None

    def under(self, prefix: str) -> dict[str, Any]:
        """Attributes below ``prefix.`` with the prefix removed (values JSON-decoded)."""
        start = prefix + "."
        return {
            k[len(start) :]: decode_json(v) for k, v in self.span.items() if k.startswith(start)
        }

    def indexed(self, prefix: str) -> list[Any]:
        """Rebuild a flattened list ``prefix.{i}.a.b`` into ``[{"a": {"b": …}}, …]``."""
        start = prefix + "."
        items: dict[int, dict[str, Any]] = {}
        for key, value in self.span.items():
            if not key.startswith(start):
                continue
            index, _, rest = key[len(start) :].partition(".")
            if not index.isdigit() or int(index) > MAX_FLAT_INDEX:
                continue
            items.setdefault(int(index), {})[rest] = value
        return [_nest(items[i]) for i in sorted(items)]


def as_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:MAX_NAME_CHARS] or None
    return None


def as_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 18:
            return None
        value = int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_COUNT:
        return value
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _nest(flat: dict[str, Any]) -> Any:
    """``{"a.b": 1, "a.c.0": 2}`` → ``{"a": {"b": 1, "c": [2]}}``; ``{"": v}`` → ``v``."""
    if "" in flat:
        return decode_json(flat[""])
    root: dict[str, Any] = {}
    for path, value in flat.items():
        node = root
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break  # a key that is both a leaf and a branch: keep the leaf
            node = child
        else:
            node.setdefault(leaf, value)
    return _listify(root, 0)


def _listify(node: Any, depth: int) -> Any:
    """Turn maps whose keys are all indices into lists, sorted numerically."""
    if not isinstance(node, dict) or depth > 32:
        return node
    converted = {k: _listify(v, depth + 1) for k, v in node.items()}
    if converted and all(k.isdigit() and int(k) <= MAX_FLAT_INDEX for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
