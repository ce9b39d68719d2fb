"""OTLP spans → validated, bounded raw spans; invalid spans are rejected one by one.

The full attribute map is kept for normalisation (the body cap bounds it); only what is
*stored* raw is capped at 128 attributes / events / links, and whatever is dropped is counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.limits import MAX_ATTRIBUTES, MAX_EVENTS, MAX_LINKS, MAX_NAME_CHARS
from collector.values import clean_text, from_any_value
from core.timeutil import from_unix_nanos, to_unix_nanos

MIN_TIME_NS = to_unix_nanos(datetime(1971, 1, 1, tzinfo=UTC))
MAX_TIME_NS = to_unix_nanos(datetime(2200, 1, 1, tzinfo=UTC))
STATUS_NAMES = {0: "unset", 1: "ok", 2: "error"}
PENDING_SPAN = "pending_span"


@dataclass(slots=True)
class RawSpan:
    """One valid OTLP span with its attributes as Python values."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    otel_kind: int
    start_ns: int
    end_ns: int
    status: str
    status_message: str | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: dict[str, str]
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def stored_attributes(self) -> dict[str, Any]:
        """The first 128 attributes, in the order they were sent."""
        return dict(list(self.attributes.items())[:MAX_ATTRIBUTES])


@dataclass(slots=True)
class Batch:
    """A request's spans: the valid ones, rejections by reason, intentional skips by reason."""

    spans: list[RawSpan] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """Key/value pairs as a dict (a repeated key keeps its last value, as OTel SDKs do)."""
    return {clean_text(kv.key, MAX_NAME_CHARS): from_any_value(kv.value) for kv in pairs}


def read_batch(request: ExportTraceServiceRequest) -> Batch:
    """Validate and convert every span of ``request``."""
    batch = Batch()
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = {
                "name": clean_text(scope_spans.scope.name, MAX_NAME_CHARS),
                "version": clean_text(scope_spans.scope.version, MAX_NAME_CHARS),
            }
            for span in scope_spans.spans:
                reason = rejection_reason(span)
                if reason:
                    batch.rejected[reason] += 1
                    continue
                raw = _convert(span, resource, scope)
                if raw.attributes.get("logfire.span_type") == PENDING_SPAN:
                    batch.skipped["logfire pending span"] += 1
                    continue
                batch.spans.append(raw)
    return batch


def rejection_reason(span: Span) -> str | None:
    """Why ``span`` cannot be stored, or None when it is valid."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "invalid trace id (must be 16 bytes, not all zero)"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "invalid span id (must be 8 bytes, not all zero)"
    if len(span.parent_span_id) not in (0, 8):
        return "invalid parent span id (must be empty or 8 bytes)"
    if not MIN_TIME_NS <= span.start_time_unix_nano <= MAX_TIME_NS:
        return "start time out of range (1971 to 2200)"
    if span.end_time_unix_nano > MAX_TIME_NS:
        return "end time out of range (1971 to 2200)"
    if span.end_time_unix_nano < span.start_time_unix_nano:
        return "end time before start time"
    return None


def _convert(span: Span, resource: dict[str, Any], scope: dict[str, str]) -> RawSpan:
    parent = span.parent_span_id.hex() if any(span.parent_span_id) else None
    events, links = list(_events(span)), list(_links(span))
    dropped = {
        "attributes": span.dropped_attributes_count,
        "events": span.dropped_events_count,
        "links": span.dropped_links_count,
        "collector_attributes": max(0, len(span.attributes) - MAX_ATTRIBUTES),
        "collector_events": max(0, len(span.events) - MAX_EVENTS),
        "collector_links": max(0, len(span.links) - MAX_LINKS),
    }
    return RawSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=parent,
        name=clean_text(span.name, MAX_NAME_CHARS),
        otel_kind=int(span.kind),
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        status=STATUS_NAMES.get(int(span.status.code), "unset"),
        status_message=clean_text(span.status.message) or None,
        attributes=attributes_of(span.attributes),
        resource=resource,
        scope=scope,
        events=events,
        links=links,
        dropped={key: count for key, count in dropped.items() if count},
    )


def _events(span: Span) -> Iterator[dict[str, Any]]:
    for event in span.events[:MAX_EVENTS]:
        yield {
            "name": clean_text(event.name, MAX_NAME_CHARS),
            "time": from_unix_nanos(_clamp_time(event.time_unix_nano)).isoformat(),
            "attributes": dict(list(attributes_of(event.attributes).items())[:MAX_ATTRIBUTES]),
        }


def _links(span: Span) -> Iterator[dict[str, Any]]:
    for link in span.links[:MAX_LINKS]:
        yield {
            "trace_id": link.trace_id.hex(),
            "span_id": link.span_id.hex(),
            "attributes": dict(list(attributes_of(link.attributes).items())[:MAX_ATTRIBUTES]),
        }


def _clamp_time(nanos: int) -> int:
    """Event times are informative: clamp them into the storable range instead of rejecting."""
    return min(max(nanos, MIN_TIME_NS), MAX_TIME_NS)
