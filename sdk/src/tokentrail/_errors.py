"""The SDK's own failures: logged once per place, counted, never raised into the host."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("tokentrail")

_lock = threading.Lock()
_seen: set[str] = set()
_count = 0
# Test suites register a listener here to turn swallowed internal errors into failures.
_listeners: list[Callable[[str, BaseException], None]] = []


def report_internal_error(where: str, exc: BaseException) -> None:
    """Record an error raised by TokenTrail's own code; never raises.

    Args:
        where: A short, stable name for the place that failed (used to log once).
        exc: The exception that was caught.
    """
    global _count
    try:
        with _lock:
            _count += 1
            first = where not in _seen
            _seen.add(where)
        if first:
            logger.error(
                "TokenTrail internal error in %s (logged once; the host app is unaffected)",
                where,
                exc_info=exc,
            )
        for listener in tuple(_listeners):
            listener(where, exc)
    except Exception:  # noqa: S110 - the error reporter itself must never raise
        pass


def internal_error_count() -> int:
    """How many internal errors were swallowed in this process."""
    return _count


def add_listener(listener: Callable[[str, BaseException], None]) -> None:
    """Call ``listener(where, exc)`` for every swallowed internal error (used by tests)."""
    _listeners.append(listener)


def remove_listener(listener: Callable[[str, BaseException], None]) -> None:
    """Stop calling a listener added with :func:`add_listener`."""
    if listener in _listeners:
        _listeners.remove(listener)


def reset_after_fork() -> None:
    """A lock held by another thread at fork time would deadlock the child: replace it."""
    global _lock
    _lock = threading.Lock()
