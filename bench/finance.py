"""Finance benchmark: a month's cost report by team × model, and re-pricing a million spans.

    .venv/bin/python -m bench.finance --spans 10000000 --reprice 1000000

Spans are generated *set-based in SQL* (``INSERT … SELECT … FROM generate_series``) with
realistic mixes (six models by share, five teams, six features, eight customers, 400 users
with a skewed activity, long-tailed token counts and latencies, 8-12 % unattributed, 3 %
reported costs, 1 % errors) spread evenly over the month because the Python write path
(~1,300 spans/s on this machine) would need two days for ten million. They carry no prompt or
completion text. The rollups are then built with the reconciliation code's own recompute
(``core.rollups.expected_sql``, a day at a time), and the trace summaries by one
``INSERT … SELECT`` per chunk. ``--keep --load-only`` generates a database once; ``--database``
measures a kept one again.

Measured: ``core.cost_reports.cost_report`` for the month grouped by team × model (the
function, and ``GET /api/v1/costs`` through the ASGI app), p50/p95 over repeated calls; a
re-pricing job over ``--reprice`` candidate spans run by ``core.repricing.run_jobs`` (the
worker's function), its throughput, and a reconciliation of the month afterwards (must be
clean). Prints a markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psutil
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import keys, price_jobs, repricing, rollups
from core.cost_reports import cost_report
from core.costs import cost_query
from core.db import make_engine, make_session_factory
from core.migrate import upgrade
from core.models import PriceOverride, Project
from core.models_finance import RepricingJob
from core.prices import PriceOverrideIn
from core.settings import Settings

logger = logging.getLogger(__name__)
ADMIN_URL = os.environ.get(
    "TOKENTRAIL_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PEPPER = "bench-pepper"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)
CHUNK = 1_000_000
PROJECT = "bench-finance"
DIMS = ", ".join(rollups.DIMENSIONS)
MEASURES = ", ".join(rollups.MEASURES)
#: (provider, model, share %, $/Mtok input, $/Mtok output): the mix and prices used to cost
#: the generated spans (prices as genai-prices has them for these models).
MODELS = (
    ("openai", "gpt-4o-mini", 38, "0.15", "0.6"),
    ("openai", "gpt-4o", 20, "2.5", "10"),
    ("anthropic", "claude-sonnet-4-5", 16, "3", "15"),
    ("anthropic", "claude-haiku-4-5", 12, "1", "5"),
    ("gcp.gemini", "gemini-2.5-flash", 10, "0.3", "2.5"),
    ("openai", "text-embedding-3-small", 4, "0.02", "0"),
)
TEAMS = ("search", "support", "growth", "platform", "research")
FEATURES = ("chat", "summarise", "classify", "extract", "search-rerank", "draft-email")
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")


def _prices(field: int) -> str:
    return "ARRAY[" + ", ".join(str(m[field]) for m in MODELS) + "]::numeric[]"


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def generate_sql() -> str:
    """One chunk of spans: ``:lo``..``:hi`` of ``:n`` spread evenly over the month.

    Dimensions are correlated as in real traffic: a user (400, skewed activity) belongs to one
    customer and one team and uses two features; a feature runs in one service and mostly on
    one model (60 %), the rest follows the overall model mix.
    """
    seconds = int((MONTH_END - MONTH_START).total_seconds())
    providers = _array(tuple(m[0] for m in MODELS))
    models = _array(tuple(m[1] for m in MODELS))
    return f"""
    INSERT INTO spans (project_id, trace_id, span_id, parent_span_id, name, kind, status,
        start_time, end_time, duration_ms, provider, request_model, response_model, operation,
        input_tokens, output_tokens, cache_read_tokens, total_tokens, usage_source, cost,
        cost_source, price_ref, user_id, session_id, team, feature, customer, environment,
        service, input, output, documents)
    SELECT :project_id, lpad(to_hex(g / 4 + 1), 32, '0'), lpad(to_hex(g + 1), 16, '0'), NULL,
        'chat ' || model, CASE WHEN model LIKE 'text-embedding%' THEN 'embedding' ELSE 'llm' END,
        CASE WHEN r4 < 0.01 THEN 'error' ELSE 'ok' END, t, t + make_interval(secs => dur / 1000.0),
        dur, provider, model, model, 'chat', tin, tout, tin / 5, tin + tout, 'reported',
        CASE WHEN r4 > 0.97 THEN round((tin * 1.1 * pin + tout * pout) / 1e6, 10)
             ELSE round((tin * pin + tout * pout) / 1e6, 10) END,
        CASE WHEN r4 > 0.97 THEN 'reported' ELSE 'computed' END,
        CASE WHEN r4 > 0.97 THEN 'reported:bench' ELSE 'bench:' || model END,
        'user-' || u, 'session-' || g / 12,
        CASE WHEN u % 13 = 0 THEN NULL ELSE ({_array(TEAMS)})[u % {len(TEAMS)} + 1] END,
        CASE WHEN r7 > 0.98 THEN NULL ELSE ({_array(FEATURES)})[f + 1] END,
        CASE WHEN u % 9 = 0 THEN NULL ELSE ({_array(CUSTOMERS)})[u % {len(CUSTOMERS)} + 1] END,
        CASE WHEN u % 20 = 0 THEN 'staging' ELSE 'prod' END,
        (ARRAY['api', 'worker', 'web'])[f % 3 + 1],
        'null'::jsonb, 'null'::jsonb, 'null'::jsonb
    FROM (
        SELECT g, t, u, f, ({providers})[m] AS provider, ({models})[m] AS model, r4, r7,
            ({_prices(3)})[m] AS pin, ({_prices(4)})[m] AS pout,
            (exp(4 + 3.5 * r2))::int AS tin,
            CASE WHEN ({models})[m] LIKE 'text-embedding%' THEN 0
                 ELSE (exp(3 + 3 * r3))::int END AS tout,
            (200 + exp(5 + 3.5 * r3))::float8 AS dur
        FROM (
            SELECT g, u, f, r2, r3, r4, r7,
                CASE WHEN r1 < 0.6 THEN f % {len(MODELS)} + 1 ELSE {_model_index("r6")} END AS m,
                timestamptz '{MONTH_START.isoformat()}' + make_interval(secs =>
                    floor({seconds} * (g::float8 / :n))) AS t
            FROM (SELECT g, u, (u + (r7 < 0.7)::int) % {len(FEATURES)} AS f,
                         r1, r2, r3, r4, r6, r7
                  FROM (SELECT g, floor(r5 * r5 * 400)::int AS u, r1, r2, r3, r4, r6, r7
                        FROM (SELECT g, random() r1, random() r2, random() r3, random() r4,
                                     random() r5, random() r6, random() r7
                              FROM generate_series(:lo, :hi - 1) g) a) b) c
        ) y
    ) z"""


def _model_index(var: str) -> str:
    arms, acc = [], 0
    for index, model in enumerate(MODELS, start=1):
        acc += model[2]
        arms.append(f"WHEN {var} < {acc / 100:.4f} THEN {index}")
    return f"CASE {' '.join(arms)} ELSE {len(MODELS)} END"


TRACES_SQL = """
INSERT INTO traces (project_id, trace_id, root_span_id, name, start_time, end_time, span_count,
    llm_calls, input_tokens, output_tokens, total_tokens, cost, unpriced_calls, error_count,
    models, service, environment, user_id, session_id)
SELECT project_id, trace_id, min(span_id), min(name), min(start_time), max(end_time), count(*),
    count(*), sum(input_tokens), sum(output_tokens), sum(total_tokens), coalesce(sum(cost), 0),
    count(*) FILTER (WHERE cost IS NULL), count(*) FILTER (WHERE status = 'error'),
    array_agg(DISTINCT request_model), min(service), min(environment), min(user_id),
    min(session_id)
FROM spans WHERE project_id = :project_id AND span_id >= lpad(to_hex(:lo + 1), 16, '0')
    AND span_id < lpad(to_hex(:hi + 1), 16, '0')
GROUP BY project_id, trace_id
"""


def url_for(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def admin(statement: sql.Composed) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


def timed(label: str, call: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - began
    logger.info("%s: %.1f s", label, seconds)
    return out, seconds


def load(settings: Settings, spans: int) -> tuple[int, dict[str, float]]:
    """Create the project, generate the spans and build traces and rollups; timings."""
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        project_id = keys.create_project(session, PROJECT).id
    times: dict[str, float] = {}
    began = time.perf_counter()
    times["trace summaries"] = 0.0
    for lo in range(0, spans, CHUNK):  # CHUNK is a multiple of 4: whole traces per chunk
        chunk = {"project_id": project_id, "lo": lo, "hi": min(lo + CHUNK, spans), "n": spans}
        with factory.begin() as session:
            session.execute(text(generate_sql()), chunk)
        began_traces = time.perf_counter()
        with factory.begin() as session:
            session.execute(text(TRACES_SQL), chunk)
        times["trace summaries"] += time.perf_counter() - began_traces
        logger.info("spans %s / %s", chunk["hi"], spans)
    times["generate spans"] = time.perf_counter() - began - times["trace summaries"]
    _, times["rollups build"] = timed("rollups", lambda: build_rollups(factory, project_id))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return project_id, times


def build_rollups(factory: sessionmaker[Session], project_id: int) -> None:
    """The rollups of the month from the spans: hourly and daily cells one day at a time (one
    ``INSERT … SELECT … GROUP BY`` per table and day, so each aggregation fits in memory
    instead of spilling ten million spans' groups to disk), then the months from the days —
    the reconciliation's own recompute (``core.rollups.expected_sql``)."""
    days = [MONTH_START + timedelta(days=d) for d in range((MONTH_END - MONTH_START).days)]
    windows: list[tuple[rollups.Grain, datetime, datetime]] = [
        (grain, day, day + timedelta(days=1)) for day in days for grain in ("hour", "day")
    ]
    windows.append(("month", MONTH_START, MONTH_END))
    for grain, start, end in windows:
        params = {"project_id": project_id, "start": start, "end": end,
                  "edges": list(rollups.LATENCY_EDGES_MS)}  # fmt: skip
        with factory.begin() as session:
            session.execute(text("SET LOCAL work_mem = '256MB'"))
            session.execute(
                text(
                    f"INSERT INTO {rollups.TABLES[grain].name} (project_id, {grain}, "
                    f"{DIMS}, {MEASURES}) SELECT :project_id, {grain}, {DIMS}, {MEASURES} "
                    f"FROM ({rollups.expected_sql(grain)}) e"
                ),
                params,
            )


def find_project(settings: Settings) -> int:
    """The generated project of a kept database."""
    engine = make_engine(settings)
    with make_session_factory(engine)() as session:
        project_id = session.scalar(select(Project.id).where(Project.name == PROJECT))
    engine.dispose()
    if project_id is None:
        raise SystemExit(f"no project {PROJECT!r} in that database")
    return project_id


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1]


def measure(call: Callable[[], Any], repeat: int) -> list[float]:
    call()
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        out.append((time.perf_counter() - began) * 1000.0)
    return out


def bench_reports(settings: Settings, project_id: int, repeat: int) -> dict[str, Any]:
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    results: dict[str, Any] = {}

    def by_team_model() -> Any:
        with factory() as session:
            return cost_report(session, project_id, MONTH_START, MONTH_END, None, ("team", "model"))

    def daily_by_team_model() -> Any:
        with factory() as session:
            return cost_report(
                session, project_id, MONTH_START, MONTH_END, "day", ("team", "model")
            )

    report = by_team_model()
    results["rows"] = len(report.rows)
    results["total"] = report.total_cost
    results["function month team×model"] = measure(by_team_model, repeat)
    results["function month team×model×day"] = measure(daily_by_team_model, repeat)
    query = cost_query(project_id, MONTH_START, MONTH_END, None, ("team", "model"))
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
        results["plan"] = "\n".join(plan)
        results["daily rows"] = conn.execute(
            text("SELECT count(*) FROM usage_daily WHERE project_id = :p"), {"p": project_id}
        ).scalar()
        results["monthly rows"] = conn.execute(
            text("SELECT count(*) FROM usage_monthly WHERE project_id = :p"), {"p": project_id}
        ).scalar()
        results["hourly rows"] = conn.execute(
            text("SELECT count(*) FROM usage_hourly WHERE project_id = :p"), {"p": project_id}
        ).scalar()
        results["truth"] = conn.execute(
            text(
                "SELECT sum(cost) FROM spans WHERE project_id = :p AND start_time >= :s AND "
                "start_time < :e AND kind IN ('llm', 'embedding')"
            ),
            {"p": project_id, "s": MONTH_START, "e": MONTH_END},
        ).scalar()
    app = create_app(settings)
    with factory.begin() as session:
        project = session.get_one(Project, project_id)
        secret = keys.create_key(session, project, ("read",), PEPPER).secret
    params = {
        "start": MONTH_START.isoformat(),
        "end": MONTH_END.isoformat(),
        "granularity": "none",
        "group_by": ["team", "model"],
    }
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        results["api month team×model"] = measure(
            lambda: client.get("/api/v1/costs", params=params).raise_for_status(), repeat
        )
    app.state.engine.dispose()
    engine.dispose()
    return results


def bench_repricing(
    settings: Settings, project_id: int, target: int, total: int, batch: int
) -> dict[str, Any]:
    """An override effective from the point that leaves ~``target`` candidate spans: on gpt-4o
    when it has that many, else on every model (``*``)."""
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    pattern, share = "gpt-4o", next(m[2] for m in MODELS if m[1] == "gpt-4o") / 100
    if target > total * share * 0.97:
        pattern, share = "*", 1.0
    fraction = min(target / (total * share * 0.97), 1.0)  # 3 % of costs are reported
    since = MONTH_END - (MONTH_END - MONTH_START) * fraction
    with factory.begin() as session:
        # A kept database measured again gets a new price, so every span's cost changes.
        earlier = session.scalar(select(func.count()).select_from(PriceOverride)) or 0
        data = PriceOverrideIn(
            model_pattern=pattern,
            effective_from=since,
            input_per_mtok=Decimal(2 + earlier),
            output_per_mtok=Decimal(8 + earlier),
        )
        _, job = price_jobs.create_with_job(session, project_id, data, "bench")
        key = (project_id, job.id)
    began = time.perf_counter()
    batches = repricing.run_jobs(factory, batch_size=batch, budget_s=3600, job_id=key)
    seconds = time.perf_counter() - began
    with factory() as session:
        done = session.get_one(RepricingJob, key)
        out = {
            "seconds": seconds,
            "batches": batches,
            "scanned": done.spans_scanned,
            "repriced": done.spans_repriced,
            "status": done.status,
            "before": done.cost_before,
            "after": done.cost_after,
        }
    with factory.begin() as session:
        session.execute(text("SET LOCAL statement_timeout = 0"))
        began = time.perf_counter()
        report = rollups.reconcile(session, project_id, MONTH_START, MONTH_END, repair=False)
        out["reconcile seconds"] = time.perf_counter() - began
        out["reconcile ok"] = report.ok
        out["reconcile cells"] = report.cells_checked
    engine.dispose()
    return out


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    load1, load5, load15 = os.getloadavg()
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, {memory:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, PostgreSQL 15; load average at the end "
        f"{load1:.2f} {load5:.2f} {load15:.2f}"
    )


def report_markdown(
    args: argparse.Namespace,
    load_times: dict[str, float],
    reports: dict[str, Any],
    reprice: dict[str, Any],
) -> str:
    lines = [
        f"Spans: {args.spans:,} in one project over October 2026 (generated in SQL); "
        f"rollup rows: {reports['hourly rows']:,} hourly, {reports['daily rows']:,} daily, "
        f"{reports['monthly rows']:,} monthly.",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in load_times.items()]
    lines += [
        "",
        "| call (month, team × model) | p50 ms | p95 ms | goal | met |",
        "|---|---|---|---|---|",
    ]
    for name in (
        "function month team×model",
        "function month team×model×day",
        "api month team×model",
    ):
        p50, p95 = percentiles(reports[name])
        goal = "200" if "×day" not in name else ""
        met = ("yes" if p95 <= 200 else "**no**") if goal else ""
        lines.append(
            f"| {name} ({len(reports[name])} calls) | {p50:.1f} | {p95:.1f} | {goal} | {met} |"
        )
    rate = reprice["scanned"] / reprice["seconds"] if reprice["seconds"] else 0
    met = reprice["scanned"] >= 1_000_000 and reprice["seconds"] <= 60
    lines += [
        "",
        f"Report total {reports['total']} USD = span sum {reports['truth']} USD: "
        f"{reports['total'] == reports['truth']}.",
        "",
        f"Re-pricing: {reprice['scanned']:,} candidate spans scanned, "
        f"{reprice['repriced']:,} re-priced in {reprice['seconds']:.1f} s "
        f"({rate:,.0f} spans/s, {reprice['batches']} batches of {args.batch:,}; goal 1 M ≤ 60 s: "
        f"{'yes' if met else 'see text'}); "
        f"cost {reprice['before']} → {reprice['after']} USD; status {reprice['status']}.",
        f"Reconciliation of the month afterwards: {reprice['reconcile seconds']:.1f} s, "
        f"clean: {reprice['reconcile ok']}, cells {reprice['reconcile cells']}.",
        "",
        "Plan of the month × team × model report:",
        "",
        "```",
        reports["plan"],
        "```",
        "",
        f"Machine: {machine()}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--reprice", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--batch", type=int, default=50_000, help="re-pricing batch size")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database", help="a database kept by --keep: measure it instead of generating one"
    )
    parser.add_argument("--load-only", action="store_true", help="generate, measure nothing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    name = args.database or f"tt_bench_fin_{uuid.uuid4().hex[:8]}"
    url = url_for(name)
    settings = Settings(database_url=url, key_pepper=PEPPER, db_statement_timeout_ms=0)
    keep = args.keep or args.database is not None
    if args.database is None:
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        logger.info("database %s", name)
    try:
        if args.database is None:
            upgrade(url)
            project_id, load_times = load(settings, args.spans)
        else:
            project_id, load_times = find_project(settings), {}
        if args.load_only:
            print("\n".join(f"| {k} | {v:.1f} |" for k, v in load_times.items()))
            return
        reports = bench_reports(settings, project_id, args.repeat)
        reprice = bench_repricing(settings, project_id, args.reprice, args.spans, args.batch)
        print(report_markdown(args, load_times, reports, reprice))
    finally:
        if not keep:
            admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
