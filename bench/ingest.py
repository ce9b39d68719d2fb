"""Ingest benchmark: TokenTrail's collector against Arize Phoenix and the raw COPY ceiling.

    .venv/bin/python bench/ingest.py            # full run, updates docs/benchmarks.md
    .venv/bin/python bench/ingest.py --quick    # small run, prints only
    .venv/bin/python bench/ingest.py --no-phoenix --no-docs   # TokenTrail and COPY only

Each system gets a fresh database on the same PostgreSQL and the same OTLP protobuf load
(realistic LLM spans, 1-2 KB prompts). "Persisted" counts rows in the database, so a server
that answers before it writes (Phoenix) is measured by when its rows exist.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from ingest_load import LoadResult, make_bodies, send_all
from ingest_servers import (
    Sampler,
    Usage,
    collector,
    count_rows,
    free_port,
    fresh_database,
    phoenix,
    running,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector import otlp  # noqa: E402
from collector.normalise import normalise_batch  # noqa: E402
from collector.spans import read_batch  # noqa: E402
from core import keys  # noqa: E402
from core.db import make_engine, make_session_factory  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.span_copy import staged_columns  # noqa: E402


@dataclass
class Run:
    system: str
    batch: int
    concurrency: int
    load: LoadResult
    persisted: int
    persisted_s: float
    server: Usage
    postgres: Usage

    def row(self) -> str:
        acked = self.load.acknowledged_spans / self.load.elapsed_s
        persisted = self.persisted / self.persisted_s if self.persisted_s else 0.0
        failures = ",".join(f"{k}x{v}" for k, v in sorted(self.load.failures.items())) or "-"
        p50, p99 = self.load.percentile(0.5) * 1000, self.load.percentile(0.99) * 1000
        server, pg = self.server, self.postgres
        cells = [self.system, self.batch, self.concurrency, f"{acked:,.0f}", f"{persisted:,.0f}",
                 f"{self.persisted:,}", f"{p50:.0f}", f"{p99:.0f}", f"{server.cpu_s:.1f}",
                 f"{server.peak_rss_mb:.0f}", f"{pg.cpu_s:.1f}", failures]  # fmt: skip
        return "| " + " | ".join(str(c) for c in cells) + " |"

    @property
    def persisted_rate(self) -> float:
        return self.persisted / self.persisted_s if self.persisted_s else 0.0


COLUMNS = ["system", "batch", "concurrency", "acknowledged spans/s", "persisted spans/s",
           "persisted spans", "p50 ms", "p99 ms", "server CPU s", "server peak RSS MB",
           "PostgreSQL CPU s", "non-200"]  # fmt: skip
HEADER = "| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|"


METHOD = [
    "Each system gets a fresh database on the same PostgreSQL and the same OTLP/HTTP protobuf "
    "load: traces of one agent span and three LLM spans with OTel GenAI attributes and 1-2 KB "
    "prompts (about 2 KB per span on the wire). *Acknowledged* counts spans in 200 answers; "
    "*persisted* counts rows in the system's `spans` table, timed until the last one appears "
    "(TokenTrail answers after its commit, so the two agree; Phoenix answers before it "
    "writes). The COPY ceiling is psycopg binary COPY of the same normalised rows into a copy "
    "of the `spans` table (same indexes), one transaction per batch, on one connection, "
    "best of three. "
    "Server CPU and RSS are the server process tree; PostgreSQL CPU is the backends serving "
    "that database. TokenTrail's collector is one uvicorn process unless the row says "
    "otherwise; *N processes* is `uvicorn --workers N` on the same port (what "
    "`tokentrail up --workers N` and `TOKENTRAIL_COLLECTOR_WORKERS` in docker-compose run), "
    "on the same cores as PostgreSQL and the load generator.",
]


def wait_persisted(
    url: str, table: str, before: int, target: int, began: float
) -> tuple[int, float]:
    """Rows added since ``before`` and when the last arrived (servers that ack early lag)."""
    deadline, last, last_at = time.monotonic() + 600, -1, time.perf_counter()
    while time.monotonic() < deadline:
        now = count_rows(url, table) - before
        if now != last:
            last, last_at = now, time.perf_counter()
        if now >= target or time.perf_counter() - last_at > 15:
            break
        time.sleep(0.05)
    return last, last_at - began


def measure(system: str, url: str, endpoint: str, headers: dict[str, str], server: Sampler,
            batch: int, concurrency: int, spans: int, seed: int) -> Run:  # fmt: skip
    bodies = make_bodies(batch, max(1, spans // batch), seed)
    before = count_rows(url, "spans")
    with Sampler(database=url.rpartition("/")[2]) as pg, server:
        began = time.perf_counter()
        load = send_all(endpoint, headers, bodies, batch, concurrency)
        persisted, took = wait_persisted(url, "spans", before, load.acknowledged_spans, began)
    usage = Usage(server.usage.cpu_s, server.usage.peak_rss_mb)
    run = Run(system, batch, concurrency, load, persisted, took, usage, pg.usage)
    print(run.row(), flush=True)
    return run


def tokentrail_runs(
    args: argparse.Namespace,
    label: str = "TokenTrail",
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> list[Run]:
    with fresh_database(f"bench_tokentrail_{len(label)}_{os.getpid()}") as url:
        upgrade(url)
        engine = make_engine(Settings(database_url=url), pool_size=1)
        with make_session_factory(engine).begin() as session:
            project = keys.create_project(session, "bench")
            secret = keys.create_key(session, project, ("ingest",), "bench").secret
        engine.dispose()
        port = free_port()
        command, server_env, ready = collector(url, port, workers)
        with running(command, {**server_env, **(env or {})}, ready) as process:
            return _matrix(label, url, f"http://127.0.0.1:{port}/v1/traces",
                           {"Authorization": f"Bearer {secret}"}, process, args)  # fmt: skip


def phoenix_runs(args: argparse.Namespace) -> list[Run]:
    with fresh_database(f"bench_phoenix_{os.getpid()}") as url, tempfile.TemporaryDirectory() as wd:
        port = free_port()
        with running(*phoenix(url, port, Path(wd))) as process:
            return _matrix("Phoenix", url, f"http://127.0.0.1:{port}/v1/traces", {}, process, args)


def _matrix(system: str, url: str, endpoint: str, headers: dict[str, str], process: object,
            args: argparse.Namespace) -> list[Run]:  # fmt: skip
    runs = []
    seed = hash(system) & 0xFFFF
    for batch in args.batches:
        for concurrency in args.concurrency:
            seed += 1
            server = Sampler(root=process)  # type: ignore[arg-type]
            runs.append(measure(system, url, endpoint, headers, server, batch, concurrency,
                                args.spans, seed))  # fmt: skip
    return runs


def copy_ceiling(spans: int, batch: int) -> float:
    """Spans/s of binary COPY of the same normalised rows into an equivalent table."""
    records = []
    for body in make_bodies(batch, max(1, spans // batch), 99):
        raw = read_batch(otlp.decode_request(body, otlp.Encoding.PROTOBUF))
        records.extend(normalise_batch(raw.spans)[0])
    names, types = staged_columns()
    rows = [[r.as_row(1)[n] for n in names] for r in records]
    json_columns = [i for i, t in enumerate(types) if t == "jsonb"]
    for row in rows:
        for i in json_columns:
            row[i] = psycopg.types.json.Jsonb(row[i])
    statement = f"COPY copy_ceiling ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    best = 0.0
    with fresh_database(f"bench_copy_{os.getpid()}") as url, psycopg.connect(url) as conn:
        upgrade(url)
        conn.execute("CREATE TABLE copy_ceiling (LIKE spans INCLUDING ALL)")
        conn.commit()
        for _ in range(3):  # the best of three: a ceiling, not an average
            conn.execute("TRUNCATE copy_ceiling")
            conn.commit()
            began = time.perf_counter()
            for start in range(0, len(rows), batch):
                with conn.cursor().copy(statement) as copy:
                    copy.set_types(list(types))
                    for row in rows[start : start + batch]:
                        copy.write_row(row)
                conn.commit()
            best = max(best, len(rows) / (time.perf_counter() - began))
    return best


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())  # fmt: skip
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with psycopg.connect(url_for_admin()) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    return (f"{os.cpu_count()} CPUs ({cpu}), {ram:.0f} GiB RAM, PostgreSQL {version}, "
            f"Python {platform.python_version()}")  # fmt: skip


def url_for_admin() -> str:
    from ingest_servers import ADMIN_URL

    return ADMIN_URL


def summary(ours: list[Run], theirs: list[Run], ceiling: dict[int, float]) -> list[str]:
    lines = []
    for label in dict.fromkeys(r.system for r in ours):
        runs = [r for r in ours if r.system == label]
        lines += [f"**{label}**:", ""]
        for batch, copy_rate in sorted(ceiling.items()):
            best = max((r for r in runs if r.batch == batch), key=lambda r: r.persisted_rate)
            lines.append(f"- batch {batch}: best {best.persisted_rate:,.0f} persisted spans/s "
                         f"(concurrency {best.concurrency}) = "
                         f"{best.persisted_rate / copy_rate:.0%} of the binary-COPY ceiling "
                         f"({copy_rate:,.0f} spans/s)")  # fmt: skip
        for mine in runs:
            other = next((r for r in theirs if (r.batch, r.concurrency) ==
                          (mine.batch, mine.concurrency)), None)  # fmt: skip
            if other is not None and other.persisted_rate:
                ratio = mine.persisted_rate / other.persisted_rate
                lines.append(f"- batch {mine.batch}, concurrency {mine.concurrency}: persists "
                             f"{ratio:.1f}x Phoenix's rate")  # fmt: skip
        lines += [*verdicts(runs, theirs, ceiling), ""]
    return lines


def verdicts(ours: list[Run], theirs: list[Run], ceiling: dict[int, float]) -> list[str]:
    """The two goals, judged on each system's best persisted rate."""
    best = max(r.persisted_rate for r in ours)
    copy_rate = max(ceiling.values())
    lines = [f"- goal >= 50 % of the COPY ceiling: {'met' if best >= copy_rate / 2 else 'MISSED'}"
             f" ({best:,.0f} of {copy_rate:,.0f} spans/s)"]  # fmt: skip
    if theirs:
        phoenix = max(r.persisted_rate for r in theirs)
        lines.append(f"- goal >= 10x Phoenix: {'met' if best >= 10 * phoenix else 'MISSED'} "
                     f"({best:,.0f} vs {phoenix:,.0f} spans/s, {best / phoenix:.1f}x)")  # fmt: skip
    return lines


def write_docs(section: str) -> None:
    """Replace the "Ingest" section of docs/benchmarks.md, keeping every other section."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find("\n## Ingest\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + (text[end:] if end != -1 else "")
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=4_096, help="spans per run")
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 512])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--no-phoenix", action="store_true")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument(
        "--no-redaction-off", dest="also_without_redaction", action="store_false",
        help="skip the second TokenTrail run with server-side redaction off",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2],
        help="collector processes (uvicorn --workers): one TokenTrail run per count",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="2,048 spans per run, no docs")
    args = parser.parse_args()
    if args.quick:
        args.spans, args.no_docs, args.also_without_redaction = 2_048, True, False
    load_before = os.getloadavg()
    print(HEADER, flush=True)
    ours: list[Run] = []
    for workers in args.workers:
        label = "TokenTrail" if workers == 1 else f"TokenTrail, {workers} processes"
        ours += tokentrail_runs(args, label, workers=workers)
    if args.also_without_redaction:
        off = {"TOKENTRAIL_REDACTION": "false"}
        ours += tokentrail_runs(args, "TokenTrail, redaction off", off)
    theirs = [] if args.no_phoenix else phoenix_runs(args)
    ceiling = {batch: copy_ceiling(args.spans, batch) for batch in args.batches}
    load_after = os.getloadavg()
    lines = summary(ours, theirs, ceiling)
    print("\n".join(lines))
    section = "\n".join([
        "## Ingest", "",
        f"Command: `.venv/bin/python bench/ingest.py` ({args.spans:,} spans per run, "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", "",
        f"Machine: {machine()}. Load average (1 min) {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; the load generator shares the machine.", "",
        *METHOD, "", HEADER, *(r.row() for r in ours + theirs), "",
        *(f"- binary COPY ceiling, batch {b}: {rate:,.0f} spans/s" for b, rate in
          sorted(ceiling.items())), *lines, "",
    ])  # fmt: skip
    if not args.no_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
