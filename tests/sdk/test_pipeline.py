"""The processor encodes the next batch while the previous one is being sent, and stays exact."""

from __future__ import annotations

import threading
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext
from tokentrail import _otlp
from tokentrail._config import Config
from tokentrail._otlp import encode_request
from tokentrail._processor import BoundedSpanProcessor
from tokentrail._transport import Outcome

from tests.sdk.test_export import conserved


class GatedSender:
    """Records every request; the first send waits until the test opens the gate."""

    def __init__(self, config: Config) -> None:
        self.gate = threading.Event()
        self.sending = threading.Event()
        self.requests: list[list[str]] = []

    def send(self, payload: bytes) -> Outcome:
        self.sending.set()
        self.gate.wait(10.0)
        request = ExportTraceServiceRequest.FromString(payload)
        self.requests.append(
            [s.name for r in request.resource_spans for sc in r.scope_spans for s in sc.spans]
        )
        return Outcome.SENT

    def close(self) -> None:
        self.gate.set()


def _processor() -> tuple[BoundedSpanProcessor, TracerProvider, list[GatedSender]]:
    senders: list[GatedSender] = []

    def factory(config: Config) -> GatedSender:
        senders.append(GatedSender(config))
        return senders[-1]

    config = Config(endpoint="http://127.0.0.1:9", max_batch_spans=10, schedule_delay=0.01)
    processor = BoundedSpanProcessor(config, sender_factory=factory)  # type: ignore[arg-type]
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return processor, provider, senders


def _spans(provider: TracerProvider, first: int, count: int) -> None:
    tracer = provider.get_tracer("t")
    for i in range(first, first + count):
        tracer.start_span(f"s{i}").end()


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _first_batch_stuck_in_the_network() -> tuple[BoundedSpanProcessor, list[GatedSender]]:
    """Ten spans being sent (the sender waits at its gate), then twenty more taken from the
    queue behind them: the next two batches, encoded meanwhile."""
    processor, provider, senders = _processor()
    _spans(provider, 0, 10)
    _wait(lambda: senders and senders[0].sending.is_set())
    _spans(provider, 10, 20)
    _wait(lambda: processor.stats()["queued"] == 30 and not processor._queue)
    return processor, senders


def test_the_next_batches_are_encoded_while_one_is_being_sent_and_arrive_in_order() -> None:
    processor, senders = _first_batch_stuck_in_the_network()
    senders[0].gate.set()
    assert processor.flush(10.0)
    assert senders[0].requests == [
        [f"s{i}" for i in range(0, 10)],
        [f"s{i}" for i in range(10, 20)],
        [f"s{i}" for i in range(20, 30)],
    ]
    stats = processor.stats()
    assert stats["exported"] == 30
    assert conserved(stats)
    processor.shutdown(1.0)


def test_shutdown_counts_batches_waiting_to_be_sent_once_and_never_sends_them_after() -> None:
    processor, senders = _first_batch_stuck_in_the_network()
    started = time.monotonic()
    assert processor.shutdown(0.3) is False
    assert time.monotonic() - started < 1.0
    stats = processor.stats()
    assert stats["dropped_by_reason"] == {"shutdown": 30}
    assert stats["queued"] == 0
    assert conserved(stats)
    senders[0].gate.set()  # the stuck send returns now: nothing more may go out, nothing moves
    time.sleep(0.3)
    assert len(senders[0].requests) == 1
    assert processor.stats() == stats


def _span(attributes: dict[str, object]) -> ReadableSpan:
    return ReadableSpan(name="s", context=SpanContext(1, 2, False), attributes=attributes)


def _decoded(attributes: dict[str, object]) -> dict[str, object]:
    request = ExportTraceServiceRequest.FromString(encode_request([_span(attributes)])[0])
    (span,) = request.resource_spans[0].scope_spans[0].spans
    return {kv.key: kv.value for kv in span.attributes}


def test_cached_attribute_encodings_keep_types_keys_and_redaction_apart() -> None:
    for _ in range(2):  # the second round is served from the cache
        decoded = _decoded(
            {"flag": True, "count": 1, "ratio": 1.0, "note": "mail ann@example.com", "token": "x1"}
        )
        assert decoded["flag"].bool_value is True
        assert decoded["count"].int_value == 1
        assert decoded["ratio"].double_value == 1.0
        assert decoded["note"].string_value == "mail [REDACTED:email]"
        assert decoded["token"].string_value != "x1"  # a secret key hides its value
        assert _decoded({"other": "x1"})["other"].string_value == "x1"


def test_the_attribute_cache_stays_bounded_and_correct_when_values_never_repeat() -> None:
    limit = _otlp._KV_CACHE_LIMITS[0]
    for i in range(limit + 100):
        assert _decoded({"gen_ai.response.id": f"id-{i}"})["gen_ai.response.id"].string_value == (
            f"id-{i}"
        )
    assert len(_otlp._KV_CACHE) <= limit
