"""The sending half of the span processor: one thread that delivers encoded batches in order.

The processor's worker encodes a batch (pure Python, holding the GIL) while this thread sends
the previous one (gzip and the network, mostly outside the GIL), so that both overlap. One
batch waits here while one is being sent; the worker blocks on a third, never the host.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from tokentrail._config import Config
from tokentrail._errors import report_internal_error
from tokentrail._transport import OtlpSender, Outcome

#: An encoded batch: its id, the OTLP request, its span count, how many masks failed in it.
Job = tuple[int, bytes, int, int]


class SendStage:
    """Owns the OTLP sender and the thread that calls ``deliver`` for each handed-off job."""

    def __init__(
        self,
        config: Config,
        sender_factory: Callable[[Config], OtlpSender],
        deliver: Callable[[Job], None],
    ) -> None:
        self._config = config
        self._sender_factory = sender_factory
        self._deliver = deliver
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._sender: OtlpSender | None = None

    def send(self, payload: bytes) -> Outcome:
        """Send one request now, on the calling thread (the stage's own, or the worker's)."""
        if self._sender is None:
            self._sender = self._sender_factory(self._config)
        return self._sender.send(payload)

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job: Job) -> None:
        """Queue ``job`` for the thread (waiting while it is full); deliver it here if the
        thread cannot run (the interpreter is exiting)."""
        if not self._alive():
            thread = threading.Thread(target=self._run, name="tokentrail-send", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                self._deliver(job)
                return
            self._thread = thread
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait until every submitted job has been delivered."""
        if self._alive():
            self._jobs.join()

    def stop(self) -> None:
        """Let the thread finish the jobs it has, then end."""
        if self._alive():
            self._jobs.put(None)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._deliver(job)
            except Exception as exc:
                report_internal_error("processor.sender", exc)
            finally:
                self._jobs.task_done()
