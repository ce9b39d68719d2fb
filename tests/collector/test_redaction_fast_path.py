"""The collector's redaction pre-filters are only a shortcut: they never change what is masked."""

from __future__ import annotations

import random
import re
import sys

from tokentrail import _redact as sdk_redact

from collector import redaction
from collector.redaction import CARD, RULES, Redactor, redact_text

#: Secrets, near misses and characters that stress the pre-filters (case folding, scripts
#: whose digits ``\d`` matches, word boundaries, separators).
FRAGMENTS = (
    "sk-proj-abcdefghijklmnop1234", "sk-ant-api03-abcdefgh1234", "sk-short",
    "xsk-abcdefghijklmnopqr",
    "AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE", "AKIAshort", "akiaiosfodnn7example",
    "ghp_abcdefghijklmnopqrstuvwx", "gho_abcdefghijklmnopqrstuvwx", "gh_abc",
    "ghx_abcdefghijklmnopqrstuvwx",
    "xoxb-1234567890-abcdef", "xoxz-1234567890-abcdef", "xox",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJabc.eyJ", "eyJhbGciOi.notjwt.x",
    "Bearer abc.def-123456", "bearer tok_12345678", "BeArEr   zzzzzzzzzz", "BEARER\tabcdefghij",
    "Bearer short", "bearerless", "İ", "ſ", "K", "ß",
    "jane.doe@example.co.uk", "a@b", "x@y.io", "user@localhost", "@example.com", "a@b.c",
    "4111 1111 1111 1111", "5500-0000-0000-0004", "4111111111111111", "4111 1111 1111 1112",
    "0800 123 4567", "1234567890123", "12345678901234567890", "--4111111111111111--",
    "٤١١١١١١١١١١١١١١١", "４１１１１１１１１１１１１１１１", "1", "12 34 56 78 90 12 34",
    "\\u0040", "\n", " ", "-", "_", ".", '"', "{", "}", "the", "customer asked about a refund",
)  # fmt: skip


def full_redaction(text: str) -> str:
    """The reference: every pattern applied to every string, in order, with no pre-filter."""
    for rule in RULES:
        text = rule.pattern.sub(rule.replacement, text)
    return CARD.sub(redaction._card, text)


def tricky_corpus(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    corpus = list(FRAGMENTS)
    for _ in range(size):
        pieces = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 6))]
        glue = rng.choice(("", " ", "\n", "-", ":", "=", '"'))
        text = glue.join(pieces)
        if rng.random() < 0.3:  # cut anywhere, also inside a secret
            text = text[rng.randrange(len(text) + 1) :]
        corpus.append(text)
    return corpus


def test_fast_path_agrees_with_every_pattern_on_tricky_strings() -> None:
    mismatches = [t for t in tricky_corpus(20_000, seed=7) if redact_text(t) != full_redaction(t)]
    assert mismatches == []


def test_the_corpus_exercises_every_rule() -> None:
    """Guards the agreement test: a corpus that never triggers a rule would prove nothing."""
    corpus = tricky_corpus(20_000, seed=7)
    for rule in (*RULES, CARD):
        pattern = rule if isinstance(rule, re.Pattern) else rule.pattern
        assert any(pattern.search(text) for text in corpus), pattern.pattern


def test_only_the_letters_themselves_match_bearer_case_insensitively() -> None:
    """Why ``"bearer" in text.lower()`` may gate the case-insensitive bearer pattern."""
    letters = re.compile(r"(?i)[bear]")
    others = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if letters.fullmatch(chr(code)) and chr(code).lower() not in "bear"
    ]
    assert others == []


def test_a_string_repeated_in_a_request_is_masked_everywhere() -> None:
    prompt = "please mail jane.doe@example.co.uk about the refund " * 3
    redactor = Redactor()
    assert redactor.value([prompt, {"content": prompt}]) == [
        full_redaction(prompt),
        {"content": full_redaction(prompt)},
    ]


def test_the_collector_and_the_sdk_mask_with_the_same_patterns() -> None:
    sdk_patterns = {pattern.pattern for _, pattern, _ in sdk_redact._PATTERNS}
    sdk_patterns |= {sdk_redact._BEARER.pattern, sdk_redact._CARD.pattern}
    assert {rule.pattern.pattern for rule in RULES} | {CARD.pattern} == sdk_patterns
