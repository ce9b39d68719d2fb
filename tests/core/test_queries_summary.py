"""The trace list's span-level filters read the summary's arrays, its duration sort has an
index, a text search finds the same traces whichever plan answers it, and so do the session and
user lists."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import queries, queries_sessions
from core.ingest import SpanRecord
from core.migrate import upgrade
from core.models import Project, Trace
from core.queries_sessions import list_end_users, list_sessions
from tests.core.test_queries import T0, names, store, trace_spans
from tests.services import scratch_database


def two_customers(n: int, batches: int = 1) -> list[list[SpanRecord]]:
    """Trace ``n`` whose root is customer A's (team support, openai) and whose LLM child is
    customer B's (team growth, anthropic), in one batch or two."""
    root, llm = trace_spans(n)
    root.customer, root.team, root.feature = "cust-a", "support", "chat"
    llm.customer, llm.team, llm.feature, llm.provider = "cust-b", "growth", "rerank", "anthropic"
    return [[root, llm]] if batches == 1 else [[llm], [root]]


@pytest.mark.parametrize("batches", [1, 2])
@pytest.mark.parametrize(
    "filters",
    [{"customer": "cust-a"}, {"customer": "cust-b"}, {"team": "support"}, {"team": "growth"},
     {"feature": "chat"}, {"feature": "rerank"}, {"provider": "anthropic"}],
)  # fmt: skip
def test_a_trace_matches_every_value_its_spans_carry(
    session_factory: sessionmaker[Session], project: Project, filters: dict[str, Any],
    batches: int,
) -> None:  # fmt: skip
    store(session_factory, project, trace_spans(0))
    for batch in two_customers(1, batches):
        store(session_factory, project, batch)
    assert names(session_factory, project, **filters) == ["trace-1"]


def test_summary_gathers_distinct_values_sorted_across_batches(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    for batch in two_customers(1, batches=2):
        store(session_factory, project, batch)
    with session_factory() as session:
        row = session.get_one(Trace, (project.id, f"{1:032x}"))
        found = (row.customers, row.teams, row.features, row.providers)
    assert found == (["cust-a", "cust-b"], ["growth", "support"], ["chat", "rerank"],
                     ["anthropic"])  # fmt: skip


def test_a_value_no_span_carries_matches_nothing(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    store(session_factory, project, *two_customers(1))
    assert names(session_factory, project, customer="cust-c") == []
    assert names(session_factory, project, customer="cust-a", team="growth") == ["trace-1"]


def test_duration_sort_pages_through_every_trace_longest_first(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    store(session_factory, project, *(trace_spans(n, duration_ms=(n * 37) % 11 * 100 + 50)
                                      for n in range(12)))  # fmt: skip
    expected = [f"trace-{n}" for n in sorted(range(12), key=lambda n: ((n * 37) % 11, n),
                                            reverse=True)]  # fmt: skip
    seen: list[str | None] = []
    cursor = None
    with session_factory() as session:
        while True:
            page = queries.list_traces(session, project.id, sort="duration", limit=5,
                                       cursor=cursor)  # fmt: skip
            seen += [t.name for t in page.items]
            durations = [t.duration_ms for t in page.items]
            assert durations == sorted(durations, reverse=True)
            if (cursor := page.next_cursor) is None:
                break
    assert seen == expected


def search_pages(factory: sessionmaker[Session], project: Project, **opts: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    with factory() as session:
        while True:
            page = queries.list_traces(session, project.id, limit=3, cursor=cursor, **opts)
            seen += [str(t.name) for t in page.items]
            if (cursor := page.next_cursor) is None:
                return seen


@pytest.mark.parametrize("probed", [1, 4, 5_000])
@pytest.mark.parametrize("sort", ["time", "duration", "cost"])
def test_search_pages_agree_whether_probed_or_indexed(
    session_factory: sessionmaker[Session], project: Project, monkeypatch: pytest.MonkeyPatch,
    probed: int, sort: str,
) -> None:  # fmt: skip
    # Every third trace mentions the warranty; few probes force the trigram plan, many let
    # the probe of the first traces in list order fill each page.
    store(session_factory, project, *(
        trace_spans(n, prompt="about the warranty" if n % 3 == 0 else "about a refund",
                    duration_ms=1000 - n * 10, cost=Decimal("0.001") * (n % 5 + 1))
        for n in range(20)))  # fmt: skip
    expected = [n for n in names(session_factory, project, sort=sort) if int(str(n)[6:]) % 3 == 0]
    monkeypatch.setattr(queries, "SEARCH_PROBE_TRACES", probed)
    assert search_pages(session_factory, project, search="WARRANTY", sort=sort) == expected


def test_search_after_the_probes_finds_a_rare_old_term(
    session_factory: sessionmaker[Session], project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(session_factory, project, *(trace_spans(n, prompt="chargeback" if n == 0 else "hello")
                                      for n in range(10)))  # fmt: skip
    monkeypatch.setattr(queries, "SEARCH_PROBE_TRACES", 3)
    assert names(session_factory, project, search="chargeback") == ["trace-0"]
    assert names(session_factory, project, search="chargeback", start=T0 + timedelta(1)) == []


def test_migration_0011_backfills_the_summary_from_existing_spans() -> None:
    with scratch_database() as url:
        upgrade(url, "0010")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO projects (id, name) VALUES (1, 'p')")
            for span_id, customer, provider in (("a" * 16, "cust-b", None),
                                                ("b" * 16, "cust-a", "openai"),
                                                ("c" * 16, "cust-b", "")):  # fmt: skip
                conn.execute(
                    "INSERT INTO spans (project_id, trace_id, span_id, name, kind, status,"
                    " start_time, end_time, duration_ms, input, output, documents, customer,"
                    " provider, team) VALUES (1, %s, %s, 'x', 'llm', 'ok', now(), now(), 0,"
                    " 'null', 'null', 'null', %s, %s, 'ops')",
                    ("1" * 32, span_id, customer, provider),
                )
            for trace_id in ("1" * 32, "2" * 32):
                conn.execute(
                    "INSERT INTO traces (project_id, trace_id, start_time, end_time, span_count)"
                    " VALUES (1, %s, now(), now(), 3)",
                    (trace_id,),
                )
        upgrade(url)
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT trace_id, customers, providers, teams, features FROM traces"
                " ORDER BY trace_id"
            ).fetchall()
    assert rows == [("1" * 32, ["cust-a", "cust-b"], ["openai"], ["ops"], []),
                    ("2" * 32, [], [], [], [])]  # fmt: skip


def pages_of(factory: sessionmaker[Session], project: Project, users: bool) -> list[Any]:
    """Every page of sessions (or users) of three at a time, as (key, traces, last seen)."""
    seen: list[Any] = []
    cursor = None
    with factory() as session:
        while True:
            if users:
                page: Any = list_end_users(session, project.id, limit=3, cursor=cursor)
                seen += [(u.user_id, u.traces, u.last_seen) for u in page.items]
            else:
                page = list_sessions(session, project.id, limit=3, cursor=cursor)
                seen += [(s.session_id, s.traces, s.last_seen) for s in page.items]
            if (cursor := page.next_cursor) is None:
                return seen


@pytest.mark.parametrize("users", [False, True])
def test_sessions_and_users_from_a_short_walk_match_grouping_every_trace(
    session_factory: sessionmaker[Session], project: Project, monkeypatch: pytest.MonkeyPatch,
    users: bool,
) -> None:  # fmt: skip
    # Sessions and users whose traces interleave in time, with equal start times for ties.
    store(session_factory, project, *(
        trace_spans(n, start=T0 + timedelta(minutes=n // 2), session_id=f"s{n * 7 % 9}",
                    user_id=f"u{n * 5 % 7}")
        for n in range(30)))  # fmt: skip
    monkeypatch.setattr(queries_sessions, "RECENT_WALKS", ())
    everything = pages_of(session_factory, project, users)
    for walks in ((1,), (2, 3), (4, 50), (500,)):
        monkeypatch.setattr(queries_sessions, "RECENT_WALKS", walks)
        assert pages_of(session_factory, project, users) == everything
    assert len(everything) == (7 if users else 9)
