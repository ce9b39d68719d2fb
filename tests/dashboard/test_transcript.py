"""Span content becomes messages, a tree and numbers without losing or inventing anything."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.queries import SpanView
from dashboard.transcript import (
    MAX_PART_CHARS,
    Message,
    Part,
    chat_role,
    format_cost,
    format_ms,
    messages_from,
    span_tree,
    tree_text,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)
_BLANK: dict[str, Any] = {f.name: None for f in dataclasses.fields(SpanView)}


def span(span_id: str, parent: str | None, ms: int, name: str = "") -> SpanView:
    return SpanView(**{**_BLANK, "span_id": span_id, "parent_span_id": parent,
                       "name": name or span_id, "kind": "chain", "status": "ok",
                       "start_time": T0 + timedelta(milliseconds=ms),
                       "end_time": T0 + timedelta(milliseconds=ms + 5), "duration_ms": 5.0,
                       "cost_source": "unknown", "attributes": {}, "events": []})  # fmt: skip


def test_otel_parts_become_text_and_code_parts() -> None:
    value = [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": {}}]},
    ]
    user, assistant = messages_from(value) or []
    assert user == Message("user", [Part("text", "hi")])
    assert assistant.parts[0].kind == "code"
    assert '"name": "f"' in assistant.parts[0].body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([{"role": "user", "content": "plain"}], [Message("user", [Part("text", "plain")])]),
        ({"messages": [{"role": "system", "content": [{"type": "text", "text": "s"}]}]},
         [Message("system", [Part("text", "s")])]),
        ("a bare prompt", [Message("user", [Part("text", "a bare prompt")])]),
        (None, []),
        ({"query": "not a chat"}, None),
        ([1, 2], None),
    ],
)  # fmt: skip
def test_message_shapes(value: Any, expected: list[Message] | None) -> None:
    assert messages_from(value) == expected


def test_huge_parts_are_cut_with_a_note() -> None:
    (message,) = messages_from("x" * (MAX_PART_CHARS + 10)) or []
    assert message.parts[0].body.endswith("[10 more characters not shown]")


@pytest.mark.parametrize(
    ("role", "expected"),
    [("user", "user"), ("Human", "user"), ("model", "assistant"), ("tool", "tool"),
     ("**bold**", "other")],
)  # fmt: skip
def test_chat_roles_are_an_allowlist(role: str, expected: str) -> None:
    assert chat_role(role) == expected


def test_tree_is_depth_first_by_start_time_with_orphans_as_roots() -> None:
    spans = [span("root", None, 0), span("late", "root", 20), span("early", "root", 10),
             span("child", "early", 11), span("orphan", "missing", 30)]  # fmt: skip
    assert [(s.span_id, d) for s, d in span_tree(spans)] == [
        ("root", 0), ("early", 1), ("child", 2), ("late", 1), ("orphan", 0)
    ]  # fmt: skip


def test_a_parent_cycle_cannot_hang_or_hide_spans() -> None:
    spans = [span("a", "b", 0), span("b", "a", 1), span("root", None, 2)]
    assert sorted(s.span_id for s, _ in span_tree(spans)) == ["a", "b", "root"]


def test_tree_text_indents_by_depth() -> None:
    text = tree_text([span("r", None, 0, "root"), span("c", "r", 1, "child")])
    assert text.splitlines() == ["root  [chain]  5 ms", "  child  [chain]  5 ms"]


@pytest.mark.parametrize(
    ("cost", "shown"),
    [(Decimal(0), "$0.00"), (Decimal("0.000125"), "$0.000125"), (Decimal("1.5"), "$1.50"),
     (Decimal("1234.567"), "$1,234.57"), (None, "–")],
)  # fmt: skip
def test_costs_keep_their_small_digits(cost: Decimal | None, shown: str) -> None:
    assert format_cost(cost) == shown


def test_durations_switch_to_seconds() -> None:
    assert (format_ms(999.4), format_ms(1500), format_ms(None)) == ("999 ms", "1.50 s", "–")
