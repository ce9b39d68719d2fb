"""Feedback scores, POSTed to ``{endpoint}/api/v1/scores`` from a background thread.

``score()`` only enqueues (bounded: a full queue drops and counts), so it never blocks or raises.
Each POST has a short timeout and reads at most 64 KiB of the answer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from typing import Any

from tokentrail._config import Config
from tokentrail._errors import report_internal_error
from tokentrail._transport import MAX_RESPONSE_BYTES, read_bounded

logger = logging.getLogger("tokentrail")

MAX_PENDING_SCORES = 1000
POST_TIMEOUT = 5.0
_RETRY_STATUSES = {429, 502, 503, 504}
_senders: weakref.WeakSet[ScoreSender] = weakref.WeakSet()
_fork_hook_installed = False


def _reinit_in_child() -> None:
    for sender in list(_senders):
        sender.reinit_after_fork()


class ScoreSender:
    """A bounded queue of score bodies and the daemon thread that posts them."""

    def __init__(self, config: Config) -> None:
        global _fork_hook_installed
        self._config = config
        self._init_state()
        _senders.add(self)
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_reinit_in_child)
            _fork_hook_installed = True

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._pending: deque[dict[str, Any]] = deque()
        self._busy = 0
        self._sent = 0
        self._dropped = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh lock, empty queue, no thread (started again on demand)."""
        self._init_state()

    def submit(self, body: dict[str, Any]) -> None:
        """Queue one score body; drops (and counts) when the queue is full or stopped."""
        with self._cond:
            if self._stopping or len(self._pending) >= MAX_PENDING_SCORES:
                self._dropped += 1
                return
            self._pending.append(body)
            self._cond.notify_all()
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._run, name="tokentrail-scores", daemon=True)
                try:
                    thread.start()
                except RuntimeError:
                    return
                self._thread = thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                body = self._pending.popleft()
                self._busy = 1
            ok = self._post(body)
            with self._cond:
                self._busy = 0
                if ok:
                    self._sent += 1
                else:
                    self._dropped += 1
                self._cond.notify_all()

    def _post(self, body: dict[str, Any]) -> bool:
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json", **self._config.auth_headers()}
        deadline = time.monotonic() + POST_TIMEOUT
        while True:
            request = urllib.request.Request(  # noqa: S310 - the URL is the configured endpoint
                self._config.scores_url, data=data, headers=headers, method="POST"
            )
            status, retry_after = self._send(request, max(deadline - time.monotonic(), 0.1))
            if status is not None and 200 <= status < 300:
                return True
            if status not in _RETRY_STATUSES or time.monotonic() + retry_after > deadline:
                logger.debug("TokenTrail score not accepted (status %s)", status)
                return False
            time.sleep(retry_after)

    @staticmethod
    def _send(request: urllib.request.Request, timeout: float) -> tuple[int | None, float]:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                read_bounded(response, MAX_RESPONSE_BYTES, time.monotonic() + timeout)
                return int(response.status), 0.0
        except urllib.error.HTTPError as exc:
            retry = exc.headers.get("retry-after", "1") if exc.headers else "1"
            try:
                delay = max(float(retry), 0.0)
            except ValueError:
                delay = 1.0
            exc.close()
            return exc.code, delay
        except (OSError, ValueError):
            return None, 0.0
        except Exception as exc:
            report_internal_error("scores.post", exc)
            return None, 0.0

    def flush(self, timeout: float) -> bool:
        """Wait until queued scores are posted (or dropped), at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout``, then stop; what is left is counted as dropped."""
        ok = self.flush(timeout)
        with self._cond:
            self._dropped += len(self._pending)
            self._pending.clear()
            self._stopping = True
            self._cond.notify_all()
        return ok

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"scores_sent": self._sent, "scores_dropped": self._dropped}
