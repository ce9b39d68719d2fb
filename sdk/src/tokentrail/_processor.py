"""A bounded, counting, fork-safe batch span processor whose flush and shutdown honour timeouts.

Why not OTel's ``BatchSpanProcessor``: its ``force_flush``/``shutdown`` ignore their timeouts
against a slow exporter, and it drops without telling anyone. Here:

* the queue is bounded by span count *and* by estimated bytes; a full queue drops the new span
  and counts it — ``on_end`` never blocks the host;
* every span handed to the processor is accounted for:
  ``exported + sum(dropped_by_reason) + queued == created`` (``queued`` includes the batch
  being exported);
* ``flush``/``shutdown`` wait on a condition with a deadline and return when it passes, whatever
  the exporter does; at shutdown what is left is counted as dropped (``shutdown``);
* the worker thread starts lazily and is re-created in a forked child, with fresh locks.
"""

from __future__ import annotations

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
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from tokentrail._config import Config
from tokentrail._errors import report_internal_error
from tokentrail._errors import reset_after_fork as reset_errors_after_fork
from tokentrail._redact import redact_span

logger = logging.getLogger("tokentrail")

_SPAN_OVERHEAD_BYTES = 256
_processors: weakref.WeakSet[BoundedSpanProcessor] = weakref.WeakSet()
_fork_hook_installed = False


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple | list):
        return sum(len(v) if isinstance(v, str) else 8 for v in value)
    return 8


def estimate_bytes(span: ReadableSpan) -> int:
    """A cheap upper-ish estimate of a span's memory/wire size, used for the byte bound."""
    size = _SPAN_OVERHEAD_BYTES + len(span.name)
    for key, value in (span.attributes or {}).items():
        size += len(key) + _value_size(value)
    for event in span.events:
        size += 64 + len(event.name)
        for key, value in (event.attributes or {}).items():
            size += len(key) + _value_size(value)
    return size


def _reinit_in_child() -> None:
    reset_errors_after_fork()
    for processor in list(_processors):
        processor.reinit_after_fork()


class BoundedSpanProcessor(SpanProcessor):
    """Queue finished spans, export them in batches from one daemon thread, count everything."""

    def __init__(
        self,
        config: Config,
        exporter_factory: Callable[[Config], SpanExporter],
        on_start_hook: Callable[[Span], None] | None = None,
    ) -> None:
        global _fork_hook_installed
        self._config = config
        self._exporter_factory = exporter_factory
        self._on_start_hook = on_start_hook
        self._bound = TraceIdRatioBased.get_bound_for_rate(config.sample_rate)
        self._init_state()
        _processors.add(self)
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_reinit_in_child)
            _fork_hook_installed = True

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[tuple[ReadableSpan, int]] = deque()
        self._queued_bytes = 0
        self._inflight = 0
        self._inflight_bytes = 0
        self._batch_id = 0
        self._inflight_batch = 0
        self._created = 0
        self._exported = 0
        self._dropped: dict[str, int] = {}
        self._mask_errors = 0
        self._enqueued_total = 0
        self._resolved_total = 0
        self._flush_target = 0
        self._thread: threading.Thread | None = None
        self._exporter: SpanExporter | None = None
        self._stopping = False
        self._shutdown = False
        self._losing = False
        self._lost_in_outage = 0

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
        if self._shutdown or not self._sampled_in(span):
            return
        size = estimate_bytes(span)
        reason = None
        with self._cond:
            self._created += 1
            # The batch being exported still holds memory: it counts against both bounds.
            if len(self._queue) + self._inflight >= self._config.max_queue_spans:
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
        """Wait for work and pop one batch; ``None`` when the worker should stop."""
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
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
            self._inflight_batch = self._batch_id
            self._inflight = len(batch)
            self._inflight_bytes = batch_bytes
            return self._batch_id, batch

    def _run(self) -> None:
        while True:
            taken = self._take_batch()
            if taken is None:
                return
            batch_id, batch = taken
            if batch:
                ok, mask_errors = self._export(batch)
                self._settle(batch_id, len(batch), ok, mask_errors)

    def _export(self, batch: list[ReadableSpan]) -> tuple[bool, int]:
        mask_errors = 0
        try:
            spans = []
            for span in batch:
                safe, failed = redact_span(span, self._config.mask)
                mask_errors += failed
                spans.append(safe)
            if self._exporter is None:
                self._exporter = self._exporter_factory(self._config)
            return self._exporter.export(spans) is SpanExportResult.SUCCESS, mask_errors
        except Exception as exc:
            report_internal_error("processor.export", exc)
            return False, mask_errors

    def _settle(self, batch_id: int, n: int, ok: bool, mask_errors: int) -> None:
        starts_loss = recovered = 0
        with self._cond:
            self._mask_errors += mask_errors
            if self._inflight_batch != batch_id:
                return  # shutdown gave up on this batch and already counted it as dropped
            self._inflight = 0
            self._inflight_batch = 0
            self._queued_bytes -= self._inflight_bytes
            self._inflight_bytes = 0
            self._resolved_total += n
            if ok:
                self._exported += n
                if self._losing:
                    self._losing = False
                    recovered, self._lost_in_outage = self._lost_in_outage, 0
            else:
                starts_loss = self._count_drop("export_failed", n)
        if starts_loss:
            self._log_loss_start("export_failed")
        if recovered:
            logger.warning("TokenTrail export recovered; %d spans dropped meanwhile", recovered)
        if mask_errors:
            logger.warning("TokenTrail mask function failed; span content was dropped")
        # Waiters are woken only now, so that what they observe includes the log lines above.
        with self._cond:
            self._cond.notify_all()

    # --- flush / shutdown ----------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until every span queued before this call is exported or dropped, or timeout."""
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
        """Flush within ``timeout``, then stop; whatever is left is counted as dropped."""
        if self._shutdown:
            return True
        flushed = self.flush(timeout)
        self._shutdown = True
        left = 0
        with self._cond:
            left = len(self._queue) + self._inflight
            if left:
                self._count_drop("shutdown", left)
                self._resolved_total += left
            self._queue.clear()
            self._queued_bytes = 0
            self._inflight_bytes = 0
            self._inflight = 0
            self._inflight_batch = 0
            self._stopping = True
            self._cond.notify_all()
        if left:
            logger.warning("TokenTrail shut down with %d spans not exported", left)
        exporter, self._exporter = self._exporter, None
        if exporter is not None:
            try:
                exporter.shutdown()
            except Exception as exc:
                report_internal_error("processor.exporter_shutdown", exc)
        return flushed

    def stats(self) -> dict[str, Any]:
        """Counters; ``exported + sum(dropped_by_reason) + queued == created`` always holds."""
        with self._cond:
            return {
                "created": self._created,
                "exported": self._exported,
                "queued": len(self._queue) + self._inflight,
                "queued_bytes": self._queued_bytes,
                "dropped": sum(self._dropped.values()),
                "dropped_by_reason": dict(self._dropped),
                "mask_errors": self._mask_errors,
            }
