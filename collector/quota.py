"""Rate limits in the collector process: a per-project ingest quota (spans per minute) and a
brake on repeated failed authentication from one client address.

Both are in-process token buckets, so they hold *per replica*: with N collector replicas a
project may ingest up to N times its quota, and a guesser may try N times as many keys. That
is enough to stop a runaway client or a key-guessing loop; a cluster-wide quota would need
shared state (Redis or Postgres) on every request, which the write path avoids.

Behind a proxy every request has the proxy's address, so the auth brake then throttles all
clients together; run the collector where it sees client addresses (or with uvicorn's
``--forwarded-allow-ips`` for a trusted proxy).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from core.errors import RateLimitedError
from core.settings import Settings

#: Bound on tracked keys (projects or client addresses); full buckets are forgotten first.
MAX_BUCKETS = 100_000


class TokenBuckets:
    """Token buckets by key: ``capacity`` tokens, refilled at ``rate_per_s``.

    A request may take more tokens than are left (a batch's size is known only after it was
    decoded): the bucket goes into debt and refuses until it has refilled to one token. That
    keeps the average rate exact without refusing big batches forever.
    """

    def __init__(
        self, capacity: float, rate_per_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity <= 0 or rate_per_s <= 0:
            raise ValueError("a token bucket needs a positive capacity and rate")
        self.capacity, self.rate, self._clock = capacity, rate_per_s, clock
        self._levels: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: Hashable) -> float:
        """Seconds until ``key`` may be served again; 0 when it may be served now."""
        with self._lock:
            level = self._level(key, self._clock())
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, key: Hashable, tokens: float = 1) -> float:
        """Take ``tokens`` if the bucket is not empty; return the wait (0 if taken)."""
        with self._lock:
            now = self._clock()
            level = self._level(key, now)
            if level < 1:
                return (1 - level) / self.rate
            self._store(key, level - tokens, now)
            return 0.0

    def _level(self, key: Hashable, now: float) -> float:
        stored = self._levels.get(key)
        if stored is None:
            return self.capacity
        level, at = stored
        return min(self.capacity, level + (now - at) * self.rate)

    def _store(self, key: Hashable, level: float, now: float) -> None:
        if key not in self._levels and len(self._levels) >= MAX_BUCKETS:
            self._levels = {
                k: (lvl, at)
                for k, (lvl, at) in self._levels.items()
                if lvl + (now - at) * self.rate < self.capacity
            }
            if len(self._levels) >= MAX_BUCKETS:
                self._levels.clear()
        self._levels[key] = (level, now)


class IngestQuota:
    """Spans per minute per project, from the setting or the project's own override."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._default = settings.ingest_spans_per_minute
        self._by_project = dict(settings.ingest_spans_per_minute_by_project)
        self._clock = clock
        self._buckets: dict[int, TokenBuckets] = {}
        self._lock = threading.Lock()

    def charge(self, project_id: int, spans: int) -> None:
        """Count ``spans`` against the project's quota; raise 429 material when it is spent."""
        bucket = self._bucket(project_id)
        if bucket is None or spans <= 0:
            return
        wait = bucket.take(project_id, spans)
        if wait > 0:
            raise RateLimitedError("the project is over its ingest quota; retry later", wait)

    def _bucket(self, project_id: int) -> TokenBuckets | None:
        per_minute = self._by_project.get(project_id, self._default)
        if per_minute <= 0:
            return None
        # One bucket per distinct rate, so projects sharing the default share nothing but code.
        with self._lock:
            bucket = self._buckets.get(per_minute)
            if bucket is None:
                bucket = TokenBuckets(per_minute, per_minute / 60, self._clock)
                self._buckets[per_minute] = bucket
        return bucket


class AuthGuard:
    """Refuses a client address after ``burst`` failed authentications, refilling per minute."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        per_minute, burst = settings.auth_failures_per_minute, settings.auth_failure_burst
        self._buckets = (
            TokenBuckets(burst, per_minute / 60, clock) if per_minute > 0 and burst > 0 else None
        )

    def check(self, address: str) -> None:
        """Raise if ``address`` has spent its failed attempts (checked before any lookup)."""
        if self._buckets is None:
            return
        wait = self._buckets.wait_s(address)
        if wait > 0:
            raise RateLimitedError("too many failed authentications; retry later", wait)

    def failed(self, address: str) -> None:
        if self._buckets is not None:
            self._buckets.take(address)
