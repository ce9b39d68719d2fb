"""Group commit: export requests that arrive while a transaction is running share the next one.

Each request still answers only after the commit that holds its spans. A few writer threads
take whatever requests are waiting (up to ``max_spans`` spans) and store them in one
transaction, so concurrent small batches pay for one commit, one set of summary upserts and
one connection instead of one each. If such a shared transaction fails for a reason that is
not transient (a value PostgreSQL refuses), each request is retried alone, so one bad batch
never fails its neighbours.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from core.errors import UnavailableError
from core.ingest import SpanRecord, store_spans
from core.settings import Settings

logger = logging.getLogger(__name__)

TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, UnavailableError)


@dataclass(eq=False)
class _Job:
    project_id: int
    records: list[SpanRecord]
    done: threading.Event = field(default_factory=threading.Event)
    taken: bool = False
    stored: int = 0
    error: BaseException | None = None


class Committer:
    """Stores span batches through ``writers`` threads, several requests per transaction."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self._factory, self._writers = factory, max(1, settings.ingest_writers)
        # A request waits for a writer as long as it would wait for a pooled connection.
        self._pickup_s = settings.db_pool_timeout_s
        self._max_spans = settings.ingest_group_max_spans
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def store(self, project_id: int, records: list[SpanRecord]) -> int:
        """Store ``records`` and return after their commit; new spans are counted once, on
        one of the requests that shared the transaction (only the sum is meaningful)."""
        job = _Job(project_id, records)
        with self._ready:
            if self._closed:
                raise UnavailableError("the collector is shutting down; retry later")
            self._start()
            self._queue.append(job)
            self._ready.notify()
        if not job.done.wait(self._pickup_s):
            with self._ready:
                if not job.taken:  # every writer is stuck: answer now instead of queueing
                    self._queue.remove(job)
                    raise UnavailableError("the database is busy; retry later")
            job.done.wait()  # taken: bounded by the statement timeout
        if job.error is not None:
            raise job.error
        return job.stored

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)

    def _start(self) -> None:
        while len(self._threads) < self._writers:
            thread = threading.Thread(target=self._run, name="span-writer", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                jobs = self._take()
            self._commit(jobs)

    def _take(self) -> list[_Job]:
        jobs: list[_Job] = []
        spans = 0
        while self._queue and (not jobs or spans + len(self._queue[0].records) <= self._max_spans):
            job = self._queue.popleft()
            job.taken = True
            jobs.append(job)
            spans += len(job.records)
        return jobs

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            self._store_together(jobs)
        except Exception as exc:  # boundary: the error belongs to the waiting requests
            if len(jobs) == 1 or isinstance(exc, TRANSIENT):
                for job in jobs:
                    job.error = exc
            else:
                for job in jobs:
                    self._store_alone(job)
        finally:
            for job in jobs:
                job.done.set()

    def _store_together(self, jobs: list[_Job]) -> None:
        by_project: dict[int, list[_Job]] = {}
        for job in jobs:
            by_project.setdefault(job.project_id, []).append(job)
        with self._factory.begin() as session:
            stored = {
                project_id: store_spans(session, project_id, [r for j in group for r in j.records])
                for project_id, group in sorted(by_project.items())
            }
        for project_id, group in by_project.items():
            group[0].stored = stored[project_id]

    def _store_alone(self, job: _Job) -> None:
        try:
            with self._factory.begin() as session:
                job.stored = store_spans(session, job.project_id, job.records)
        except Exception as exc:  # boundary: handed to the request that sent the batch
            job.error = exc
