"""Budget benchmark: the worker's per-minute state job and the ``budget_ok`` check at scale.

    .venv/bin/python -m bench.budgets --combos 600 --days 86

Hourly rollup rows are generated set-based in SQL (``--combos`` team × feature × model ×
customer × user cells every hour for ``--days`` days ending now), and the daily rows ingest
keeps beside them: a busy project's rollups without the spans behind them, since budgets read
only the rollups. Twenty budgets over every
scope and period are created. Measured: ``core.budget_state.refresh_budget`` per budget (the
worker's whole minute of work is their sum), ``exhausted_hard_budgets`` (the check), and
``GET /api/v1/budgets/check`` through the ASGI app, p50/p95 over repeated calls. Prints a
markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import text

from collector.app import create_app
from core import budgets, keys
from core.budget_state import exhausted_hard_budgets, refresh_budget
from core.budgets import BudgetIn
from core.db import make_engine, make_session_factory
from core.migrate import upgrade
from core.settings import Settings

ADMIN_URL = os.environ.get(
    "TOKENTRAIL_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PEPPER = "bench-pepper"
TEAMS, FEATURES, MODELS, CUSTOMERS = 5, 6, 4, 5

SEED = text(
    """
    INSERT INTO usage_hourly (project_id, hour, provider, model, team, feature, customer,
                              user_id, environment, service, calls, input_tokens,
                              output_tokens, cost, latency_ms_sum)
    SELECT :project, h, 'openai', 'model-' || (c % :models), 'team-' || (c % :teams),
           'feature-' || ((c / :teams) % :features), 'customer-' || ((c / 7) % :customers),
           'user-' || c, 'prod', 'api', 10, 12000, 3000,
           round((0.002 + (c % 13) * 0.001) * (1.3 - 0.6 * (extract(isodow FROM h) > 5)::int)
                 ::numeric, 10),
           4500
    FROM generate_series(:start, :end, interval '1 hour') AS h,
         generate_series(0, :combos - 1) AS c
    """
)

#: The daily rollups, as ingest keeps them beside the hourly ones.
DAILY = text(
    """
    INSERT INTO usage_daily (project_id, day, provider, model, team, feature, customer, user_id,
                             environment, service, calls, input_tokens, output_tokens, cost,
                             latency_ms_sum)
    SELECT project_id, date_trunc('day', hour, 'UTC'), provider, model, team, feature, customer,
           user_id, environment, service, sum(calls), sum(input_tokens), sum(output_tokens),
           sum(cost), sum(latency_ms_sum)
    FROM usage_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    """
)

BUDGETS = [
    {"name": "project month", "limit_usd": "100000"},
    {"name": "project week", "period": "week", "limit_usd": "20000"},
    {"name": "project day", "period": "day", "limit_usd": "5000", "hard": True},
    *(
        {
            "name": f"team {t}",
            "scope": "team",
            "value": f"team-{t}",
            "limit_usd": "20000",
            "hard": t == 0,
        }
        for t in range(TEAMS)
    ),
    *(
        {"name": f"feature {f}", "scope": "feature", "value": f"feature-{f}", "limit_usd": "9000"}
        for f in range(FEATURES)
    ),
    *(
        {
            "name": f"model {m}",
            "scope": "model",
            "value": f"model-{m}",
            "limit_usd": "30000",
            "period": "week",
        }
        for m in range(3)
    ),
    {"name": "customer", "scope": "customer", "value": "customer-1", "limit_usd": "8000"},
    {"name": "user", "scope": "user", "value": "user-42", "limit_usd": "50", "hard": True},
]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--combos", type=int, default=600)
    parser.add_argument("--days", type=int, default=86)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    name = f"tt_bench_budgets_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        run(url, args.combos, args.days, args.repeat)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def run(url: str, combos: int, days: int, repeat: int) -> None:
    upgrade(url)
    settings = Settings(database_url=url, key_pepper=PEPPER, db_statement_timeout_ms=900_000)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with factory.begin() as session:
        project = keys.create_project(session, "bench")
        key = keys.create_key(session, project, ("ingest",), PEPPER).secret
        started = time.perf_counter()
        session.execute(SEED, {"project": project.id, "start": now - timedelta(days=days),
                               "end": now, "combos": combos, "models": MODELS, "teams": TEAMS,
                               "features": FEATURES, "customers": CUSTOMERS})  # fmt: skip
        session.execute(DAILY)
        ids = [budgets.create_budget(session, project.id, BudgetIn.model_validate(b)).id
               for b in BUDGETS]  # fmt: skip
    with engine.connect() as conn:
        conn.execute(text("ANALYZE usage_hourly"))
        conn.execute(text("ANALYZE usage_daily"))
        rows = conn.execute(text("SELECT count(*) FROM usage_hourly")).scalar_one()
        daily_rows = conn.execute(text("SELECT count(*) FROM usage_daily")).scalar_one()
    seeded_s = time.perf_counter() - started

    def refresh_all() -> None:
        for budget_id in ids:
            with factory.begin() as session:
                refresh_budget(session, project.id, budget_id, datetime.now(UTC))

    refresh_all()  # warm the cache, as the per-minute job runs warm
    job_p50, job_p95 = timed(refresh_all, max(3, repeat // 10))
    per_budget = {}
    for label, index in (("project, month", 0), ("team, month", 3), ("feature, month", 8),
                         ("user, month", len(ids) - 1), ("project, day", 2)):  # fmt: skip

        def one(budget_id: int = ids[index]) -> None:
            with factory.begin() as session:
                refresh_budget(session, project.id, budget_id, datetime.now(UTC))

        per_budget[label] = timed(one, repeat)

    def check() -> None:
        with factory() as session:
            exhausted_hard_budgets(session, project.id, {"team": "team-0", "user": "user-42"},
                                   datetime.now(UTC))  # fmt: skip

    check_p50, check_p95 = timed(check, repeat * 3)
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:

        def route() -> object:
            return client.get("/api/v1/budgets/check", params={"team": "team-0"})

        assert client.get("/api/v1/budgets/check").status_code == 200
        http_p50, http_p95 = timed(route, repeat * 3)
    engine.dispose()
    app.state.engine.dispose()
    cpu = platform.processor() or platform.machine()
    print(f"""
## Budgets

`.venv/bin/python -m bench.budgets --combos {combos} --days {days}` on {psutil.cpu_count()} CPUs
({cpu}), PostgreSQL at 127.0.0.1, other work running on the machine. {rows:,} hourly rollup
rows ({combos} cells an hour for {days} days) and {daily_rows:,} daily ones, seeded in
{seeded_s:.0f} s; {len(ids)} budgets.

| what | p50 | p95 |
|---|---|---|
| state job, all {len(ids)} budgets (one worker minute) | {job_p50:,.0f} ms | \
{job_p95:,.0f} ms |""")
    for label, (p50, p95) in per_budget.items():
        print(f"| one budget: {label} (spend, forecast, thresholds, store) | {p50:,.1f} ms "
              f"| {p95:,.1f} ms |")  # fmt: skip
    print(f"| `exhausted_hard_budgets` (3 hard budgets match) | {check_p50:,.1f} ms "
          f"| {check_p95:,.1f} ms |")  # fmt: skip
    print(f"| `GET /api/v1/budgets/check` via ASGI | {http_p50:,.1f} ms | {http_p95:,.1f} ms |")


if __name__ == "__main__":
    main()
