"""The SDK's direct OTLP encoder produces what OpenTelemetry's own encoder produces, redacted."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState
from tokentrail._otlp import encode_request
from tokentrail._redact import CONTENT_DROPPED, redact_span

RESOURCE = Resource.create({"service.name": "shop", "deployment.environment": "prod"})
OTHER_RESOURCE = Resource({"service.name": "billing"}, schema_url="https://example.com/s")
SCOPE = InstrumentationScope("tokentrail", "0.1.0")
OTHER_SCOPE = InstrumentationScope("openinference", None, "https://x/schema", {"a": 1})


def _context(
    trace_id: int, span_id: int, *, remote: bool = False, state: Any = None
) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=remote, trace_state=state)


def _spans() -> list[ReadableSpan]:
    root = _context(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331)
    return [
        ReadableSpan(
            name="chat gpt-4o",
            context=root,
            parent=_context(root.trace_id, 0x00F067AA0BA902B7, remote=True),
            resource=RESOURCE,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 1234,
                "negative": -7,
                "big": 2**62,
                "temperature": 0.25,
                "stream": True,
                "gen_ai.response.finish_reasons": ("stop", "length"),
                "ints": (1, 2, 3),
                "floats": (0.5, 1.5),
                "flags": (True, False),
                "input.value": '{"key": "sk-abcdefghijklmnopqrstuvwx", "mail": "ann@example.com"}',
                "api_key": "plain-secret-value",
                "unicode": "名前 — اسم \u2603",
            },
            events=[
                Event("exception", {"exception.message": "Bearer abcdefghijklmnop"}, 17),
                Event("note", None, 18),
            ],
            links=[Link(_context(5, 6, remote=True), {"why": "retry"})],
            kind=SpanKind.CLIENT,
            status=Status(StatusCode.ERROR, "failed for bob@example.org"),
            start_time=1_700_000_000_000_000_000,
            end_time=1_700_000_000_500_000_000,
            instrumentation_scope=SCOPE,
        ),
        ReadableSpan(
            name="retrieve",
            context=_context(root.trace_id, 0x1111, state=TraceState([("vendor", "v1")])),
            parent=root,
            resource=RESOURCE,
            attributes={},
            kind=SpanKind.INTERNAL,
            status=Status(StatusCode.OK),
            start_time=1,
            end_time=2,
            instrumentation_scope=OTHER_SCOPE,
        ),
        ReadableSpan(
            name="",
            context=_context(7, 8),
            resource=OTHER_RESOURCE,
            attributes={"empty": "", "tuple": ()},
            kind=SpanKind.SERVER,
            start_time=3,
            end_time=4,
            instrumentation_scope=None,
        ),
    ]


def _decode(payload: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(payload)


def test_the_direct_encoding_equals_opentelemetrys_encoding_of_the_redacted_spans() -> None:
    spans = _spans()
    ours, failures = encode_request(spans)
    reference = encode_spans([redact_span(span, None)[0] for span in spans])
    assert failures == 0
    assert _decode(ours) == reference
    text = str(_decode(ours))
    assert "sk-abcdefghijklmnop" not in text
    assert "ann@example.com" not in text
    assert "plain-secret-value" not in text
    assert "abcdefghijklmnop" not in text.split("exception.message")[1][:80]


def test_a_failing_mask_drops_the_content_of_that_span_only_and_is_counted() -> None:
    def mask(text: str) -> str:
        if "capital" in text:
            raise RuntimeError("no")
        return text.upper()

    spans = _spans()
    spans[1]._attributes = {"input.value": "the capital of France"}  # type: ignore[attr-defined]
    spans[2]._attributes = {"output.value": "paris"}  # type: ignore[attr-defined]
    payload, failures = encode_request(spans, mask)
    assert failures == 1
    decoded = _decode(payload)
    by_name = {
        span.name: {kv.key: kv.value for kv in span.attributes}
        for resource in decoded.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert "input.value" not in by_name["retrieve"]
    assert by_name["retrieve"][CONTENT_DROPPED].string_value == "mask_error"
    assert by_name[""]["output.value"].string_value == "PARIS"


@pytest.mark.parametrize("value", [object(), {1, 2}])
def test_an_attribute_of_an_unencodable_type_is_skipped_not_fatal(value: object) -> None:
    span = _spans()[2]
    span._attributes = {"bad": value, "good": "yes"}  # type: ignore[attr-defined]
    payload, _ = encode_request([span])
    (encoded,) = _decode(payload).resource_spans[0].scope_spans[0].spans
    assert [kv.key for kv in encoded.attributes] == ["good"]
