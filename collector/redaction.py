"""Server-side redaction of secrets and personal data in span content, before it is stored.

The SDK redacts before export, but most spans come from other instrumentations, so the
collector applies the same patterns (provider keys, JWTs, bearer tokens, Luhn-valid card
numbers, emails) to what a span *says*: its input and output (messages and text), the raw
attribute values that carry content, content events, and the error message. Identifiers
(trace, user and session ids, names, models) are left alone: masking an email used as a user
id would merge every user into one.

The policy is per project: ``TOKENTRAIL_REDACTION`` (default on) with per-project overrides in
``TOKENTRAIL_REDACTION_BY_PROJECT`` (e.g. ``'{"3": false}'``), so no schema change is needed.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from core.ingest import SpanRecord
from core.settings import Settings


class _Rule(NamedTuple):
    """A pattern, its mask, and what every match contains: one of ``literals`` and, when set,
    the ``anchor`` character.

    The literal tests (``str.__contains__``, in C) spare the regex engine almost every string:
    most content holds no secret at all. For ASCII text one pass first keeps only the anchor
    characters, so a rule whose anchor is absent costs no scan of the text at all. ``folded``
    rules test the lower-cased text, for a case-insensitive pattern.
    """

    pattern: re.Pattern[str]
    replacement: str
    literals: tuple[str, ...]
    anchor: bytes = b""
    folded: bool = False


#: Applied in this order (the order is part of the result: a bearer token is masked before the
#: email pattern sees it).
RULES: tuple[_Rule, ...] = (
    _Rule(
        re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}"), "[REDACTED:anthropic_key]", ("sk-ant-",), b"-"
    ),
    _Rule(re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), "[REDACTED:api_key]", ("sk-",), b"-"),
    _Rule(re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED:aws_key]", ("AKIA", "ASIA")),
    _Rule(
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
        "[REDACTED:github_token]",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        b"_",
    ),
    _Rule(
        re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), "[REDACTED:slack_token]", ("xox",), b"-"
    ),
    _Rule(
        re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}"),
        "[REDACTED:jwt]",
        ("eyJ",),
        b"J",
    ),
    # No other character matches b, e, a or r case-insensitively (checked over all of Unicode
    # in the tests), so ``"bearer" in text.lower()`` is a sound pre-filter.
    _Rule(
        re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"),
        r"\1 [REDACTED]",
        ("bearer",),
        folded=True,
    ),
    _Rule(
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
        "[REDACTED:email]",
        ("@",),
        b"@",
    ),
)
#: 13 to 19 digits, optionally grouped by spaces or dashes; the Luhn check decides.
CARD = re.compile(r"(?<![\d-])(?:\d[ \-]?){12,18}\d(?![\d-])")
_NON_DIGIT = re.compile(r"\D")
#: The shortest text any rule can match: an email such as ``x@y.io``.
_MIN_MATCH = 6
#: ``CARD`` needs 13 digits; in ASCII text they are counted cheaply (``\d`` also matches other
#: scripts' digits, so non-ASCII text always goes to the regex).
_MIN_CARD_DIGITS = 13
_ASCII_DIGITS = b"0123456789"
_ANCHORS = b"-_J@"
#: Every byte but the anchors and the digits, deleted in one ``bytes.translate`` pass.
_NOT_ANCHORS = bytes(set(range(256)) - set(_ANCHORS + _ASCII_DIGITS))
#: Shorter strings (keys, roles) are cheaper to check again than to look up.
_MEMO_MIN_CHARS = 64
#: Attributes whose values are content (prompts, completions, arguments, results, documents).
CONTENT_KEYS = frozenset({
    "input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions", "gen_ai.retrieval.documents", "gen_ai.retrieval.query.text",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.tool.definitions",
    "gen_ai.prompt", "gen_ai.completion", "langfuse.observation.input",
    "langfuse.observation.output", "langfuse.trace.input", "langfuse.trace.output",
    "traceloop.entity.input", "traceloop.entity.output", "pydantic_ai.all_messages",
    "request_data", "response_data", "events", "final_result", "tool_arguments",
    "tool_response", "input", "output", "gen_ai.retrieval.query", "reranker.query",
})  # fmt: skip
CONTENT_PREFIXES = (
    "llm.input_messages.", "llm.output_messages.", "llm.prompts.", "llm.completions.",
    "llm.choices.", "gen_ai.prompt.", "gen_ai.completion.", "retrieval.documents.",
    "reranker.input_documents.", "reranker.output_documents.", "embedding.embeddings.",
    "tokentrail.input", "tokentrail.output",
)  # fmt: skip


class RedactionPolicy:
    """Whether a project's content is redacted: the server default, or the project's override."""

    def __init__(self, default: bool, by_project: dict[int, bool] | None = None) -> None:
        self.default = default
        self.by_project = dict(by_project or {})

    @classmethod
    def from_settings(cls, settings: Settings) -> RedactionPolicy:
        return cls(settings.redaction, settings.redaction_by_project)

    def enabled(self, project_id: int) -> bool:
        return self.by_project.get(project_id, self.default)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if position % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = _NON_DIGIT.sub("", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return "[REDACTED:card]"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with provider keys, JWTs, bearer tokens, card numbers and emails masked."""
    if len(text) < _MIN_MATCH:
        return text
    anchors, folded = _anchors(text), None
    for rule in RULES:
        if anchors is not None and rule.anchor not in anchors:
            continue
        if rule.folded:
            folded = haystack = text.lower() if folded is None else folded
        else:
            haystack = text
        for literal in rule.literals:
            if literal in haystack:
                text = rule.pattern.sub(rule.replacement, text)
                anchors, folded = _anchors(text), None
                break
    if anchors is None or len(anchors.translate(None, _ANCHORS)) >= _MIN_CARD_DIGITS:
        text = CARD.sub(_card, text)
    return text


def _anchors(text: str) -> bytes | None:
    """The anchor characters and digits of ASCII ``text``; None (check everything) otherwise."""
    if not text.isascii():
        return None
    return text.encode("ascii").translate(None, _NOT_ANCHORS)


class Redactor:
    """Redacts the strings of one request, each distinct long string once.

    A span carries its prompt several times (as parsed message parts, as search text, in the
    raw attributes of other conventions) and a batch often repeats a system prompt; the memo
    holds only strings the request already holds, so the body cap bounds it too.
    """

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[str, str] = {}

    def text(self, text: str) -> str:
        if len(text) < _MEMO_MIN_CHARS:
            return redact_text(text)
        done = self._memo.get(text)
        if done is None:
            done = self._memo[text] = redact_text(text)
        return done

    def value(self, value: Any) -> Any:
        """Every string inside a JSON value redacted (keys too: a dict key can hold content).

        Values reaching here are already bounded in depth (``collector.values``), so plain
        recursion is safe.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        return value

    def record(self, record: SpanRecord) -> None:
        """Redact a normalised span's content in place, before it is stored."""
        record.input, record.output = self.value(record.input), self.value(record.output)
        record.documents = self.value(record.documents)
        if record.input_text:
            record.input_text = self.text(record.input_text)
        if record.output_text:
            record.output_text = self.text(record.output_text)
        if record.error_message:
            record.error_message = self.text(record.error_message)
        record.attributes = {
            k: self.value(v) if is_content_key(k) else v for k, v in record.attributes.items()
        }
        record.events = [self._event(event) for event in record.events]

    def _event(self, event: Any) -> Any:
        """Events carry content in the GenAI conventions (prompt/completion, role messages) and
        in exception messages; their attribute values are redacted whatever the key."""
        if not isinstance(event, dict) or not isinstance(event.get("attributes"), dict):
            return event
        return {**event, "attributes": self.value(event["attributes"])}


def redact_value(value: Any) -> Any:
    """Every string inside a JSON value redacted (keys too: a dict key can hold content)."""
    return Redactor().value(value)


def is_content_key(key: str) -> bool:
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


def redact_records(records: list[SpanRecord]) -> None:
    """Redact a request's normalised spans in place, before they are stored."""
    redactor = Redactor()
    for record in records:
        redactor.record(record)
