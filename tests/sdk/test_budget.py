"""``tokentrail.budget_ok``: asks the collector, caches, fails open, never raises or hangs.

A stub collector on loopback answers ``GET /api/v1/budgets/check`` as each test plans; no
server package is imported (this module also runs in the SDK-only venv).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import tokentrail
from tokentrail import _budget

from tests.sdk.conftest import API_KEY


class Collector:
    """Answers budget checks with ``status``/``body`` after ``delay``; records each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.body: bytes = b'{"ok": true, "exhausted": []}'
        self.delay = 0.0
        self.trickle = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                auth = self.headers.get("authorization")
                owner.requests.append({"path": parts.path, "query": query, "authorization": auth})
                time.sleep(owner.delay)
                try:
                    if owner.trickle:
                        for byte in b"HTTP/1.1 200 OK\r\n":
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.2)
                        return
                    self.send_response(owner.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(owner.body)))
                    self.end_headers()
                    self.wfile.write(owner.body)
                except OSError:
                    return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, ok: bool) -> None:
        self.body = json.dumps({"ok": ok, "exhausted": []}).encode()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    _budget.clear_cache()
    yield
    _budget.clear_cache()


@pytest.fixture
def collector() -> Iterator[Collector]:
    stub = Collector()
    stub.thread.start()
    tokentrail.configure(endpoint=stub.url, api_key=API_KEY, service="budget-tests")
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def test_an_exhausted_hard_budget_answers_false(collector: Collector) -> None:
    collector.answer(False)
    assert tokentrail.budget_ok(team="search") is False
    (request,) = collector.requests
    assert request["path"] == "/api/v1/budgets/check"
    assert request["query"] == {"team": "search"}
    assert request["authorization"] == f"Bearer {API_KEY}"


def test_the_scope_comes_from_the_context_and_explicit_values_win(collector: Collector) -> None:
    with tokentrail.context(team="search", feature="chat", user_id="u-1", customer="acme"):
        assert tokentrail.budget_ok(feature="summaries", model="gpt-4o") is True
    assert collector.requests[0]["query"] == {"team": "search", "feature": "summaries",
                                              "user": "u-1", "customer": "acme",
                                              "model": "gpt-4o"}  # fmt: skip


def test_answers_are_cached_per_scope_until_the_ttl(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_budget, "CACHE_TTL_S", 0.3)
    for _ in range(50):
        assert tokentrail.budget_ok(team="a")
    tokentrail.budget_ok(team="b")
    assert len(collector.requests) == 2
    collector.answer(False)
    time.sleep(0.35)
    assert tokentrail.budget_ok(team="a") is False
    assert len(collector.requests) == 3


def test_the_cache_is_bounded(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_budget, "MAX_CACHED_SCOPES", 3)
    for n in range(10):
        tokentrail.budget_ok(customer=f"c{n}")
    assert len(_budget._cache) == 3
    tokentrail.budget_ok(customer="c9")  # the most recent scopes are the ones kept
    assert len(collector.requests) == 10


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_dead_collector_fails_open_unless_told_otherwise() -> None:
    tokentrail.configure(endpoint=_closed_port(), api_key=API_KEY)
    assert tokentrail.budget_ok(team="a") is True
    assert tokentrail.budget_ok(team="a", fail_open=False) is False


def test_a_slow_collector_costs_one_timeout_and_the_failure_is_remembered(
    collector: Collector,
) -> None:
    collector.delay = 3.0
    started = time.monotonic()
    assert tokentrail.budget_ok(team="a", timeout=0.3, fail_open=False) is False
    first = time.monotonic() - started
    started = time.monotonic()
    for _ in range(100):
        assert tokentrail.budget_ok(team="a", timeout=0.3) is True
    assert first < 0.8
    assert time.monotonic() - started < 0.1
    assert len(collector.requests) == 1


def test_a_trickling_collector_is_cut_at_the_deadline(collector: Collector) -> None:
    collector.trickle = True
    started = time.monotonic()
    assert tokentrail.budget_ok(team="a", timeout=0.5) is True
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, b'{"detail": "unknown key"}'), (503, b"{}"), (200, b"not json"), (200, b"[1, 2]"),
     (200, b'{"ok": "no"}'), (200, b'{"ok": false' + b" " * 200_000 + b"}")],
)  # fmt: skip
def test_an_unusable_answer_fails_open(collector: Collector, status: int, body: bytes) -> None:
    collector.status, collector.body = status, body
    assert tokentrail.budget_ok(team="a") is True
    assert tokentrail.budget_ok(team="b", fail_open=False) is False


def test_a_refused_key_is_logged_once(
    collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    collector.status = 401
    _budget._warned.clear()
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        for n in range(3):
            tokentrail.budget_ok(team=f"t{n}")
    assert sum("budget check answered 401" in r.getMessage() for r in caplog.records) == 1


def test_without_an_endpoint_it_answers_fail_open_and_asks_nobody() -> None:
    assert tokentrail.budget_ok(team="a") is True
    assert tokentrail.budget_ok(team="a", fail_open=False) is False


@pytest.mark.allow_internal_errors
def test_a_bad_argument_never_raises_into_the_host(collector: Collector) -> None:
    assert tokentrail.budget_ok(team="a", timeout="soon") is True  # type: ignore[arg-type]
    assert tokentrail.stats()["internal_errors"] >= 1
