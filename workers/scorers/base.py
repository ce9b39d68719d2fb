"""The scorer protocol and the view of a span that scorers read.

This is a stable contract (other scorers, such as the LLM judge, implement it):

- ``name``: stable identifier, stored in ``scores.name``;
- ``version``: bump it whenever the meaning or the numbers change; scores are unique per
  (span, name, version), so a new version is stored beside the old one and a rescore request
  rolls it over a range;
- ``kinds``: the span kinds it applies to (``core.models.SpanKind`` values);
- ``score(span) -> float | None``: a value in [0, 1], **1 is good**; ``None`` means "does not
  apply to this span" (nothing is stored). It must be a pure function of the view: no I/O,
  linear time in the text. An exception is caught by the job, which dead-letters the span for
  this scorer and carries on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.models import SpanKind


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model made: its name and arguments as sent (a parsed value, or the
    raw string when they were not valid JSON)."""

    name: str | None
    arguments: Any


@dataclass(frozen=True, slots=True)
class SpanView:
    """What a scorer may look at.

    ``question`` is the last user message (falls back to the whole input text);
    ``context`` holds the documents retrieved in the same trace; ``response_format`` is
    ``"json"`` when the request asked for JSON output, with ``json_schema`` when it gave one;
    ``tool_calls`` / ``tool_schemas`` are the calls in the output and the parameter schemas of
    the tools offered, by name.
    """

    kind: str
    input_text: str | None
    output_text: str | None
    finish_reasons: tuple[str, ...]
    question: str | None = None
    context: tuple[str, ...] = ()
    response_format: str | None = None
    json_schema: Mapping[str, Any] | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_schemas: Mapping[str, Any] = field(default_factory=dict)

    @property
    def asked(self) -> str | None:
        return self.question or self.input_text


class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    def score(self, span: SpanView) -> float | None: ...


LLM_KINDS = frozenset({SpanKind.LLM.value})
