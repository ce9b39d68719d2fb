"""The one configured SDK instance of a process: tracer, processor, score sender, exit hook.

Nothing happens at import time. The first decorated call (or ``configure()``) resolves the
settings once; with no endpoint anywhere the SDK stays a no-op whose per-call cost is one global
read.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from tokentrail import _config
from tokentrail._config import Config, Mask
from tokentrail._context import current_attribution
from tokentrail._errors import internal_error_count, report_internal_error
from tokentrail._processor import BoundedSpanProcessor
from tokentrail._scores import ScoreSender

logger = logging.getLogger("tokentrail")

VERSION = "0.1.0"
ENVIRONMENT = "deployment.environment.name"


@dataclass
class Runtime:
    """Everything a configured SDK holds."""

    config: Config
    tracer: trace.Tracer
    processor: BoundedSpanProcessor
    scores: ScoreSender
    owns_provider: bool


_runtime: Runtime | None = None
_stopped: Runtime | None = None  # the last runtime shut down, for its final stats()
_resolved = False  # settings were resolved (configure() called, or the environment read once)
_lock = threading.Lock()
_atexit_registered = False


def active() -> Runtime | None:
    """The configured runtime, configuring from the environment on first use; ``None`` = no-op."""
    runtime = _runtime
    if runtime is not None or _resolved:
        return runtime
    try:
        return _configure_from_env()
    except Exception as exc:
        report_internal_error("runtime.configure_from_env", exc)
        return None


def _configure_from_env() -> Runtime | None:
    global _resolved
    with _lock:
        if _resolved:
            return _runtime
        config = _config.resolve()
        _install(config)
        _resolved = True
        return _runtime


def _on_start(config: Config) -> Any:
    def apply(span: Span) -> None:
        attributes = current_attribution()
        if config.environment and ENVIRONMENT not in attributes:
            span.set_attribute(ENVIRONMENT, config.environment)
        if attributes:
            span.set_attributes(attributes)

    return apply


def _install(config: Config | None) -> None:
    global _runtime, _atexit_registered, _stopped
    _stopped = None
    if config is None:
        _runtime = None
        return
    processor = BoundedSpanProcessor(config, on_start_hook=_on_start(config))
    existing = trace.get_tracer_provider()
    owns = not isinstance(existing, TracerProvider)
    if isinstance(existing, TracerProvider):
        # Someone already runs OpenTelemetry: join their pipeline rather than replace it.
        provider = existing
    else:
        attributes: dict[str, Any] = {"service.name": config.service}
        if config.environment:
            attributes[ENVIRONMENT] = config.environment
        provider = TracerProvider(
            resource=Resource.create(attributes),
            sampler=ParentBased(TraceIdRatioBased(config.sample_rate)),
            shutdown_on_exit=False,
        )
    provider.add_span_processor(processor)
    _runtime = Runtime(
        config=config,
        tracer=provider.get_tracer("tokentrail", VERSION),
        processor=processor,
        scores=ScoreSender(config),
        owns_provider=owns,
    )
    if not _atexit_registered:
        atexit.register(_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_reinit_lock)
        _atexit_registered = True


def _reinit_lock() -> None:
    global _lock
    _lock = threading.Lock()


def configure(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service: str | None = None,
    sample_rate: float | None = None,
    mask: Mask | None = None,
    capture_content: bool | None = None,
    environment: str | None = None,
    spool_dir: str | None = None,
    spool_max_bytes: int | None = None,
) -> None:
    """Configure the SDK; arguments override ``TOKENTRAIL_*``/``OTEL_*`` environment variables.

    Args:
        endpoint: Collector base URL, e.g. ``http://127.0.0.1:4318`` (spans go to
            ``{endpoint}/v1/traces``). Without one anywhere, the SDK is a no-op.
        api_key: Project API key, sent as ``Authorization: Bearer <key>``.
        service: ``service.name`` of the resource.
        sample_rate: Fraction of traces kept, 0 to 1 (decided per trace).
        mask: ``mask(text) -> text`` applied to every prompt/completion/argument attribute
            before export; if it raises, that span's content is dropped.
        capture_content: Record arguments, return values and messages (default true).
        environment: ``deployment.environment.name``.
        spool_dir: A directory where batches the collector cannot take are kept (bounded by
            ``spool_max_bytes``, oldest dropped first) and sent when it is back, also by a later
            process using the same directory. Without one, such batches are dropped.
        spool_max_bytes: Bound of the spool directory (default 256 MiB, at least 1 MiB).

    Raises:
        ValueError: an argument is invalid.
    """
    global _resolved
    config = _config.resolve(
        endpoint=endpoint,
        api_key=api_key,
        service=service,
        sample_rate=sample_rate,
        mask=mask,
        capture_content=capture_content,
        environment=environment,
        spool_dir=spool_dir,
        spool_max_bytes=spool_max_bytes,
    )
    with _lock:
        previous = _runtime
        _install(config)
        _resolved = True
    if previous is not None:
        _stop(previous, previous.config.exit_timeout)
    if config is None:
        logger.info("TokenTrail has no endpoint: tracing is disabled")


def _stop(runtime: Runtime, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    ok = runtime.processor.shutdown(timeout)
    return runtime.scores.shutdown(max(deadline - time.monotonic(), 0.0)) and ok


def flush(timeout: float = 2.0) -> bool:
    """Export what is queued; returns within ``timeout`` seconds, ``True`` if all was sent."""
    runtime = _runtime
    if runtime is None:
        return True
    try:
        deadline = time.monotonic() + timeout
        ok = runtime.processor.flush(timeout)
        return runtime.scores.flush(max(deadline - time.monotonic(), 0.0)) and ok
    except Exception as exc:
        report_internal_error("runtime.flush", exc)
        return False


def shutdown(timeout: float = 2.0) -> bool:
    """Flush within ``timeout`` seconds, then stop; spans left are counted as dropped.

    :func:`stats` keeps reporting the stopped SDK's final counters until it is configured again.
    """
    global _runtime, _resolved, _stopped
    with _lock:
        runtime, _runtime = _runtime, None
        _resolved = True
    if runtime is None:
        return True
    _stopped = runtime
    try:
        return _stop(runtime, timeout)
    except Exception as exc:
        report_internal_error("runtime.shutdown", exc)
        return False


def _at_exit() -> None:
    runtime = _runtime
    if runtime is not None:
        shutdown(runtime.config.exit_timeout)


def stats() -> dict[str, Any]:
    """Span counters of the running SDK.

    ``exported + sum(dropped_by_reason) + queued + spooled == created``, where ``spooled`` counts
    spans this process wrote to the spool that are still there. Spans sent or dropped from the
    spool on behalf of an earlier process are counted apart, in ``spool_recovered``.
    """
    runtime = _runtime or _stopped
    if runtime is None:
        counters: dict[str, Any] = {
            "created": 0,
            "exported": 0,
            "queued": 0,
            "queued_bytes": 0,
            "spooled": 0,
            "dropped": 0,
            "dropped_by_reason": {},
            "mask_errors": 0,
            "spool_files": 0,
            "spool_bytes": 0,
            "spool_recovered": {"exported": 0, "dropped": 0},
        }
    else:
        counters = runtime.processor.stats()
        counters.update(runtime.scores.stats())
    counters["internal_errors"] = internal_error_count()
    return counters


def reset_for_tests() -> None:
    """Forget the configuration so the next call reads the environment again (tests only)."""
    global _runtime, _resolved, _stopped
    with _lock:
        runtime, _runtime = _runtime, None
        _resolved = False
        _stopped = None
    if runtime is not None:
        _stop(runtime, 0.5)
