"""Heuristic scorers of an answer's form: complete, not a refusal, valid JSON, no secrets or
personal data, no degenerate repetition, in the language of the question."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from workers.scorers.base import LLM_KINDS, SpanView
from workers.scorers.language import detect_language


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


#: Every refusal the pattern finds contains one of these (a cheap test before the regex).
_REFUSAL_CUES = ("sorry", "unable", "not able", "can't", "cannot", "as an ai", "decline",
                 "won't")  # fmt: skip


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
        head = span.output_text[:300]
        lowered = head.lower().replace("’", "'")
        if not any(cue in lowered for cue in _REFUSAL_CUES):
            return 1.0
        return 0.0 if _REFUSAL.search(head.replace("’", "'")) else 1.0


def _parse(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator | None:
    """A compiled validator per distinct schema; ``None`` for a schema that is itself invalid
    (then only the JSON syntax is judged)."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError:
        return None
    return cls(schema)


def _conforms(value: Any, schema: Mapping[str, Any] | None) -> bool:
    if not isinstance(schema, Mapping) or not schema:
        return True
    validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    return validator is None or validator.is_valid(value)


@dataclass(frozen=True)
class ValidJson:
    """Where JSON was asked for: 1 when the output parses as JSON (and matches the response
    format's schema), and every tool call's arguments are a JSON object matching that tool's
    parameter schema; else 0. Not applicable when neither JSON output nor tools were used."""

    name: str = "valid_json"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        checks: list[bool] = []
        if span.response_format == "json" and span.output_text is not None:
            ok, value = _parse(span.output_text)
            checks.append(ok and _conforms(value, span.json_schema))
        for call in span.tool_calls:
            args = call.arguments
            if isinstance(args, str):
                ok, args = _parse(args) if args.strip() else (True, {})
                if not ok:
                    checks.append(False)
                    continue
            schema = span.tool_schemas.get(call.name or "")
            checks.append(isinstance(args, dict) and _conforms(args, schema))
        if not checks:
            return None
        return 1.0 if all(checks) else 0.0


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_SECRETS = re.compile(
    r"\bsk-(?:ant-)?[A-Za-z0-9_\-]{16,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}|\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\."
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----|\bAIza[0-9A-Za-z_\-]{35}"
    r"|\[REDACTED(?::[a-z_]+)?\]"
)
_PERSONAL = re.compile(
    r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"
    r"|\b\d{3}-\d{2}-\d{4}\b"  # US social security number
    r"|\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"  # IBAN
    r"|(?<![\w+])\+\d{1,3}[ .\-]?\(?\d{1,4}\)?(?:[ .\-]?\d{2,4}){2,4}\b"  # international phone
    r"|\(\d{3}\) ?\d{3}-\d{4}\b"  # US phone
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ \-]?){12,18}\d(?![\d-])")
#: Literal anchors of every secret pattern: text without any of them skips the regex.
_SECRET_ANCHORS = ("sk-", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "eyJ",
                   "-----BEGIN", "AIza", "[REDACTED")  # fmt: skip
#: Phone numbers, cards, IBANs and SSNs all hold a run like this; e-mails hold an "@".
_DIGIT_RUN = re.compile(r"\d[\d \-().]{5,}\d")


@dataclass(frozen=True)
class NoSecrets:
    """0 when the output contains a secret (API keys, tokens, private keys, or a
    ``[REDACTED…]`` marker the collector left where one was) or personal data (e-mail
    addresses, phone numbers, payment cards passing the Luhn check, IBANs, US SSNs); else 1."""

    name: str = "no_secrets_or_pii"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        text = span.output_text
        if not text:
            return None
        if any(a in text for a in _SECRET_ANCHORS) and _SECRETS.search(text):
            return 0.0
        digits = _DIGIT_RUN.search(text) is not None
        if ("@" in text or digits) and _PERSONAL.search(text):
            return 0.0
        for match in _CARD.finditer(text) if digits else ():
            if _luhn(re.sub(r"\D", "", match.group())):
                return 0.0
        return 1.0


def _most_repeated(lines: list[str]) -> int:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return max(counts.values())


@dataclass(frozen=True)
class NoRepetition:
    """1 minus how degenerate the output is: the share of repeated word 4-grams past a
    normal level (25 %), a line or sentence repeated three times or more, or one character
    repeated 25 times. Outputs under 12 words are not judged."""

    name: str = "no_repetition"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        text = span.output_text
        if not text:
            return None
        tokens = text.lower().split()
        if len(tokens) < 12:
            return None
        grams = list(zip(tokens, tokens[1:], tokens[2:], tokens[3:], strict=False))
        repeated = 1.0 - len(set(grams)) / len(grams)
        value = 1.0 - min(1.0, max(0.0, repeated - 0.25) / 0.5)
        flat = text.lower().replace("!", ".").replace("?", ".").replace("\n", ".")
        lines = [s.strip() for s in flat.split(".") if len(s.strip()) > 8]
        if len(lines) - len(set(lines)) >= 2 and _most_repeated(lines) >= 3:
            value = min(value, 0.2)
        if any(len(t) >= 25 and len(set(t)) == 1 and t[0] not in "-=_*#.~" for t in tokens):
            value = min(value, 0.2)
        return round(value, 4)


@dataclass(frozen=True)
class SameLanguage:
    """1 when the answer is in the language of the question, 0 when it is in another one;
    not judged when either language cannot be told (too short, mixed, code)."""

    name: str = "same_language"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        asked, answered = span.asked, span.output_text
        if not asked or not answered:
            return None
        q, a = detect_language(asked), detect_language(answered)
        if q is None or a is None:
            return None
        return 1.0 if q == a else 0.0
