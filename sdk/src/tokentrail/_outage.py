"""What a processor knows about an outage: its spool, whether the collector is reachable, and
when to try it again.

The processor calls every method while holding its own lock, so that the counters here and its
own move together and ``exported + dropped + queued + spooled == created`` holds at every read.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan

from tokentrail._config import Config
from tokentrail._spool import Spool, SpoolFile
from tokentrail._transport import Outcome

logger = logging.getLogger("tokentrail")

_PROBE_BACKOFF_MIN = 1.0
_PROBE_BACKOFF_MAX = 30.0


class Outage:
    """Spool plus collector state of one processor (one per process: re-created after fork)."""

    def __init__(self, config: Config, spool_dir: str) -> None:
        writer = f"{os.getpid()}x{secrets.token_hex(4)}"
        self.spool = Spool(spool_dir, config.spool_max_bytes, writer)
        self.batch_size = config.max_batch_spans
        self.spooled = 0  # spans this process wrote to the spool that are still there
        self.recovered = {"exported": 0, "dropped": 0}  # spans other processes spooled
        self.offline = False  # the collector failed us: new batches go straight to the spool
        self.backlog = True  # the spool may hold batches (an earlier process may have left some)
        self._next_probe = 0.0
        self._backoff = _PROBE_BACKOFF_MIN
        self.live_batches = 0  # live batches taken since the last spooled one

    def turn_due_while_busy(self) -> bool:
        """With spans queued: should the worker take a spooled batch anyway?

        A busy app may never leave the queue empty. Offline, the probe must still happen when it
        is due, or the app would spool until its traffic pauses; online, spooled batches take
        every other turn with live ones, so the backlog drains under load too.
        """
        if self.seconds_to_next_try() != 0.0:
            return False
        if self.offline or self.live_batches > 0:
            self.live_batches = 0
            return True
        return False

    def seconds_to_next_try(self) -> float | None:
        """When a spooled batch should be tried next; ``None`` when the spool is empty."""
        if not self.backlog:
            return None
        return max(self._next_probe - time.monotonic(), 0.0)

    def collector_answered(self) -> None:
        self.offline = False
        self._backoff = _PROBE_BACKOFF_MIN
        self._next_probe = 0.0

    def collector_failed(self) -> None:
        """A batch could not be delivered: spool from now on, and try the collector later."""
        self.backlog = True
        if not self.offline:
            self.offline = True
            self._next_probe = time.monotonic() + self._backoff

    def probe_failed(self) -> None:
        self.offline = True
        self._next_probe = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, _PROBE_BACKOFF_MAX)

    def spool_empty(self) -> None:
        self.backlog = False
        self.offline = False

    def stored(self, spans: int, evicted: list[SpoolFile]) -> int:
        """Count a written batch and the files evicted for it; returns our evicted spans."""
        self.spooled += spans
        own_lost = 0
        for spooled in evicted:
            if spooled.writer == self.spool.writer:
                self.spooled -= spooled.spans
                own_lost += spooled.spans
            else:
                self.recovered["dropped"] += spooled.spans
        return own_lost

    def delivered(self, spooled: SpoolFile, outcome: Outcome) -> tuple[int, int]:
        """Count a spooled batch that left the spool; returns our ``(exported, rejected)``."""
        if outcome is Outcome.SENT:
            self.collector_answered()
        if spooled.writer != self.spool.writer:
            key = "exported" if outcome is Outcome.SENT else "dropped"
            self.recovered[key] += spooled.spans
            return 0, 0
        self.spooled -= spooled.spans
        if outcome is Outcome.SENT:
            return spooled.spans, 0
        return 0, spooled.spans

    def spool_spans(
        self,
        spans: Sequence[ReadableSpan],
        encode: Callable[[Sequence[ReadableSpan]], tuple[bytes, int]],
        deadline: float,
    ) -> tuple[int, int]:
        """Spool spans in batches until ``deadline`` (at shutdown); ``(written, our_evicted)``."""
        written = lost = 0
        batch_size = self.batch_size
        for start in range(0, len(spans), batch_size):
            if time.monotonic() >= deadline:
                break
            chunk = spans[start : start + batch_size]
            try:
                evicted = self.spool.write(encode(chunk)[0], len(chunk))
            except OSError as exc:
                logger.warning("TokenTrail cannot write to its spool directory: %s", exc)
                break
            written += len(chunk)
            lost += self.stored(len(chunk), evicted)
        return written, lost

    def send_oldest(
        self, send: Callable[[bytes], Outcome], lock: threading.Condition
    ) -> tuple[SpoolFile, Outcome] | None:
        """Send the oldest spooled batch (the probe while offline, the drain once back).

        Returns the file and the collector's answer once it took the batch (the caller settles
        it with ``delivered`` under its lock); ``None`` when there was nothing to send or the
        collector is still away. ``lock`` is the processor's, taken for the state changes here.
        """
        try:
            claimed = self.spool.claim_oldest()
        except OSError as exc:
            with lock:
                self.probe_failed()  # an unreadable directory: look again later
            logger.warning("TokenTrail cannot read its spool directory: %s", exc)
            return None
        if claimed is None:
            with lock:
                self.spool_empty()
            return None
        spooled, payload = claimed
        outcome = Outcome.RETRYABLE
        try:
            outcome = send(payload)
        finally:
            if outcome is Outcome.RETRYABLE:
                self.spool.release(spooled)
                with lock:
                    self.probe_failed()
        if outcome is Outcome.RETRYABLE:
            return None
        self.spool.remove(spooled)
        return spooled, outcome
