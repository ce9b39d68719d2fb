"""Span content turned into plain pieces to display: messages, parts, a tree, numbers.

Everything here returns strings meant for ``st.text``/``st.code`` (never for markdown or HTML):
trace content is data. Pure functions, so they are tested without Streamlit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from core.queries import SpanView

#: Longest text shown for one part; the rest is cut with a note (a prompt can be megabytes).
MAX_PART_CHARS = 20_000
#: Roles drawn with their own avatar; any other role is shown as "other" plus its name as text.
KNOWN_ROLES = frozenset({"user", "assistant", "system", "tool"})
_ROLE_ALIASES = {"human": "user", "ai": "assistant", "model": "assistant", "developer": "system"}


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a message: prose for ``st.text`` or a JSON/code block for ``st.code``."""

    kind: Literal["text", "code"]
    body: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    parts: list[Part]


def clip(text: str, limit: int = MAX_PART_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit:,} more characters not shown]"


def as_json(value: Any) -> str:
    """Pretty JSON for a code block (never raises: unknown types are shown with ``str``)."""
    return clip(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _part(raw: Any) -> Part:
    if isinstance(raw, str):
        return Part("text", clip(raw))
    if isinstance(raw, dict):
        kind = raw.get("type")
        body = raw.get("content", raw.get("text"))
        if kind in {"text", "reasoning", None} and isinstance(body, str):
            return Part("text", clip(body))
    return Part("code", as_json(raw), "json")


def _message(raw: Any) -> Message:
    role = str(raw.get("role") or "other") if isinstance(raw, dict) else "other"
    if not isinstance(raw, dict):
        return Message(role, [_part(raw)])
    parts = raw.get("parts")
    if parts is None:
        parts = raw.get("content")
    if isinstance(parts, list):
        return Message(role, [_part(p) for p in parts])
    return Message(role, [] if parts is None else [_part(parts)])


def messages_from(value: Any) -> list[Message] | None:
    """Chat messages from an LLM span's ``input``/``output``, or None if it is not a chat.

    Understands the OTel GenAI parts schema (``[{"role", "parts": [{"type", "content"}]}]``),
    ``{"role", "content"}`` messages, ``{"messages": [...]}`` wrappers and a bare prompt string.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [Message("user", [Part("text", clip(value))])]
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return [_message(m) for m in value]
    return None


def chat_role(role: str) -> str:
    """The avatar role for ``st.chat_message``: one of ``KNOWN_ROLES`` or ``other``."""
    role = _ROLE_ALIASES.get(role.lower(), role.lower())
    return role if role in KNOWN_ROLES else "other"


def span_tree(spans: Sequence[SpanView]) -> list[tuple[SpanView, int]]:
    """Spans in depth-first order with their depth; children by start time.

    A span whose parent is missing (not yet arrived, or dropped) is shown as a root, and a
    parent cycle cannot loop: every span is visited once.
    """
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanView]] = defaultdict(list)
    for s in sorted(spans, key=lambda s: (s.start_time, s.span_id)):
        parent = s.parent_span_id if s.parent_span_id in ids else None
        children[parent].append(s)
    ordered: list[tuple[SpanView, int]] = []
    seen: set[str] = set()
    stack = [(s, 0) for s in reversed(children[None])]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        ordered.append((span, depth))
        stack.extend((c, depth + 1) for c in reversed(children[span.span_id]))
    # Spans caught in a parent cycle are unreachable from any root: list them last.
    ordered.extend((s, 0) for s in spans if s.span_id not in seen)
    return ordered


def tree_text(spans: Sequence[SpanView]) -> str:
    """The span tree as indented plain text, one span a line."""
    lines = []
    for span, depth in span_tree(spans):
        mark = "  ✗" if span.status == "error" else ""
        lines.append(f"{'  ' * depth}{span.name}  [{span.kind}]  {format_ms(span.duration_ms)}"
                     f"{mark}")  # fmt: skip
    return "\n".join(lines)


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:,.0f} ms" if ms < 1000 else f"{ms / 1000:,.2f} s"


def format_cost(cost: Decimal | None) -> str:
    """Dollars with enough decimals that a per-call cost is not shown as $0.00."""
    if cost is None:
        return "–"
    if abs(cost) >= 100:
        return f"${cost:,.2f}"
    whole, _, fraction = f"{cost:,.6f}".rstrip("0").partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def format_tokens(tokens: int | None) -> str:
    return "–" if tokens is None else f"{tokens:,}"
