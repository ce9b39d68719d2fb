"""Built-in scorers: small pure functions of a span behind one protocol.

A score is a float in [0, 1] where 1 is good, or None when the scorer does not apply to the
span's content (no output to judge).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from core.models import SpanKind


@dataclass(frozen=True, slots=True)
class SpanView:
    """What a scorer may look at: the span's kind, text and finish reasons."""

    kind: str
    input_text: str | None
    output_text: str | None
    finish_reasons: tuple[str, ...]


class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    def score(self, span: SpanView) -> float | None: ...


LLM_KINDS = frozenset({SpanKind.LLM.value})


@dataclass(frozen=True)
class CompleteOutput:
    """1 when the model produced a non-empty answer that was not cut off (finish reason
    ``length``/``max_tokens``), else 0."""

    name: str = "complete_output"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        if span.output_text is None and not span.finish_reasons:
            return None
        truncated = any(r in ("length", "max_tokens") for r in span.finish_reasons)
        empty = not (span.output_text or "").strip()
        return 0.0 if truncated or empty else 1.0


_REFUSAL = re.compile(
    r"\b(I(?:'m| am) (?:sorry|unable|not able)|I can(?:no|')t (?:help|assist|comply|provide)"
    r"|as an AI(?: language model)?|I must decline|I won't be able)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NoRefusal:
    """0 when the answer opens with a refusal ("I'm sorry, I can't help with that"), else 1;
    only the first 300 characters count, where refusals are stated."""

    name: str = "no_refusal"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        if not span.output_text:
            return None
        return 0.0 if _REFUSAL.search(span.output_text[:300]) else 1.0


BUILT_IN: tuple[Scorer, ...] = (CompleteOutput(), NoRefusal())
