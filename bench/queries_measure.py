"""The measurements of ``bench/queries.py``: API calls in-process, page data calls, EXPLAIN."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from bench.queries_data import END, RARE_WORD
from collector.app import create_app
from core import keys, queries
from core.db import make_engine, make_session_factory
from core.queries_sessions import get_session, list_end_users, list_sessions
from core.settings import Settings

PEPPER = "bench-pepper"
WEEK = END - timedelta(days=7)
LIST_GOAL, SEARCH_GOAL, DETAIL_GOAL, OVERVIEW_GOAL = 100.0, 300.0, 50.0, 300.0
SEARCHES = {
    "English word, common (a topic: ~1 prompt in 13)": "warranty",
    f"English word, rare (~1 span in 5,000): {RARE_WORD}": RARE_WORD,
    "English word, absent": "zebrafish",
    "English phrase": "Customer asks about refund",
    "Chinese": "退款政策",
    "Arabic": "سياسة الاسترداد",
    "Chinese, 2 characters": "退款",
}


def samples(session: Session, project_id: int) -> dict[str, list[str]]:
    """Real values to filter by, spread over the data (a different one each repetition)."""
    found: dict[str, list[str]] = {}
    columns = {
        "user_id": "user_id",
        "session_id": "session_id",
        "name": "name",
        "trace_id": "trace_id",
    }
    for key, column in columns.items():
        rows = session.execute(
            text(
                f"SELECT {column} FROM traces WHERE project_id = :p "
                f"AND {column} IS NOT NULL ORDER BY random() LIMIT 200"
            ),
            {"p": project_id},
        ).scalars()
        found[key] = [str(v) for v in rows]
    long_traces = session.execute(
        text("SELECT trace_id FROM traces WHERE project_id = :p AND span_count = 50 LIMIT 50"),
        {"p": project_id},
    )
    found["long_trace"] = [str(v) for v in long_traces.scalars()]
    return found


def filter_cases(s: dict[str, list[str]]) -> dict[str, Callable[[int], dict[str, Any]]]:
    def pick(key: str) -> Callable[[int], dict[str, Any]]:
        return lambda i: {key: s[key][i % len(s[key])]}

    return {
        "no filter": lambda i: {},
        "last 7 days": lambda i: {"start": WEEK.isoformat()},
        "service": lambda i: {"service": "triage"},
        "environment": lambda i: {"environment": "staging"},
        "name": pick("name"),
        "model": lambda i: {"model": "claude-haiku-4"},
        "provider": lambda i: {"provider": "mistral"},
        "user": pick("user_id"),
        "session": pick("session_id"),
        "tag": lambda i: {"tag": "vip"},
        "team": lambda i: {"team": "finance"},
        "feature": lambda i: {"feature": "rerank"},
        "customer": lambda i: {"customer": f"cust-{i % 300}"},
        "status=error": lambda i: {"status": "error"},
        "latency ≥ 5 s": lambda i: {"min_latency_ms": 5000},
        "cost ≥ $0.05": lambda i: {"min_cost": "0.05"},
        "tokens ≥ 15000": lambda i: {"min_tokens": 15000},
        "sort by latency": lambda i: {"sort": "latency"},
        "sort by cost": lambda i: {"sort": "cost"},
    }


Call = Callable[[int], Any]


def api_cases(client: TestClient, s: dict[str, list[str]]) -> list[tuple[str, Call, float | None]]:
    """(label, call of repetition i, goal p95 in ms) for every API call measured."""

    def get(path: str, params: dict[str, Any]) -> None:
        response = client.get(f"{path}?{urlencode(params, doseq=True)}")
        assert response.status_code == 200, response.text

    def cycle(key: str) -> Callable[[int], str]:
        return lambda i: s[key][i % len(s[key])]

    detail, session = cycle("long_trace" if s["long_trace"] else "trace_id"), cycle("session_id")
    week = {"start": WEEK.isoformat()}
    cases: list[tuple[str, Call, float | None]] = [
        (f"GET /traces, {label}", lambda i, p=params: get("/api/v1/traces", p(i)), LIST_GOAL)
        for label, params in filter_cases(s).items()
    ]
    cases += [
        (f"GET /traces?q=, {label}", lambda i, q=q: get("/api/v1/traces", {"q": q}), SEARCH_GOAL)
        for label, q in SEARCHES.items()
    ]
    cases += [
        (
            "GET /traces/{id}, 50 spans",
            lambda i: get(f"/api/v1/traces/{detail(i)}", {}),
            DETAIL_GOAL,
        ),
        ("GET /spans, model", lambda i: get("/api/v1/spans", {"model": "gpt-4o"}), None),
        ("GET /spans?q=, English word", lambda i: get("/api/v1/spans", {"q": "warranty"}), None),
        ("GET /sessions, last 7 days", lambda i: get("/api/v1/sessions", week), None),
        ("GET /users, last 7 days", lambda i: get("/api/v1/users", week), None),
        ("GET /sessions/{id}", lambda i: get(f"/api/v1/sessions/{session(i)}", {}), None),
    ]
    return cases


def overview_page(db: Session, project_id: int) -> Any:
    """What the Overview page reads: this week, the week before, and score means."""
    previous = WEEK - timedelta(days=7)
    return (
        queries.overview(db, project_id, WEEK, END),
        queries.overview(db, project_id, previous, WEEK),
        queries.score_means(db, project_id, WEEK, END),
    )


def traces_page(db: Session, project_id: int) -> Any:
    """What the Traces page reads: the filter choices and the first page."""
    return (
        queries.trace_facets(db, project_id, start=WEEK),
        queries.list_traces(db, project_id, start=WEEK),
    )


def page_cases(
    factory: Any, project_id: int, s: dict[str, list[str]]
) -> list[tuple[str, Call, float | None]]:
    """The data calls each dashboard page makes, as :func:`api_cases` describes them."""

    def run(call: Callable[[Session, int], Any]) -> Call:
        def inner(i: int) -> Any:
            with factory() as session:
                return call(session, i)

        return inner

    ids, sessions = s["long_trace"] or s["trace_id"], s["session_id"]
    p = project_id
    return [
        ("Overview page (this and previous 7 days, score means)",
         run(lambda db, i: overview_page(db, p)), OVERVIEW_GOAL),
        ("Traces page (facets + first page, 7 days)", run(lambda db, i: traces_page(db, p)), None),
        ("Trace detail page (50 spans)",
         run(lambda db, i: queries.get_trace(db, p, ids[i % len(ids)])), DETAIL_GOAL),
        ("Sessions page (7 days)", run(lambda db, i: list_sessions(db, p, start=WEEK)), None),
        ("Session conversation",
         run(lambda db, i: get_session(db, p, sessions[i % len(sessions)])), None),
        ("Users page (7 days)", run(lambda db, i: list_end_users(db, p, start=WEEK)), None),
    ]  # fmt: skip


def timings(cases: list[tuple[str, Call, float | None]], repeat: int) -> list[Any]:
    from bench.queries import measure

    return [(measure(label, call, repeat), goal) for label, call, goal in cases]


def explain(engine: Any, factory: Any, call: Callable[[Session], Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest statement ``call`` runs."""
    seen: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with factory() as session:
            call(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    found = []
    with engine.connect() as conn:
        for statement, params in seen or [("SELECT 1", {})]:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = [str(r[0]) for r in rows]
            took = float(plan[-1].split(":")[1].split()[0])  # "Execution Time: 1.234 ms"
            found.append((took, "\n".join(plan)))
    return max(found)[1]


def plans(engine: Any, factory: Any, project_id: int, s: dict[str, list[str]]) -> dict[str, str]:
    cases = {
        "trace list, user filter": lambda db: queries.list_traces(
            db, project_id, user_id=s["user_id"][0]
        ),
        "trace list, team filter": lambda db: queries.list_traces(db, project_id, team="finance"),
        "trace list, customer filter": lambda db: queries.list_traces(
            db, project_id, customer="cust-17"
        ),
        "trace list, last 7 days": lambda db: queries.list_traces(db, project_id, start=WEEK),
        "trace list, sort by latency": lambda db: queries.list_traces(
            db, project_id, sort="duration"
        ),
        "trace list, model filter": lambda db: queries.list_traces(
            db, project_id, model="claude-haiku-4"
        ),
        "search, common English word (probe of the first traces)": lambda db: queries.list_traces(
            db, project_id, search="warranty"
        ),
        "search, rare English word (probes, then trigram indexes)": lambda db: queries.list_traces(
            db, project_id, search=RARE_WORD
        ),
        "search, Chinese": lambda db: queries.list_traces(db, project_id, search="退款政策"),
        "trace detail": lambda db: queries.get_trace(
            db, project_id, (s["long_trace"] or s["trace_id"])[0]
        ),
        "overview (its slowest statement)": lambda db: queries.overview(db, project_id, WEEK, END),
    }
    return {name: explain(engine, factory, call) for name, call in cases.items()}


def run_measurements(
    url: str, project_id: int, repeat: int
) -> tuple[list[Any], dict[str, str], dict[str, int]]:
    settings = Settings(database_url=url, key_pepper=PEPPER, db_statement_timeout_ms=60_000)  # type: ignore[arg-type]
    engine = make_engine(settings, pool_size=2)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        project = session.get_one(keys.Project, project_id)
        secret = keys.create_key(session, project, ("read",), PEPPER).secret
    with factory() as session:
        s = samples(session, project_id)
        counts = {
            t: int(session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("spans", "traces", "usage_hourly")
        }
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        found_timings = timings(api_cases(client, s), repeat)
    found_timings += timings(page_cases(factory, project_id, s), repeat)
    found = plans(engine, factory, project_id, s)
    engine.dispose()
    return found_timings, found, counts


def report(
    args: argparse.Namespace,
    timings: list[Any],
    found: dict[str, str],
    counts: dict[str, int],
    rate: float,
    index_s: float,
    machine: str,
) -> str:
    lines = [
        "## Queries",
        "",
        f"Command: `.venv/bin/python -m bench.queries --spans {args.spans} "
        f"--batch {args.batch} --workers {args.workers}`",
        "",
        f"Machine: {machine}.",
        "",
        f"Data: {counts['spans']:,} spans in {counts['traces']:,} traces "
        f"({counts['usage_hourly']:,} rollup rows), 30 days, one project.",
        f"Load: {rate:,.0f} spans/s through `core.ingest.store_spans` ({args.workers} "
        f"processes, batches of {args.batch:,}); trigram indexes built after the load "
        f"in {index_s:,.0f} s.",
        "",
        f"Each call {args.repeat} times after one warm-up; milliseconds.",
        "",
        "| call | p50 | p95 | goal p95 | met |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [t.row(goal) for t, goal in timings]
    lines += ["", "### Plans (EXPLAIN ANALYZE, BUFFERS)", ""]
    for name, plan in found.items():
        lines += [f"{name}:", "", "```", plan, "```", ""]
    return "\n".join(lines) + "\n"
