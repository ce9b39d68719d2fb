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
from typing import Any

from core.ingest import SpanRecord
from core.settings import Settings

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}"), "[REDACTED:anthropic_key]"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), "[REDACTED:api_key]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED:aws_key]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "[REDACTED:github_token]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), "[REDACTED:slack_token]"),
    (
        re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}"),
        "[REDACTED:jwt]",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 [REDACTED]"),
    (
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
        "[REDACTED:email]",
    ),
)
#: 13 to 19 digits, optionally grouped by spaces or dashes; the Luhn check decides.
_CARD = re.compile(r"(?<![\d-])(?:\d[ \-]?){12,18}\d(?![\d-])")
_NON_DIGIT = re.compile(r"\D")
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
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _CARD.sub(_card, text)


def redact_value(value: Any) -> Any:
    """Every string inside a JSON value redacted (keys too: a dict key can hold content).

    Values reaching here are already bounded in depth (``collector.values``), so plain
    recursion is safe.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        return {redact_text(str(k)): redact_value(v) for k, v in value.items()}
    return value


def is_content_key(key: str) -> bool:
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


def redact_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Content attributes redacted; every other attribute kept as sent."""
    return {k: redact_value(v) if is_content_key(k) else v for k, v in attributes.items()}


def redact_record(record: SpanRecord) -> None:
    """Redact a normalised span's content in place, before it is stored."""
    record.input, record.output = redact_value(record.input), redact_value(record.output)
    record.documents = redact_value(record.documents)
    if record.input_text:
        record.input_text = redact_text(record.input_text)
    if record.output_text:
        record.output_text = redact_text(record.output_text)
    if record.error_message:
        record.error_message = redact_text(record.error_message)
    record.attributes = redact_attributes(record.attributes)
    record.events = [_redact_event(event) for event in record.events]


def _redact_event(event: Any) -> Any:
    """Events carry content in the GenAI conventions (prompt/completion, role messages) and in
    exception messages; their attribute values are redacted whatever the key."""
    if not isinstance(event, dict) or not isinstance(event.get("attributes"), dict):
        return event
    return {**event, "attributes": redact_value(event["attributes"])}
