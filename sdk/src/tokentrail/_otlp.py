"""OTLP protobuf encoding of finished spans, written straight to bytes, redacting as it goes.

OpenTelemetry's encoder builds a tree of protobuf message objects per span and then serialises
it; on the export thread that cost about 130 µs per LLM span on our benchmark machine, and the
redaction pass before it copied every span once more. Here each span is encoded in one pass over
its attributes, with secrets masked value by value, into the same wire format (the tests decode
both encoders' output and compare them field by field).

Wire format reference: opentelemetry-proto ``trace/v1/trace.proto`` and ``common/v1/common.proto``.
"""

from __future__ import annotations

import contextlib
import struct
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status

from tokentrail._errors import report_internal_error
from tokentrail._redact import (
    CONTENT_DROPPED,
    CONTENT_KEYS,
    redact_text,
    redact_value,
    safe_attributes,
)

Mask = Callable[[str], str]
Deferred = tuple[Callable[[], Mapping[str, Any]], int]

#: Attributes a span will carry that are built on the export thread rather than in the host's
#: call (an LLM response's ``gen_ai.*`` attributes, see ``_live.py``), with their estimated size
#: for the queue's byte bound. A live span registers them by span id just before it ends; the
#: processor's ``on_end`` claims them for the ended span's snapshot, held by weak reference, so a
#: span dropped or exported takes its entry with it.
_PENDING: dict[int, Deferred] = {}
_MAX_PENDING = 10_000
_DEFERRED: weakref.WeakKeyDictionary[ReadableSpan, Deferred] = weakref.WeakKeyDictionary()


def defer_attributes(span_id: int, build: Callable[[], Mapping[str, Any]], size: int) -> bool:
    """Have ``build()`` supply attributes of the span ``span_id`` when it is encoded.

    The span's own attributes win over built ones with the same key, as attributes set later
    would. Call it just before the (recording) span ends; False means "set them yourself".
    """
    if len(_PENDING) >= _MAX_PENDING:
        return False
    _PENDING[span_id] = (build, size)
    return True


def claim_deferred(span: ReadableSpan) -> int:
    """Attach the attributes registered for this ended span to it; their estimated size."""
    context = span.context
    entry = None if context is None else _PENDING.pop(context.span_id, None)
    if entry is None:
        return 0
    _DEFERRED[span] = entry
    return entry[1]


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple | list):
        return sum(len(v) if isinstance(v, str) else 8 for v in value)
    return 8


def _estimate_bytes(span: ReadableSpan) -> int:
    """A cheap upper-ish estimate of a span's memory/wire size, used for the byte bound."""
    attributes = span.attributes or {}
    # Keys are short: a flat allowance each is close enough, and cheaper than measuring them.
    size = _SPAN_OVERHEAD_BYTES + len(span.name) + 48 * len(attributes)
    for value in attributes.values():
        size += len(value) if type(value) is str else _value_size(value)
    for event in span.events:
        size += 64 + len(event.name)
        for key, value in (event.attributes or {}).items():
            size += len(key) + _value_size(value)
    return size


def queued_size(span: ReadableSpan) -> int:
    """The ended span's estimated size for the queue's byte bound, attributes still to be built
    included; claims those (call it once per ended span, even one that is then dropped)."""
    return _estimate_bytes(span) + claim_deferred(span)


def _span_attributes(span: ReadableSpan) -> Mapping[str, Any] | None:
    entry = _DEFERRED.get(span)
    if entry is None:
        return span.attributes
    try:
        return {**entry[0](), **(span.attributes or {})}
    except Exception as exc:
        report_internal_error("export.deferred_attributes", exc)
        return span.attributes


_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_FIXED32 = struct.Struct("<I").pack
_SMALL = [bytes((n,)) for n in range(128)]
_U64 = (1 << 64) - 1

# Span flags (trace.proto SpanFlags): the parent's remoteness is known, and whether it is remote.
_SPAN_OVERHEAD_BYTES = 256
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


def _varint(n: int) -> bytes:
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    return tag + _varint(len(payload)) + payload


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message body (common.proto)."""
    if isinstance(value, str):
        return _field(b"\x0a", _utf8(value))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & _U64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if value is None:
        return b""
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_key_value(b"\x0a", str(k), v) for k, v in value.items()))
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(v)) for v in value))
    raise TypeError(f"cannot encode a {type(value).__name__} attribute")


_KEYS: dict[str, bytes] = {}
_MAX_CACHED_KEYS = 4096


def _encoded_key(key: str) -> bytes:
    """A ``KeyValue.key`` field; attribute keys repeat from span to span, so they are cached."""
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _field(b"\x0a", _utf8(key))
        if len(_KEYS) < _MAX_CACHED_KEYS:
            _KEYS[key] = encoded
    return encoded


def _key_value(tag: bytes, key: str, value: Any) -> bytes:
    if type(value) is str:  # the common case, inlined
        data = _utf8(value)
        any_value = b"\x0a" + _varint(len(data)) + data
    else:
        any_value = _any_value(value)
    return _field(tag, _encoded_key(key) + b"\x12" + _varint(len(any_value)) + any_value)


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        try:
            parts.append(_key_value(tag, key, value))
        except (TypeError, ValueError):
            continue  # OTel's encoder also skips (and logs) an attribute it cannot encode
    return b"".join(parts)


# Encoded, redacted ``KeyValue`` fields of span attributes, by (key, type, value): an LLM span's
# model, provider, operation, finish reasons and service values repeat from span to span, and
# a hit spares both the redaction and the encoding. Content attributes (which the user's mask
# sees) are never cached. Bounded by entries and bytes; emptied when full, so values that never
# repeat (response ids, token counts) cannot crowd out the ones that do for long.
_KV_CACHE: dict[tuple[str, type, Any], bytes] = {}
_KV_CACHE_LIMITS = (8192, 4 * 1024 * 1024)
_kv_cache_bytes = 0
_MAX_CACHED_TEXT = 256
_CACHED_SCALARS = frozenset({int, float, bool})


def _cache_key(key: str, value: Any) -> tuple[str, type, Any] | None:
    kind = type(value)
    if kind is str:
        return (key, kind, value) if len(value) <= _MAX_CACHED_TEXT else None
    if kind in _CACHED_SCALARS or (kind is tuple and len(value) <= 8):
        return (key, kind, value)
    return None


def _remember(cache_key: tuple[str, type, Any], encoded: bytes) -> None:
    global _kv_cache_bytes
    if len(_KV_CACHE) >= _KV_CACHE_LIMITS[0] or _kv_cache_bytes >= _KV_CACHE_LIMITS[1]:
        _KV_CACHE.clear()
        _kv_cache_bytes = 0
    _KV_CACHE[cache_key] = encoded
    _kv_cache_bytes += len(encoded) + len(cache_key[0])


def _span_attribute_fields(
    attributes: Mapping[str, Any] | None, mask: Mask | None
) -> tuple[bytes, bool]:
    """A span's attributes as ``KeyValue`` fields in order, redacted and masked as
    ``safe_attributes`` does; and whether the user's mask failed (content then dropped)."""
    if not attributes:
        return b"", False
    parts: list[bytes] = []
    content: list[tuple[int, str, Any]] = []
    for key, value in attributes.items():
        if key in CONTENT_KEYS:
            content.append((len(parts), key, value))
            parts.append(b"")
            continue
        try:
            cache_key = _cache_key(key, value)
            encoded = None if cache_key is None else _KV_CACHE.get(cache_key)
        except TypeError:  # an unhashable member of a tuple
            cache_key = encoded = None
        if encoded is None:
            try:
                encoded = _key_value(b"\x4a", key, redact_value(key, value))
            except (TypeError, ValueError):
                continue  # OTel's encoder also skips (and logs) an attribute it cannot encode
            if cache_key is not None:
                _remember(cache_key, encoded)
        parts.append(encoded)
    failed = bool(content) and _fill_content(parts, content, mask)
    return b"".join(parts), failed


def _fill_content(
    parts: list[bytes], content: list[tuple[int, str, Any]], mask: Mask | None
) -> bool:
    """Encode the content attributes into their places in ``parts``, masked; True when the
    mask failed (the content is then left out and the span says so)."""
    safe, failed = safe_attributes({key: value for _, key, value in content}, mask)
    for index, key, _ in content:
        if key in safe:
            with contextlib.suppress(TypeError, ValueError):
                parts[index] = _key_value(b"\x4a", key, safe[key])
    if failed:
        parts.append(_key_value(b"\x4a", CONTENT_DROPPED, safe[CONTENT_DROPPED]))
    return failed


def _flags(parent: SpanContext | None) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    return _FIXED32(flags)


def _trace_state(context: SpanContext) -> bytes:
    state = context.trace_state
    if not state:
        return b""
    return _field(b"\x1a", _utf8(",".join(f"{k}={v}" for k, v in state.items())))


def _event(event: Event) -> bytes:
    body = b"\x09" + _FIXED64(event.timestamp) if event.timestamp else b""
    body += _field(b"\x12", _utf8(event.name))
    body += _attributes(b"\x1a", safe_attributes(event.attributes, None)[0])
    if event.dropped_attributes:
        body += b"\x20" + _varint(event.dropped_attributes)
    return _field(b"\x5a", body)


def _link(link: Link) -> bytes:
    body = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
    body += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
    body += _attributes(b"\x22", link.attributes)
    if link.dropped_attributes:
        body += b"\x28" + _varint(link.dropped_attributes)
    return _field(b"\x6a", body + b"\x35" + _flags(link.context))


def _status(status: Status) -> bytes:
    body = _field(b"\x12", _utf8(redact_text(status.description))) if status.description else b""
    if status.status_code.value:
        body += b"\x18" + _varint(status.status_code.value)
    return body


def encode_span(span: ReadableSpan, mask: Mask | None = None) -> tuple[bytes, bool]:
    """One ``Span`` message body, redacted; and whether the user's mask failed on it."""
    context = span.get_span_context()
    assert context is not None
    attributes, failed = _span_attribute_fields(_span_attributes(span), mask)
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        _trace_state(context),
    ]
    if span.parent is not None:
        parts.append(b"\x22\x08" + span.parent.span_id.to_bytes(8, "big"))
    parts.append(_field(b"\x2a", _utf8(span.name)))
    parts.append(b"\x30" + _varint(span.kind.value + 1))
    if span.start_time:
        parts.append(b"\x39" + _FIXED64(span.start_time))
    if span.end_time:
        parts.append(b"\x41" + _FIXED64(span.end_time))
    parts.append(attributes)
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    parts.extend(_event(event) for event in span.events)
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    parts.extend(_link(link) for link in span.links)
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    parts.append(_field(b"\x7a", _status(span.status)))
    parts.append(b"\x85\x01" + _flags(span.parent))
    return b"".join(parts), failed


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    body = _field(b"\x0a", _utf8(scope.name)) if scope.name else b""
    if scope.version:
        body += _field(b"\x12", _utf8(scope.version))
    body += _attributes(b"\x1a", scope.attributes)
    return body


def encode_request(spans: Sequence[ReadableSpan], mask: Mask | None = None) -> tuple[bytes, int]:
    """An ``ExportTraceServiceRequest`` for ``spans``, redacted; and how many masks failed.

    Spans are grouped by resource, then by instrumentation scope, in first-seen order, as the
    OpenTelemetry exporter groups them.
    """
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    failures = 0
    for span in spans:
        encoded, failed = encode_span(span, mask)
        failures += failed
        resource = span.resource
        scopes = grouped.setdefault(id(resource), (resource, {}))[1]
        scope = span.instrumentation_scope
        entry = scopes.get(id(scope))
        if entry is None:
            entry = scopes[id(scope)] = (scope, [])
        entry[1].append(encoded)
    out = []
    for resource, scopes in grouped.values():
        body = _field(b"\x0a", _attributes(b"\x0a", resource.attributes))
        for scope, encoded_spans in scopes.values():
            scope_body = _field(b"\x0a", _scope(scope))
            scope_body += b"".join(_field(b"\x12", s) for s in encoded_spans)
            if scope is not None and scope.schema_url:
                scope_body += _field(b"\x1a", _utf8(scope.schema_url))
            body += _field(b"\x12", scope_body)
        if resource.schema_url:
            body += _field(b"\x1a", _utf8(resource.schema_url))
        out.append(_field(b"\x0a", body))
    return b"".join(out), failures
