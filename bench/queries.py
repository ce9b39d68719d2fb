"""Query benchmark: load N generated spans through ``core.ingest.store_spans`` into a fresh
database, then time every read API call and every dashboard page's data calls.

    .venv/bin/python -m bench.queries --spans 10000000

The database server is ``TOKENTRAIL_BENCH_ADMIN_URL`` (default: the local test server); the
database is created fresh and kept afterwards (``--keep``) or dropped. Results print as a
Markdown section for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import psutil
import psycopg
from psycopg import sql

from bench.queries_data import Generator, batches
from core.db import make_engine, make_session_factory
from core.ingest import store_spans
from core.migrate import upgrade
from core.settings import Settings

ADMIN_URL = os.environ.get(
    "TOKENTRAIL_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PEPPER = "bench-pepper"
#: Built after the load instead of maintained row by row: how bulk loads are done.
DEFERRED_INDEXES = ("ix_spans_project_input_text_trgm", "ix_spans_project_output_text_trgm")


@dataclass
class Timing:
    name: str
    samples: list[float]

    def row(self, goal_ms: float | None) -> str:
        p50 = statistics.median(self.samples)
        p95 = statistics.quantiles(self.samples, n=20)[-1] if len(self.samples) > 1 else p50
        verdict = "" if goal_ms is None else ("yes" if p95 <= goal_ms else "**no**")
        goal = "" if goal_ms is None else f"{goal_ms:.0f}"
        return f"| {self.name} | {p50:.1f} | {p95:.1f} | {goal} | {verdict} |"


def url_for(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def fresh_database() -> str:
    name = f"tt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def index_definitions(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
            [list(DEFERRED_INDEXES)],
        ).fetchall()
    return {str(n): str(d) for n, d in rows}


def load_share(url: str, project_id: int, spans: int, batch: int, seed: int) -> int:
    """One loader process: ``spans`` spans from its own generator, stored batch by batch."""
    settings = Settings(database_url=url, key_pepper=PEPPER, db_statement_timeout_ms=0)  # type: ignore[arg-type]
    engine = make_engine(settings, pool_size=1)
    factory = make_session_factory(engine)
    stored, began = 0, time.perf_counter()
    for chunk in batches(Generator(seed).spans(spans), batch):
        with factory.begin() as session:
            stored += store_spans(session, project_id, chunk)
        if stored // 100_000 != (stored - len(chunk)) // 100_000:
            rate = stored / (time.perf_counter() - began)
            print(f"  loader {seed}: {stored:,} spans, {rate:,.0f}/s", flush=True)
    engine.dispose()
    return stored


def load(url: str, spans: int, batch: int, seed: int, workers: int) -> tuple[int, float]:
    """Store ``spans`` generated spans with ``workers`` processes; (project id, spans/s)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO projects (name) VALUES ('bench') RETURNING id").fetchone()
    project_id = int(row[0]) if row else 0
    began = time.perf_counter()
    share = -(-spans // workers)
    with ProcessPoolExecutor(workers) as pool:
        seeds = [seed + w for w in range(workers)]
        stored = sum(
            pool.map(
                load_share,
                [url] * workers,
                [project_id] * workers,
                [share] * workers,
                [batch] * workers,
                seeds,
            )
        )
    return project_id, stored / (time.perf_counter() - began)


def prepare(url: str, args: argparse.Namespace) -> tuple[int, float, float]:
    """Migrate, load (trigram indexes deferred), build indexes, analyse; (project, rate, s)."""
    upgrade(url)
    definitions = index_definitions(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for name in definitions:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    project_id, rate = load(url, args.spans, args.batch, args.seed, args.workers)
    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for definition in definitions.values():
            conn.execute(definition)  # text from pg_indexes of this very database
        conn.execute("VACUUM ANALYZE")
    return project_id, rate, time.perf_counter() - began


def measure(name: str, call: Callable[[int], Any], repeat: int) -> Timing:
    call(0)  # warm the cache and the plan once
    samples = []
    for i in range(repeat):
        began = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - began) * 1000.0)
    return Timing(name, samples)


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    load1, load5, load15 = os.getloadavg()
    return (
        f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
        f"{memory:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"load average at the end {load1:.2f} {load5:.2f} {load15:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    # Large batches: the write path's per-batch work (locks, duplicate-call check, rollup
    # upserts) is paid once per batch.
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="loader processes")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="measure an already loaded bench database")
    args = parser.parse_args()
    from bench.queries_measure import report, run_measurements

    name = args.database or fresh_database()
    url = url_for(name)
    try:
        if args.database:
            project_id, rate, index_s = 1, float("nan"), float("nan")
        else:
            print(f"loading {args.spans:,} spans into {name}", flush=True)
            project_id, rate, index_s = prepare(url, args)
        timings, plans, counts = run_measurements(url, project_id, args.repeat)
        print(report(args, timings, plans, counts, rate, index_s, machine()))
    finally:
        if not (args.keep or args.database):
            drop_database(name)


if __name__ == "__main__":
    main()
