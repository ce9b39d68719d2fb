"""A stub OTLP/HTTP collector on a free loopback port, decoding what the SDK really sends."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind is None:
        return None
    return getattr(value, kind)


@dataclass
class Received:
    """One decoded span."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[dict[str, Any]]
    status_code: int
    status_message: str
    start_ns: int
    end_ns: int


@dataclass
class Behaviour:
    """How the stub answers: a status, headers, a delay, or a custom writer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b""


class Receiver:
    """Collects requests to /v1/traces and /api/v1/scores; answers per ``plan`` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.spans: list[Received] = []
        self.scores: list[dict[str, Any]] = []
        self.plan: list[Behaviour] = []
        self.default = Behaviour()
        self.lock = threading.Lock()
        self.on_request: Callable[[BaseHTTPRequestHandler], bool] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                if receiver.on_request is not None and receiver.on_request(self):
                    return
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    behaviour = receiver.plan.pop(0) if receiver.plan else receiver.default
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "size": len(raw)}
                    )
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                if behaviour.status == 200:
                    receiver._store(self.path, self.headers.get("content-encoding"), raw)
                self.send_response(behaviour.status)
                for key, value in behaviour.headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(behaviour.body)))
                self.end_headers()
                self.wfile.write(behaviour.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _store(self, path: str, encoding: str | None, raw: bytes) -> None:
        body = gzip.decompress(raw) if encoding == "gzip" else raw
        if path == "/api/v1/scores":
            with self.lock:
                self.scores.append(json.loads(body))
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        decoded = []
        for resource_spans in request.resource_spans:
            resource = {kv.key: any_value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    decoded.append(
                        Received(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={kv.key: any_value(kv.value) for kv in span.attributes},
                            resource=resource,
                            events=[
                                {
                                    "name": e.name,
                                    **{kv.key: any_value(kv.value) for kv in e.attributes},
                                }
                                for e in span.events
                            ],
                            status_code=span.status.code,
                            status_message=span.status.message,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        with self.lock:
            self.spans.extend(decoded)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def by_name(self, name: str) -> Received:
        matches = [s for s in self.spans if s.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans]}"
        return matches[0]

    def trace_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/v1/traces"]

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.trace_requests()) < n and time.monotonic() < deadline:
            time.sleep(0.01)
