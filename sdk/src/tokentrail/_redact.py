"""Redaction of secrets and personal data, applied to every span before it leaves the process.

It runs on the export thread, not in the decorated call, so it costs the host nothing on its hot
path, and it applies to every span the processor exports (also spans of other instrumentations
sharing the TracerProvider).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

from tokentrail._serialize import REDACTED, is_secret_key

logger = logging.getLogger("tokentrail")

# (substrings one of which every match contains, pattern, replacement): the substring tests run
# in C and spare the regex engine almost every string, which contains no secret at all.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (("sk-ant-",), re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}"), "[REDACTED:anthropic_key]"),
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), "[REDACTED:api_key]"),
    (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED:aws_key]"),
    (("gh",), re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "[REDACTED:github_token]"),
    (("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), "[REDACTED:slack_token]"),
    (
        ("eyJ",),
        re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}"),
        "[REDACTED:jwt]",
    ),
    (
        ("@",),
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
        "[REDACTED:email]",
    ),
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")
_NON_DIGITS = str.maketrans("", "", "0123456789")
_CARD = re.compile(r"(?<![\d-])(?:\d[ \-]?){12,18}\d(?![\d-])")

# Attributes that carry prompts, completions, arguments or return values.
CONTENT_KEYS = frozenset(
    {
        "input.value",
        "output.value",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.retrieval.documents",
        "gen_ai.retrieval.query.text",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.tool.definitions",
    }
)
CONTENT_DROPPED = "tokentrail.content.dropped"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return "[REDACTED:card]"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with provider keys, JWTs, bearer tokens, card numbers and emails masked."""
    if len(text) < 6:  # shorter than the shortest email, x@y.io
        return text
    for triggers, pattern, replacement in _PATTERNS:
        for trigger in triggers:
            if trigger in text:
                text = pattern.sub(replacement, text)
                break
    if "bearer" in text.lower():  # any case, as the pattern
        text = _BEARER.sub(r"\1 [REDACTED]", text)
    if len(text) - len(text.translate(_NON_DIGITS)) >= 13:  # a card number has 13 to 19 digits
        text = _CARD.sub(_card, text)
    return text


# Identities the app sets on purpose (an email as user id is common): masking them would merge
# every user into one; key-based masking still applies.
_IDENTITY_KEYS = frozenset({"user.id", "session.id", "gen_ai.conversation.id"})


@functools.lru_cache(maxsize=4096)
def _key_rule(key: str) -> int:
    """0: redact the text; 1: the key names a secret, hide the value; 2: an identity, keep it."""
    if is_secret_key(key.rsplit(".", 1)[-1]):
        return 1
    return 2 if key in _IDENTITY_KEYS else 0


def redact_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        rule = _key_rule(key)
        if rule == 1:
            return REDACTED
        return value if rule == 2 else redact_text(value)
    if isinstance(value, tuple | list) and value and isinstance(value[0], str):
        return tuple(redact_text(v) if isinstance(v, str) else v for v in value)
    return value


def _redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: redact_value(key, value) for key, value in (attributes or {}).items()}


class MaskFailedError(Exception):
    """The user's mask callable raised or returned something other than a string."""


def safe_attributes(
    attributes: Mapping[str, Any] | None, mask: Callable[[str], str] | None
) -> tuple[dict[str, Any], bool]:
    """The attributes with secrets masked, and whether the user's mask failed.

    When ``mask`` raises (or returns a non-string), every content attribute is dropped: failing
    closed is the only safe answer, because the mask exists to hide something we cannot see.
    """
    safe = _redact_attributes(attributes)
    if mask is None:
        return safe, False
    try:
        for key in CONTENT_KEYS.intersection(safe):
            value = safe[key]
            if isinstance(value, str):
                try:
                    masked = mask(value)
                except Exception as exc:
                    raise MaskFailedError(type(exc).__name__) from exc
                if not isinstance(masked, str):
                    raise MaskFailedError("mask returned a non-string")
                safe[key] = masked
    except MaskFailedError:
        for key in CONTENT_KEYS.intersection(safe):
            del safe[key]
        safe[CONTENT_DROPPED] = "mask_error"
        return safe, True
    return safe, False


def redact_span(span: ReadableSpan, mask: Callable[[str], str] | None) -> tuple[ReadableSpan, bool]:
    """A copy of ``span`` safe to export, and whether the user's mask failed (content dropped).

    The exporter encodes spans directly (``_otlp.py``) with the same rules; this copy serves
    code that needs a ``ReadableSpan``.
    """
    attributes, mask_failed = safe_attributes(span.attributes, mask)
    events = [
        Event(event.name, _redact_attributes(event.attributes), event.timestamp)
        for event in span.events
    ]
    copy = ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code, redact_text(span.status.description))
        if span.status.description
        else span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
    return copy, mask_failed
