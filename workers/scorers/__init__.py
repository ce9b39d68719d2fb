"""Built-in scorers: small pure functions of a span behind one protocol (see ``base``).

A score is a float in [0, 1] where 1 is good, or None when the scorer does not apply to the
span. docs/quality.md documents each scorer's meaning.
"""

from __future__ import annotations

from workers.scorers.base import LLM_KINDS, Scorer, SpanView, ToolCall
from workers.scorers.basic import (
    CompleteOutput,
    NoRefusal,
    NoRepetition,
    NoSecrets,
    SameLanguage,
    ValidJson,
)
from workers.scorers.grounding import AnswerRelevance, Groundedness

BUILT_IN: tuple[Scorer, ...] = (
    CompleteOutput(),
    NoRefusal(),
    ValidJson(),
    NoSecrets(),
    NoRepetition(),
    SameLanguage(),
    AnswerRelevance(),
    Groundedness(),
)


def by_name(scorers: tuple[Scorer, ...] = BUILT_IN) -> dict[str, Scorer]:
    return {s.name: s for s in scorers}


__all__ = [
    "BUILT_IN",
    "LLM_KINDS",
    "AnswerRelevance",
    "CompleteOutput",
    "Groundedness",
    "NoRefusal",
    "NoRepetition",
    "NoSecrets",
    "SameLanguage",
    "Scorer",
    "SpanView",
    "ToolCall",
    "ValidJson",
    "by_name",
]
