"""Lexical answer relevance and groundedness: no model, no network, microseconds per span.

Groundedness splits the answer into claims (sentences that state something) and checks each
against the documents retrieved in the same trace: how many of the claim's content lemmas the
best-matching context sentence and the whole context hold, then hard checks that lexical
overlap alone misses — a number the context never states, a name it never mentions, a
negation the matching sentence does not share (or lacks). See docs/quality.md for the figures
on the labelled set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workers.scorers.base import LLM_KINDS, SpanView
from workers.scorers.text import (
    Passage,
    content_lemmas,
    facts,
    lemma,
    numbers,
    passage,
    sentences,
    word_set,
)

#: A claim whose support reaches this counts as supported (chosen on the dev split).
SUPPORT_THRESHOLD = 0.6
#: Context and answer are read up to these many characters (bounded time per span).
MAX_CONTEXT_CHARS = 60_000
MAX_ANSWER_CHARS = 8_000
#: A question longer than this is a pasted document: its start says what is asked.
MAX_QUESTION_CHARS = 1_500
_FILLER = re.compile(
    r"^(?:let me know|hope (?:this|that) helps|feel free|happy to help|i hope|please let"
    r"|if you have any|thanks|thank you|good luck|sure|of course|great question)",
    re.IGNORECASE,
)
#: Support floor for a claim whose every number is in the context.
NUMBERS_AGREE = 0.5
#: A content word the context never uses and that is this rare in English (weight = 6.5 -
#: Zipf frequency) is likely a changed name or term; each one scales support by the penalty.
RARE_WEIGHT = 2.7
RARE_PENALTY = 0.6
#: "one", "once", "half", "double" are as often words as numbers: not checked as numbers.
_AMBIGUOUS_NUMBERS = frozenset({1.0, 0.5, 2.0})
_CLAUSE = re.compile(r";\s+|,?\s+but\s+|,\s+(?:and|while|whereas)\s+")


def _clauses(sentence: str) -> list[str]:
    """A sentence split at "; ", ", but", ", and", ", while" when every part states something
    (a compound answer is several claims; negation is judged per clause)."""
    parts = [p for p in _CLAUSE.split(sentence) if p and p.strip()]
    if len(parts) > 1 and all(len(content_lemmas(p)) >= 2 for p in parts):
        return [p.strip() for p in parts]
    return [sentence]


def claims_of(answer: str) -> list[str]:
    """The clauses of ``answer`` that state something checkable."""
    found = []
    for sentence in sentences(answer[:MAX_ANSWER_CHARS]):
        if sentence.endswith("?") or _FILLER.match(sentence):
            continue
        if len(content_lemmas(sentence)) >= 2:
            found.extend(_clauses(sentence))
    return found


def claim_support(claim: str, context: Passage) -> float:
    """How well ``context`` supports ``claim``, in [0, 1]: the weighted share of the claim's
    content lemmas found in its best context sentence and in the whole context, then capped
    for an unstated number and cut for each unknown name and a negation mismatch."""
    said = facts(claim)
    lemmas = said.lemmas
    total = sum(lemmas.values())
    if not total:
        return 1.0
    whole = sum(w for lem, w in lemmas.items() if lem in context.lemmas) / total
    best, best_i = 0.0, -1
    for i, sentence in enumerate(context.sentence_lemmas):
        share = sum(w for lem, w in lemmas.items() if lem in sentence) / total
        if share > best:
            best, best_i = share, i
    support = 0.5 * best + 0.5 * whole
    stated = {n for n in said.numbers if n not in _AMBIGUOUS_NUMBERS}
    if stated - context.numbers:
        support = min(support, 0.15)
    elif stated:
        # Every number the claim states is in the context: strong evidence a lexical
        # paraphrase would otherwise hide (a changed number is caught just above).
        support = max(support, NUMBERS_AGREE + (1 - NUMBERS_AGREE) * support)
    rare = [w for w, lem in said.words if lem not in context.lemmas and
            said.lemmas[lem] >= RARE_WEIGHT]  # fmt: skip
    support *= RARE_PENALTY ** len(rare)
    missing = [e for e in said.entities if e not in context.words and lemma(e) not in
               context.lemmas]  # fmt: skip
    if missing:
        support *= 0.45 ** len(missing)
    if best_i >= 0 and said.negated != context.sentence_negated[best_i]:
        support *= 0.35
    return support


def groundedness(answer: str, documents: tuple[str, ...]) -> float | None:
    """The share of the answer's claims that the documents support; ``None`` without claims
    or documents."""
    text = "\n".join(documents)[:MAX_CONTEXT_CHARS]
    if not text.strip():
        return None
    claims = claims_of(answer)
    if not claims:
        return None
    context = passage(text)
    supported = sum(min(1.0, claim_support(c, context) / SUPPORT_THRESHOLD) for c in claims)
    return round(supported / len(claims), 4)


@dataclass(frozen=True)
class Groundedness:
    """The share of the answer's claims (sentences that state something) supported by the
    documents retrieved in the same trace; not applicable without retrieved documents."""

    name: str = "groundedness"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        if not span.output_text or not span.context:
            return None
        return groundedness(span.output_text, span.context)


_YES_NO_START = word_set("is are can does do will should could was did has have am were would "
                         "may shall")  # fmt: skip
_YES_NO_ANSWER = re.compile(r"^\W*(?:yes|no|yeah|nope|correct|not|sure|absolutely|indeed)\b",
                            re.IGNORECASE)  # fmt: skip
_QUANTITY = re.compile(r"\b(?:how (?:many|much|long|often|old|far|big|fast)|when|what year"
                       r"|what time|what date)\b", re.IGNORECASE)  # fmt: skip


def relevance(question: str, answer: str) -> float | None:
    """How much of what the question is about the answer addresses, in [0, 1]."""
    asked = content_lemmas(question[:MAX_QUESTION_CHARS])
    said = content_lemmas(answer[:MAX_ANSWER_CHARS])
    if not asked or not said:
        return None
    coverage = len(asked & said) / len(asked)
    first = question.strip().split(maxsplit=1)
    yes_no = bool(first) and first[0].lower() in _YES_NO_START and _YES_NO_ANSWER.match(answer)
    quantity = coverage > 0 and _QUANTITY.search(question) and numbers(answer)
    bonus = 0.4 if yes_no or quantity else 0.0
    return round(min(1.0, coverage + bonus), 4)


@dataclass(frozen=True)
class AnswerRelevance:
    """How much of what the question asks about the answer addresses: the share of the
    question's content lemmas the answer uses, plus credit for the expected kind of answer
    (yes/no to a yes/no question, a number to "how many/long/when"). Capped at 1."""

    name: str = "answer_relevance"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        if not span.asked or not span.output_text:
            return None
        return relevance(span.asked, span.output_text)
