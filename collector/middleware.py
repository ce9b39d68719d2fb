"""Per-request bookkeeping as plain ASGI: the in-flight cap (503 + Retry-After beyond it),
request counts by route and status, latency."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector import errors
from collector.metrics import CollectorMetrics

#: Routes that never count against the in-flight cap (probes must answer under overload).
UNCAPPED = frozenset({"/healthz", "/readyz", "/metrics"})
KNOWN_ROUTES = UNCAPPED | errors.OTLP_PATHS | {"/api/v1/scores"}


class RequestGuard:
    """Counts requests and refuses new ones beyond ``max_in_flight`` with a fast 503."""

    def __init__(
        self, app: ASGIApp, metrics: CollectorMetrics, max_in_flight: int, retry_after_s: int
    ) -> None:
        self.app, self.metrics = app, metrics
        self.max_in_flight, self.retry_after_s = max_in_flight, retry_after_s
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in KNOWN_ROUTES else "other"
        status = {"code": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            if path not in UNCAPPED and self.in_flight >= self.max_in_flight:
                await self._refuse(scope, receive, send_and_note)
            else:
                await self._run(path not in UNCAPPED, scope, receive, send_and_note)
        finally:
            self.metrics.requests.labels(route=route, status=str(status["code"])).inc()
            self.metrics.latency.labels(route=route).observe(time.perf_counter() - started)

    async def _run(self, capped: bool, scope: Scope, receive: Receive, send: Send) -> None:
        if not capped:
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.overloaded.inc()
        problem = errors.Problem(503, 14, errors.OVERLOADED, retry=True)
        response = errors.render(Request(scope), problem, self.retry_after_s)
        await response(scope, receive, send)
