"""A bounded, counting, fork-safe batch span processor whose flush and shutdown honour timeouts.

Why not OTel's ``BatchSpanProcessor``: its ``force_flush``/``shutdown`` ignore their timeouts
against a slow exporter, and it drops without telling anyone. Here:

* the queue is bounded by span count *and* by estimated bytes; a full queue drops the new span
  and counts it — ``on_end`` never blocks the host;
* every span is accounted for: ``exported + sum(dropped_by_reason) + queued + spooled ==
  created`` (``queued`` includes the batch being exported);
* ``flush``/``shutdown`` wait on a condition with a deadline and return when it passes, whatever
  the exporter does; at shutdown what is left is counted as dropped (``shutdown``);
* one thread encodes batches while a second sends the previous one, so that the encoding (CPU,
  under the GIL) and the sending (network and gzip, outside it) overlap;
* the worker threads start lazily and are re-created in a forked child, with fresh locks;
* with a spool (``_spool.py``, ``_outage.py``), batches the collector could not take and what
  is left at shutdown go to disk, and are sent when it answers again (by this or a later process).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from tokentrail._config import Config
from tokentrail._errors import report_internal_error
from tokentrail._errors import reset_after_fork as reset_errors_after_fork
from tokentrail._otlp import encode_request, queued_size
from tokentrail._outage import Outage
from tokentrail._sending import Job, SendStage
from tokentrail._spool import SpoolFile
from tokentrail._transport import OtlpSender, Outcome

logger = logging.getLogger("tokentrail")

# What the worker takes when a spooled batch, not a queued one, is to be sent.
_SPOOL_TURN: tuple[int, list[ReadableSpan]] = (-1, [])
# At shutdown with a spool, this share of the exit budget is kept for writing what is left.
_SHUTDOWN_SPOOL_SHARE = 0.25
_processors: weakref.WeakSet[BoundedSpanProcessor] = weakref.WeakSet()
_fork_hook_installed = False


def _reinit_in_child() -> None:
    reset_errors_after_fork()
    for processor in list(_processors):
        processor.reinit_after_fork()


class BoundedSpanProcessor(SpanProcessor):
    """Queue finished spans, export them in batches from one daemon thread, count everything."""

    def __init__(
        self,
        config: Config,
        sender_factory: Callable[[Config], OtlpSender] = OtlpSender,
        on_start_hook: Callable[[Span], None] | None = None,
    ) -> None:
        global _fork_hook_installed
        self._config = config
        self._sender_factory = sender_factory
        self._on_start_hook = on_start_hook
        self._bound = TraceIdRatioBased.get_bound_for_rate(config.sample_rate)
        self._init_state()
        _processors.add(self)
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_reinit_in_child)
            _fork_hook_installed = True
        if self._outage is not None:
            # A spool may hold what an earlier process could not send: start sending it now.
            with self._cond:
                self._ensure_thread()

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[tuple[ReadableSpan, int]] = deque()
        self._queued_bytes = 0  # queued and in-flight spans
        # Batches taken from the queue and not settled yet (being encoded, waiting to be sent,
        # being sent), by batch id: their spans and estimated bytes.
        self._inflight: dict[int, tuple[list[ReadableSpan], int]] = {}
        self._inflight_count = 0
        self._batch_id = 0
        self._created = 0
        self._exported = 0
        self._dropped: dict[str, int] = {}
        self._mask_errors = 0
        self._enqueued_total = 0
        self._resolved_total = 0
        self._flush_target = 0
        self._thread: threading.Thread | None = None
        self._stage = SendStage(self._config, self._sender_factory, self._deliver)
        self._stopping = False
        self._shutdown = False
        self._losing = False
        self._lost_in_outage = 0
        spool_dir = self._config.spool_dir
        self._outage: Outage | None = Outage(self._config, spool_dir) if spool_dir else None

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh lock, queue, counters and thread; the parent keeps its spans."""
        was_shutdown = self._shutdown
        self._init_state()
        self._shutdown = was_shutdown

    # --- SpanProcessor -------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._on_start_hook is None:
            return
        try:
            self._on_start_hook(span)
        except Exception as exc:
            report_internal_error("processor.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._accept(span)
        except Exception as exc:
            report_internal_error("processor.on_end", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.flush(timeout_millis / 1000.0)

    # --- queue ---------------------------------------------------------------------------

    def _sampled_in(self, span: ReadableSpan) -> bool:
        context = span.context
        if context is None:
            return False
        return bool(context.trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound)

    def _accept(self, span: ReadableSpan) -> None:
        size = queued_size(span)
        if self._shutdown or not self._sampled_in(span):
            return
        reason = None
        with self._cond:
            self._created += 1
            # The batch being exported still holds memory: it counts against both bounds.
            if len(self._queue) + self._inflight_count >= self._config.max_queue_spans:
                reason = "queue_full"
            elif self._queued_bytes + size > self._config.max_queue_bytes:
                reason = "queue_bytes"
            else:
                self._queue.append((span, size))
                self._queued_bytes += size
                self._enqueued_total += 1
                if len(self._queue) in (1, self._config.max_batch_spans):
                    self._cond.notify_all()
                self._ensure_thread()
                return
            starts_loss = self._count_drop(reason, 1)
        if starts_loss:
            self._log_loss_start(reason)

    def _count_drop(self, reason: str, n: int) -> bool:
        """Count ``n`` dropped spans (caller holds the lock); True when a loss period starts."""
        self._dropped[reason] = self._dropped.get(reason, 0) + n
        self._lost_in_outage += n
        if self._losing:
            return False
        self._losing = True
        return True

    @staticmethod
    def _log_loss_start(reason: str) -> None:
        logger.warning(
            "TokenTrail is dropping spans (%s); further losses are counted in tokentrail.stats()",
            reason,
        )

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        thread = threading.Thread(target=self._run, name="tokentrail-export", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            # Interpreter shutting down: spans stay queued and shutdown() counts them.
            return
        self._thread = thread

    # --- worker --------------------------------------------------------------------------

    def _take_batch(self) -> tuple[int, list[ReadableSpan]] | None:
        """Wait for work and pop one batch (or ``_SPOOL_TURN``); ``None`` to stop the worker."""
        with self._cond:
            if self._queue and self._outage is not None and self._outage.turn_due_while_busy():
                return _SPOOL_TURN
            while not self._queue and not self._stopping:
                wait = None if self._outage is None else self._outage.seconds_to_next_try()
                if wait == 0.0:
                    return _SPOOL_TURN
                self._cond.wait(wait)
            if self._stopping:
                return None
            urgent = self._flush_target > self._resolved_total
            if len(self._queue) < self._config.max_batch_spans and not urgent:
                self._cond.wait(self._config.schedule_delay)
                if self._stopping:
                    return None
            batch: list[ReadableSpan] = []
            batch_bytes = 0
            while self._queue and len(batch) < self._config.max_batch_spans:
                span, size = self._queue.popleft()
                batch_bytes += size
                batch.append(span)
            self._batch_id += 1
            self._inflight[self._batch_id] = (batch, batch_bytes)
            self._inflight_count += len(batch)
            if self._outage is not None:
                self._outage.live_batches += 1
            return self._batch_id, batch

    def _run(self) -> None:
        """The encoding thread: take a batch, encode it, hand it to the sending thread."""
        while True:
            taken = self._take_batch()
            if taken is None:
                self._stage.stop()  # after the batches handed off before
                return
            batch_id, batch = taken
            try:
                if batch_id == _SPOOL_TURN[0]:
                    self._stage.drain()  # the spool's turn comes after the live batches
                    self._send_spooled()
                elif batch:
                    self._encode(batch_id, batch)
            except Exception as exc:
                report_internal_error("processor.worker", exc)

    def _encode(self, batch_id: int, batch: list[ReadableSpan]) -> None:
        try:
            payload, mask_errors = encode_request(batch, self._config.mask)
        except Exception as exc:
            report_internal_error("processor.export", exc)
            self._settle(batch_id, len(batch), Outcome.REJECTED, 0, None)
            return
        self._stage.submit((batch_id, payload, len(batch), mask_errors))

    def _deliver(self, job: Job) -> None:
        """On the sending thread: send an encoded batch, spool it, or count it as dropped."""
        batch_id, payload, n, mask_errors = job
        with self._cond:
            if batch_id not in self._inflight:
                return  # shutdown took this batch over (spooled or counted it) while it waited
        outcome, evicted = Outcome.REJECTED, None
        try:
            offline = self._outage is not None and self._outage.offline
            outcome = Outcome.RETRYABLE if offline else self._stage.send(payload)
            if outcome is Outcome.RETRYABLE and self._outage is not None:
                evicted = self._spool_batch(batch_id, payload, n)
        except Exception as exc:
            report_internal_error("processor.export", exc)
        self._settle(batch_id, n, outcome, mask_errors, evicted)

    def _spool_batch(self, batch_id: int, payload: bytes, n: int) -> list[SpoolFile] | None:
        """Write a batch to the spool: the files evicted for room, or ``None`` if not written."""
        assert self._outage is not None
        with self._cond:
            if batch_id not in self._inflight:
                return None  # shutdown took this batch over
        try:
            return self._outage.spool.write(payload, n)
        except OSError as exc:
            logger.warning("TokenTrail cannot write to its spool directory: %s", exc)
            return None

    def _settle(
        self,
        batch_id: int,
        n: int,
        outcome: Outcome,
        mask_errors: int,
        evicted: list[SpoolFile] | None,
    ) -> None:
        starts_loss = recovered = 0
        with self._cond:
            self._mask_errors += mask_errors
            entry = self._inflight.pop(batch_id, None)
            if entry is None:
                return  # shutdown took this batch over and already counted it
            self._inflight_count -= len(entry[0])
            self._queued_bytes -= entry[1]
            self._resolved_total += n
            if outcome is Outcome.SENT:
                self._exported += n
                if self._outage is not None:
                    self._outage.collector_answered()
                if self._losing:
                    self._losing = False
                    recovered, self._lost_in_outage = self._lost_in_outage, 0
            elif evicted is not None and self._outage is not None:
                self._outage.collector_failed()
                lost = self._outage.stored(n, evicted)
                starts_loss = bool(lost) and self._count_drop("spool_full", lost)
            else:
                starts_loss = self._count_drop("export_failed", n)
        if starts_loss:
            self._log_loss_start("spool_full" if evicted else "export_failed")
        if recovered:
            logger.warning("TokenTrail export recovered; %d spans dropped meanwhile", recovered)
        if mask_errors:
            logger.warning("TokenTrail mask function failed; span content was dropped")
        # Waiters are woken only now, so that what they observe includes the log lines above.
        with self._cond:
            self._cond.notify_all()

    # --- spool ---------------------------------------------------------------------------

    def _send_spooled(self) -> None:
        """Try the oldest spooled batch: the probe while offline, the drain once back."""
        assert self._outage is not None
        sent = self._outage.send_oldest(self._stage.send, self._cond)
        if sent is None:
            return
        with self._cond:
            exported, rejected = self._outage.delivered(*sent)
            self._exported += exported
            if rejected:
                self._count_drop("spool_rejected", rejected)
            self._cond.notify_all()

    # --- flush / shutdown ----------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until every span queued before this call is exported, spooled or dropped.

        Returns ``False`` when ``timeout`` seconds pass first.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            target = self._enqueued_total
            if self._resolved_total >= target:
                return True
            self._flush_target = max(self._flush_target, target)
            self._ensure_thread()
            self._cond.notify_all()
            while self._resolved_total < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float = 2.0) -> bool:  # type: ignore[override]
        """Flush within ``timeout``, then stop; what is left is spooled, or counted as dropped."""
        if self._shutdown:
            return True
        deadline = time.monotonic() + max(timeout, 0.0)
        flushed = self.flush(timeout * (1.0 - (_SHUTDOWN_SPOOL_SHARE if self._outage else 0.0)))
        # From here on_end returns at once, without the lock: the host is never held up by us.
        self._shutdown = True
        self._stage.close()
        with self._cond:
            left = [span for batch, _ in self._inflight.values() for span in batch]
            left += [span for span, _ in self._queue]
            left_count = len(left)
            spooled = lost = 0
            if left and self._outage is not None:
                encode = functools.partial(encode_request, mask=self._config.mask)
                spooled, lost = self._outage.spool_spans(left, encode, deadline)
            if lost:
                self._count_drop("spool_full", lost)
            if left_count - spooled:
                self._count_drop("shutdown", left_count - spooled)
            self._resolved_total += left_count
            self._queue.clear()
            self._queued_bytes = 0
            self._inflight.clear()
            self._inflight_count = 0
            self._stopping = True
            self._cond.notify_all()
        if left_count - spooled:
            logger.warning("TokenTrail shut down with %d spans not exported", left_count - spooled)
        return flushed

    def stats(self) -> dict[str, Any]:
        """Counters; ``exported + sum(dropped_by_reason) + queued + spooled == created``."""
        outage = self._outage
        spool_files, spool_bytes = outage.spool.pending() if outage is not None else (0, 0)
        with self._cond:
            return {
                "created": self._created,
                "exported": self._exported,
                "queued": len(self._queue) + self._inflight_count,
                "queued_bytes": self._queued_bytes,
                "spooled": outage.spooled if outage is not None else 0,
                "dropped": sum(self._dropped.values()),
                "dropped_by_reason": dict(self._dropped),
                "mask_errors": self._mask_errors,
                "spool_files": spool_files,
                "spool_bytes": spool_bytes,
                "spool_recovered": dict(
                    outage.recovered if outage is not None else {"exported": 0, "dropped": 0}
                ),
            }
