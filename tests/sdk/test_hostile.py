"""A hostile collector costs the SDK one export deadline, never more: not a slow-loris status line,
not endless headers, not a 1 GiB body."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from tokentrail._config import Config
from tokentrail._processor import BoundedSpanProcessor
from tokentrail._transport import OtlpSender, Outcome

Behaviour = Callable[[socket.socket, threading.Event], None]


def read_request(conn: socket.socket) -> None:
    """Read headers and the announced body, so the client is waiting on its answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def slow_loris(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, one byte every 50 ms: each read is quick, the answer never completes."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 10_000:
        if stop.wait(0.05):
            return
        conn.sendall(bytes([byte]))


def endless_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    i = 0
    while not stop.is_set():
        conn.sendall(b"X-Header-%d: %s\r\n" % (i, b"v" * 1000))
        i += 1


def gigabyte_body(sent: list[int]) -> Behaviour:
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
        chunk = b"x" * 65536
        for _ in range(1 << 14):
            if stop.is_set():
                return
            conn.sendall(chunk)
            sent[0] += len(chunk)

    return answer


@pytest.fixture
def hostile() -> Iterator[Callable[[Behaviour], str]]:
    """A raw TCP collector that reads each request, then answers with ``behaviour``."""
    stop = threading.Event()
    servers: list[socket.socket] = []

    def start(behaviour: Behaviour) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.1)
        servers.append(server)

        def serve(conn: socket.socket) -> None:
            with conn:
                try:
                    read_request(conn)
                    behaviour(conn, stop)
                except OSError:
                    return

        def accept() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}"

    yield start
    stop.set()
    for server in servers:
        server.close()


@pytest.mark.parametrize("behaviour", [slow_loris, endless_headers], ids=["loris", "headers"])
def test_a_trickling_answer_costs_one_export_deadline(
    hostile: Callable[[Behaviour], str], behaviour: Behaviour
) -> None:
    sender = OtlpSender(Config(endpoint=hostile(behaviour), export_timeout=1.0))
    started = time.monotonic()
    outcome = sender.send(b"\x00" * 100)
    elapsed = time.monotonic() - started
    assert outcome is Outcome.RETRYABLE
    assert elapsed < 1.6, f"the export took {elapsed:.2f}s against a 1 s deadline"


def test_a_gigabyte_answer_is_not_read(hostile: Callable[[Behaviour], str]) -> None:
    sent = [0]
    sender = OtlpSender(Config(endpoint=hostile(gigabyte_body(sent)), export_timeout=5.0))
    started = time.monotonic()
    assert sender.send(b"\x00" * 100) is Outcome.SENT
    assert time.monotonic() - started < 1.0
    time.sleep(0.2)
    # The client closed the connection after the headers: the kernel buffers are all it took.
    assert sent[0] < 64 * 1024 * 1024


def test_the_export_thread_is_free_again_after_a_slow_loris(
    hostile: Callable[[Behaviour], str],
) -> None:
    config = Config(endpoint=hostile(slow_loris), export_timeout=0.5, schedule_delay=0.01)
    processor = BoundedSpanProcessor(config)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for batch in range(3):
        tracer.start_span(f"s{batch}").end()
        started = time.monotonic()
        assert processor.flush(3.0)
        assert time.monotonic() - started < 1.5
    stats = processor.stats()
    assert stats["dropped_by_reason"] == {"export_failed": 3}
    assert stats["queued"] == 0
    processor.shutdown(0.5)
