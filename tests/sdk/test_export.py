"""Export that never hurts the host: bounded queue, counted loss, timeouts honoured, retries."""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import tokentrail
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once
from tokentrail import _runtime
from tokentrail._config import Config
from tokentrail._processor import BoundedSpanProcessor

from tests.sdk.conftest import API_KEY, flush
from tests.sdk.receiver import Behaviour, Receiver


@tokentrail.observe(name="work")
def work(i: int) -> int:
    return i


def conserved(stats: dict[str, object]) -> bool:
    dropped = sum(stats["dropped_by_reason"].values())  # type: ignore[attr-defined]
    return stats["exported"] + dropped + stats["queued"] == stats["created"]  # type: ignore[operator]


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_spans_arrive_as_gzip_protobuf_with_bearer_key(sdk: Receiver) -> None:
    work(1)
    flush(sdk)
    (request,) = sdk.trace_requests()
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["content-encoding"] == "gzip"
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert tokentrail.stats()["exported"] == 1


def test_dead_collector_loses_spans_but_counts_every_one() -> None:
    tokentrail.configure(endpoint="http://127.0.0.1:9")
    for i in range(50):
        work(i)
    started = time.monotonic()
    assert tokentrail.flush(timeout=0.5) is False
    assert time.monotonic() - started < 0.8
    stats = tokentrail.stats()
    assert stats["created"] == 50
    assert conserved(stats)
    tokentrail.shutdown(timeout=0.2)


def test_shutdown_counts_what_is_left_as_dropped(black_hole: str) -> None:
    tokentrail.configure(endpoint=black_hole)
    runtime = _runtime.active()
    assert runtime is not None
    for i in range(20):
        work(i)
    started = time.monotonic()
    assert tokentrail.shutdown(timeout=0.5) is False
    assert time.monotonic() - started < 1.0
    stats = runtime.processor.stats()
    assert stats["created"] == 20
    assert stats["dropped_by_reason"] == {"shutdown": 20}
    assert stats["queued"] == 0
    assert conserved(stats)


def test_slow_collector_flush_returns_within_its_timeout(receiver: Receiver) -> None:
    receiver.default = Behaviour(delay=3.0)
    tokentrail.configure(endpoint=receiver.url)
    work(1)
    started = time.monotonic()
    assert tokentrail.flush(timeout=0.3) is False
    assert time.monotonic() - started < 0.6
    assert conserved(tokentrail.stats())


def test_full_queue_drops_new_spans_without_blocking(receiver: Receiver) -> None:
    config = Config(endpoint=receiver.url, max_queue_spans=10, schedule_delay=60.0)
    processor = BoundedSpanProcessor(config)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    # Hold the worker away: nothing is exported until flush is asked for.
    for i in range(25):
        tracer.start_span(f"s{i}").end()
    stats = processor.stats()
    assert stats["created"] == 25
    assert stats["dropped_by_reason"] == {"queue_full": 15}
    assert conserved(stats)
    assert processor.flush(5.0)
    stats = processor.stats()
    assert stats["exported"] == 10
    assert conserved(stats)
    processor.shutdown(1.0)


def test_byte_bound_drops_large_spans(receiver: Receiver) -> None:
    config = Config(endpoint=receiver.url, max_queue_bytes=50_000, schedule_delay=60.0)
    processor = BoundedSpanProcessor(config)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for _ in range(10):
        span = tracer.start_span("big")
        span.set_attribute("input.value", "x" * 20_000)
        span.end()
    stats = processor.stats()
    assert stats["dropped_by_reason"] == {"queue_bytes": 8}
    assert stats["queued_bytes"] <= 50_000
    assert conserved(stats)
    processor.shutdown(2.0)


def test_loss_is_logged_once_when_it_starts_and_once_when_it_stops(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.plan = [Behaviour(status=400)] * 3
    tokentrail.configure(endpoint=receiver.url)
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        for i in range(3):
            work(i)
            tokentrail.flush(5.0)
        work(99)
        tokentrail.flush(5.0)
    messages = [r.getMessage() for r in caplog.records if r.name == "tokentrail"]
    assert sum("dropping spans" in m for m in messages) == 1
    assert sum("recovered" in m for m in messages) == 1
    stats = tokentrail.stats()
    assert stats["dropped_by_reason"] == {"export_failed": 3}
    assert stats["exported"] == 1


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_client_errors_are_not_retried(receiver: Receiver, status: int) -> None:
    receiver.plan = [Behaviour(status=status)]
    tokentrail.configure(endpoint=receiver.url)
    work(1)
    tokentrail.flush(5.0)
    assert len(receiver.trace_requests()) == 1
    assert tokentrail.stats()["dropped_by_reason"] == {"export_failed": 1}


@pytest.mark.parametrize("status", [429, 503])
def test_overload_is_retried_after_retry_after(receiver: Receiver, status: int) -> None:
    receiver.plan = [Behaviour(status=status, headers={"Retry-After": "0.3"})]
    tokentrail.configure(endpoint=receiver.url)
    work(1)
    started = time.monotonic()
    assert tokentrail.flush(5.0)
    assert time.monotonic() - started >= 0.3
    assert len(receiver.trace_requests()) == 2
    assert len(receiver.spans) == 1
    assert tokentrail.stats()["exported"] == 1


def test_500_is_not_retried(receiver: Receiver) -> None:
    receiver.plan = [Behaviour(status=500)]
    tokentrail.configure(endpoint=receiver.url)
    work(1)
    tokentrail.flush(5.0)
    assert len(receiver.trace_requests()) == 1
    assert conserved(tokentrail.stats())


def test_huge_response_body_is_read_no_further_than_64_kib(receiver: Receiver) -> None:
    sent = [0]

    def endless(handler: BaseHTTPRequestHandler) -> bool:
        handler.rfile.read(int(handler.headers["content-length"]))
        handler.send_response(200)
        handler.send_header("content-length", str(1 << 30))
        handler.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(1 << 14):
                handler.wfile.write(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass
        return True

    receiver.on_request = endless
    tokentrail.configure(endpoint=receiver.url)
    work(1)
    started = time.monotonic()
    assert tokentrail.flush(5.0)
    assert time.monotonic() - started < 3.0
    assert sent[0] < 64 * 1024 * 1024  # the client stopped reading long before 1 GiB
    assert tokentrail.stats()["exported"] == 1


def test_existing_tracer_provider_gets_our_processor(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    trace.set_tracer_provider(provider)

    tokentrail.configure(endpoint=receiver.url)
    with provider.get_tracer("app").start_as_current_span("app-root"):
        work(1)
    flush(receiver)
    assert trace.get_tracer_provider() is provider
    assert {s.name for s in memory.get_finished_spans()} == {"app-root", "work"}
    assert {s.name for s in receiver.spans} == {"app-root", "work"}
    assert receiver.by_name("work").parent_span_id == receiver.by_name("app-root").span_id


def test_sample_rate_zero_records_nothing(receiver: Receiver) -> None:
    tokentrail.configure(endpoint=receiver.url, sample_rate=0.0)
    for i in range(20):
        work(i)
    flush(receiver)
    assert receiver.spans == []
    assert tokentrail.stats()["created"] == 0


def test_conservation_holds_under_concurrency_and_a_flaky_collector(receiver: Receiver) -> None:
    receiver.plan = [Behaviour(status=400), Behaviour(status=200), Behaviour(status=400)] * 5
    tokentrail.configure(endpoint=receiver.url)
    runtime = _runtime.active()
    assert runtime is not None
    small = dataclasses.replace(runtime.config, max_queue_spans=64)
    runtime.processor._config = small

    def burst() -> None:
        for i in range(300):
            work(i)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tokentrail.flush(5.0)
    stats = tokentrail.stats()
    assert stats["created"] == 1200
    assert conserved(stats)
    assert stats["exported"] == len(receiver.spans)
