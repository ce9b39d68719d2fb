"""Scoring benchmark: heuristic-scorer throughput per worker process, and ingest-to-score lag.

    .venv/bin/python -m bench.scoring               # both parts; rewrites the "Scoring"
                                                    # section of docs/benchmarks.md
    .venv/bin/python -m bench.scoring --quick       # smaller, prints only

1. Throughput: realistic traffic (bench/scoring_data.py: chain, retriever and LLM spans, the
   collector's own normalisation) stored in a fresh PostgreSQL database, then the real
   ``score_batch`` run in this one process, batch after batch, until the backlog is empty.
   Spans per second counts every claimed span (the figure the goal is stated in); LLM spans
   per second (the ones the scorers read) is shown beside it.
2. Lag: the real collector (uvicorn) and one real Celery worker (prefork, concurrency 1, beat
   embedded, Redis broker), OTLP sent at a fixed rate; the lag of each span is its first
   score's ``created_at - ingested_at`` read from Postgres, and the worker's own lag
   histogram is scraped from its /metrics endpoint.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from bench.ingest_servers import collector, free_port, fresh_database, running
from bench.scoring_data import make_records, make_request
from core import keys
from core.db import make_engine, make_session_factory
from core.ingest import store_spans
from core.migrate import upgrade
from core.settings import Settings
from workers.scoring import score_batch

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PEPPER = "bench"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    load = os.getloadavg()
    return (f"{names[0] if names else cpu}, {psutil.cpu_count()} CPUs, "
            f"{psutil.virtual_memory().total // 2**30} GiB RAM, Python {platform.python_version()}"
            f", load average at start {load[0]:.1f}")  # fmt: skip


def throughput(traces: int, batch: int) -> dict[str, float]:
    with fresh_database(f"tt_bench_scoring_{uuid.uuid4().hex[:8]}") as url:
        upgrade(url)
        settings = Settings(database_url=url, key_pepper=PEPPER)
        engine = make_engine(settings)
        factory = make_session_factory(engine)
        records = make_records(traces)
        with factory.begin() as session:
            project = keys.create_project(session, "bench")
        for i in range(0, len(records), 500):  # as the collector does: a transaction a batch
            with factory.begin() as session:
                store_spans(session, project.id, records[i : i + 500])
        with factory() as session:  # warm the process: imports, word list, plans
            score_batch(session, batch)
            session.rollback()
        started, cpu0, done = time.perf_counter(), time.process_time(), 0
        while True:
            with factory.begin() as session:
                n = score_batch(session, batch)
            done += n
            if n == 0:
                break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        with psycopg.connect(url) as conn:
            scores = _one(conn, "SELECT count(*) FROM scores")
        engine.dispose()
    llm = sum(r.kind == "llm" for r in records)
    return {"spans": done, "llm_spans": llm, "scores": scores, "seconds": elapsed,
            "spans_per_s": done / elapsed, "llm_per_s": llm / elapsed,
            "cpu_per_span_us": cpu / done * 1e6}  # fmt: skip


def _send(endpoint: str, secret: str, rate: float, seconds: float) -> int:
    """OTLP at ``rate`` spans/s for ``seconds``; returns the spans acknowledged.

    Requests of ~250 spans (an OTel SDK exports up to 512 per batch) are built before the
    clock starts, so the sender's own CPU does not throttle it on a busy machine; every 100 ms
    as many are posted as keep the running total on ``rate``.
    """
    per_request = max(1, round(rate / 2 / 2.35))
    bodies: list[tuple[bytes, int]] = []
    for i in range(int(rate * seconds / (per_request * 2.35)) + 20):
        request = make_request(i * per_request, per_request, 11, time.time_ns())
        spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        bodies.append((request.SerializeToString(), spans))
    acked, tick, next_body = 0, 0, 0
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-protobuf"}
    start = time.monotonic()
    with httpx.Client(timeout=10) as client:
        while time.monotonic() - start < seconds and next_body < len(bodies):
            tick += 1
            time.sleep(max(0.0, start + tick * 0.1 - time.monotonic()))
            due = rate * min(seconds, time.monotonic() - start)
            while acked < due and next_body < len(bodies):
                body, spans = bodies[next_body]
                response = client.post(endpoint, content=body, headers=headers)
                response.raise_for_status()
                acked += spans
                next_body += 1
    return acked


def _one(conn: psycopg.Connection[tuple[Any, ...]], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lag(rate: float, seconds: float) -> dict[str, float]:
    with fresh_database(f"tt_bench_lag_{uuid.uuid4().hex[:8]}") as url:
        upgrade(url)
        settings = Settings(database_url=url, key_pepper=PEPPER)
        engine = make_engine(settings)
        with make_session_factory(engine).begin() as session:
            project = keys.create_project(session, "bench")
            secret = keys.create_key(session, project, ("ingest",), PEPPER).secret
        engine.dispose()
        port, metrics_port = free_port(), free_port()
        command, env, ready = collector(url, port)
        queue = f"tt-bench-{uuid.uuid4().hex[:8]}"
        worker_env = {**os.environ, "TOKENTRAIL_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                      "TOKENTRAIL_BROKER_URL": REDIS_URL, "TOKENTRAIL_CELERY_QUEUE": queue,
                      "TOKENTRAIL_SCORE_INTERVAL_S": "1", "TOKENTRAIL_KEY_PEPPER": PEPPER,
                      "TOKENTRAIL_WORKER_METRICS_PORT": str(metrics_port)}  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_main", "worker", "--beat",
             "--schedule", f"/tmp/{queue}-beat", "--concurrency", "1", "--pool", "prefork",
             "--loglevel", "WARNING", "--hostname", f"{queue}@%h"],
            env=worker_env, cwd=ROOT,
        )  # fmt: skip
        try:
            with running(command, env, ready):
                time.sleep(5)  # the worker's first beat tick and warm-up
                acked = _send(f"http://127.0.0.1:{port}/v1/traces", secret, rate, seconds)
                deadline = time.monotonic() + 120
                with psycopg.connect(url, autocommit=True) as conn:
                    while time.monotonic() < deadline:
                        if _one(conn, "SELECT count(*) FROM scoring_queue") == 0:
                            break
                        time.sleep(0.5)
                    # The first score of each span, written by the batch that scored it
                    # (created_at is the batch transaction's start, so this is a lower bound
                    # by at most one batch; the histogram below is an upper bound).
                    lags = [r[0] for r in conn.execute(
                        "SELECT extract(epoch FROM min(c.created_at) - s.ingested_at)::float"
                        " FROM spans s JOIN scores c USING (project_id, trace_id, span_id)"
                        " GROUP BY s.project_id, s.trace_id, s.span_id, s.ingested_at"
                    )]  # fmt: skip
                    buckets = conn.execute(
                        "SELECT bucket_le, sum(spans)::bigint FROM scoring_lag GROUP BY bucket_le"
                        " ORDER BY bucket_le"
                    ).fetchall()
                    stored = _one(conn, "SELECT count(*) FROM spans")
                scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        finally:
            worker.terminate()
            worker.wait(30)
            Path(f"/tmp/{queue}-beat").unlink(missing_ok=True)
    count = re.search(r"^tokentrail_scoring_lag_seconds_count (\S+)$", scraped, re.M)
    within = re.search(r'^tokentrail_scoring_lag_seconds_bucket\{le="10.0"\} (\S+)$', scraped,
                       re.M)  # fmt: skip
    total, cumulative, hist_p95 = sum(n for _, n in buckets), 0, float("inf")
    for le, n in buckets:
        cumulative += n
        if cumulative >= 0.95 * total:
            hist_p95 = le
            break
    return {"acked": acked, "stored": stored, "scored_llm": len(lags), "rate": acked / seconds,
            "hist_p95_le": hist_p95,
            "p50": statistics.median(lags), "p95": _percentile(lags, 0.95),
            "p99": _percentile(lags, 0.99), "max": max(lags),
            "metric_count": float(count.group(1)) if count else -1,
            "metric_within_10s": float(within.group(1)) if within else -1}  # fmt: skip


def section(env: str, t: dict[str, float], lg: dict[str, float], args: argparse.Namespace) -> str:
    tp_ok = "met" if t["spans_per_s"] >= 2000 else "NOT met"
    lag_ok = "met" if max(lg["p95"], lg["hist_p95_le"]) <= 10 else "NOT met"
    return f"""## Scoring

Command: `.venv/bin/python -m bench.scoring` (bench/scoring.py; traffic from
bench/scoring_data.py). Machine: {env}. The machine is shared with other work, so figures move
from run to run.

**Throughput of the heuristic scorers, one worker process** (the real `score_batch`, batches of
{args.batch}, on {int(t["spans"]):,} stored spans of {args.traces:,} realistic traces: chain,
retriever and LLM spans; all eight built-in scorers):

| spans scored | LLM spans among them | scores written | seconds | spans/s | LLM spans/s | CPU per span |
|---:|---:|---:|---:|---:|---:|---:|
| {int(t["spans"]):,} | {int(t["llm_spans"]):,} | {int(t["scores"]):,} | {t["seconds"]:.1f} | **{t["spans_per_s"]:,.0f}** | {t["llm_per_s"]:,.0f} | {t["cpu_per_span_us"]:.0f} µs |

CPU time of the scoring process: {t["cpu_per_span_us"]:.0f} µs per span, i.e.
{1e6 / t["cpu_per_span_us"]:,.0f} spans per CPU-second (the rest of the wall time is PostgreSQL
and waiting for a CPU on this shared machine). Goal ≥ 2,000 spans/s per worker process:
**{tp_ok}** (wall clock).

**Ingest-to-score lag** (the real collector and one real Celery worker, prefork, concurrency 1,
beat every 1 s; OTLP protobuf, requests of ~250 spans, sent at {args.rate:.0f} spans/s for {args.seconds:.0f} s).
Per span: its first score's `created_at` (the scoring transaction's start) minus its
`ingested_at`, over the {int(lg["scored_llm"]):,} spans that got scores; and the worker's own
histogram over all {int(lg["stored"]):,} stored spans (lag taken after the batch's scoring):

| spans acknowledged | achieved rate | p50 | p95 | p99 | max | histogram: p95 bucket | metric count / ≤ 10 s |
|---:|---:|---:|---:|---:|---:|---:|---:|
| {int(lg["acked"]):,} | {lg["rate"]:.0f}/s | {lg["p50"]:.2f} s | **{lg["p95"]:.2f} s** | {lg["p99"]:.2f} s | {lg["max"]:.2f} s | ≤ {lg["hist_p95_le"]:g} s | {int(lg["metric_count"]):,} / {int(lg["metric_within_10s"]):,} |

Goal p95 ≤ 10 s at 500 spans/s: **{lag_ok}**. The lag is exported by the worker as the
Prometheus histogram `tokentrail_scoring_lag_seconds` (with `tokentrail_scoring_backlog_spans`
and `tokentrail_scoring_oldest_unscored_age_seconds`) on `TOKENTRAIL_WORKER_METRICS_PORT`.
"""  # noqa: E501


def write_docs(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    pattern = re.compile(r"^## Scoring\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(text + "\n", doc) if pattern.search(doc) else doc.rstrip() + "\n\n" + text
    DOC.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run, print only")
    parser.add_argument("--traces", type=int, default=8_000)
    parser.add_argument("--batch", type=int, default=Settings().score_batch_size)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.quick:
        args.traces, args.seconds = 3000, 15.0
    env = machine()
    t = throughput(args.traces, args.batch)
    print("throughput", t, flush=True)
    lg = lag(args.rate, args.seconds)
    print("lag", lg, flush=True)
    text = section(env, t, lg, args)
    print(text)
    if not args.quick:
        write_docs(text)


if __name__ == "__main__":
    main()
