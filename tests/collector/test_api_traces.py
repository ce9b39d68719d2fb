"""``GET /api/v1/traces`` and ``/spans``: every filter, every sort, paging, the span tree."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from core.ingest import SpanRecord, store_spans
from core.models import Project
from tests.collector.test_api_seed import T0, names, seed, trace

ALL = [f"trace-{n}" for n in (6, 5, 4, 3, 2, 1, 0)]


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], project: Project) -> None:
    seed(session_factory, project)


FILTER_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"service": "worker"}, ["trace-1"]),
    ({"environment": "staging"}, ["trace-2"]),
    ({"name": "trace-3"}, ["trace-3"]),
    ({"model": "claude-sonnet-4"}, ["trace-2"]),
    ({"provider": "anthropic"}, ["trace-2"]),
    ({"user_id": "u2"}, ["trace-3"]),
    ({"session_id": "s2"}, ["trace-3"]),
    ({"tag": "vip"}, ["trace-3"]),
    ({"tag": ["vip", "beta"]}, ["trace-3"]),
    ({"tag": ["vip", "nope"]}, []),
    ({"team": "growth"}, ["trace-1"]),
    ({"feature": "refunds"}, ["trace-4"]),
    ({"customer": "globex"}, ["trace-3"]),
    ({"status": "error"}, ["trace-4"]),
    ({"status": "ok"}, [n for n in ALL if n != "trace-4"]),
    (
        {
            "start": (T0 + timedelta(minutes=1)).isoformat(),
            "end": (T0 + timedelta(minutes=3)).isoformat(),
        },
        ["trace-2", "trace-1"],
    ),
    ({"min_latency_ms": 550}, ["trace-6", "trace-5"]),
    ({"max_latency_ms": 150}, ["trace-0"]),
    ({"min_cost": "0.0065"}, ["trace-6"]),
    ({"max_cost": "0.0015"}, ["trace-0"]),
    ({"min_tokens": 60, "max_tokens": 70}, ["trace-5"]),
    ({"score": "helpfulness:gte:0.5"}, ["trace-0"]),
    ({"score": "helpfulness:lt:0.5"}, ["trace-2"]),
    ({"score": ["helpfulness:gt:0.1", "helpfulness:ne:0.4"]}, ["trace-0"]),
    ({"score": "unknown:eq:1"}, []),
    ({"q": "REFUND 100%"}, ["trace-4"]),
    ({"q": "trace-1"}, ["trace-1"]),
    (
        {"service": "api", "environment": "prod", "user_id": "u1", "team": "core"},
        ["trace-6", "trace-5", "trace-4", "trace-0"],
    ),
]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("params", "expected"), FILTER_CASES)
def test_each_trace_filter_selects_exactly_the_matching_traces(
    client: TestClient, params: dict[str, Any], expected: list[str]
) -> None:
    response = client.get("/api/v1/traces", params=params)
    assert response.status_code == 200, response.text
    assert names(response.json()) == expected


#: Filters whose span-level meaning differs (a span's own name, latency, cost, tags, text,
#: scores, status): the span cases below cover them.
TRACE_LEVEL = {
    "name",
    "min_latency_ms",
    "max_latency_ms",
    "min_cost",
    "max_cost",
    "min_tokens",
    "max_tokens",
    "tag",
    "q",
    "score",
    "status",
}


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "expected"), [(p, e) for p, e in FILTER_CASES if not set(p) & TRACE_LEVEL]
)
def test_each_span_filter_selects_the_spans_that_carry_the_value(
    client: TestClient, params: dict[str, Any], expected: list[str]
) -> None:
    response = client.get("/api/v1/spans", params={**params, "limit": 500})
    assert response.status_code == 200, response.text
    traces = sorted({int(s["trace_id"], 16) for s in response.json()["items"]}, reverse=True)
    assert [f"trace-{n}" for n in traces] == expected


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "退款政策"}, [("5", "b")]),
        ({"status": "error"}, [("4", "b")]),
        ({"tag": "vip"}, [("3", "a")]),
        ({"name": "trace-3"}, [("3", "a")]),
        ({"min_latency_ms": 700}, [("6", "a")]),
        ({"min_cost": "0.0065"}, [("6", "b")]),
        ({"min_tokens": 75}, [("6", "b")]),
        ({"score": "helpfulness:lt:0.5"}, [("2", "b")]),
    ],
)
def test_span_list_filters_apply_to_each_spans_own_columns(
    client: TestClient, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    items = client.get("/api/v1/spans", params=params).json()["items"]
    assert [(s["trace_id"][-1], s["span_id"][-1]) for s in items] == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("time", ["trace-2", "trace-1", "trace-0"]),
        ("latency", ["trace-0", "trace-2", "trace-1"]),
        ("duration", ["trace-0", "trace-2", "trace-1"]),
        ("cost", ["trace-1", "trace-0", "trace-2"]),
        ("tokens", ["trace-2", "trace-0", "trace-1"]),
    ],
)
def test_each_sort_orders_largest_first(
    client: TestClient,
    session_factory: sessionmaker[Session],
    project: Project,
    sort: str,
    expected: list[str],
) -> None:
    from decimal import Decimal

    with session_factory.begin() as session:
        store_spans(
            session,
            project.id,
            [
                *trace(0, duration_ms=900, cost=Decimal("0.5"), tokens=(50, 5)),
                *trace(1, duration_ms=100, cost=Decimal("0.9"), tokens=(10, 5)),
                *trace(2, duration_ms=500, cost=Decimal("0.1"), tokens=(90, 5)),
            ],
        )
    assert names(client.get("/api/v1/traces", params={"sort": sort}).json()) == expected
    spans = client.get("/api/v1/spans", params={"sort": sort}).json()["items"]
    llm = [f"trace-{int(s['trace_id'], 16)}" for s in spans if s["kind"] == "llm"]
    assert llm == expected


def _store_more(factory: sessionmaker[Session], project: Project, numbers: range) -> None:
    with factory.begin() as session:
        store_spans(session, project.id, [s for n in numbers for s in trace(n)])


@pytest.mark.parametrize("sort", ["time", "latency", "cost", "tokens"])
def test_paging_has_no_duplicates_or_gaps_while_new_traces_arrive(
    client: TestClient, session_factory: sessionmaker[Session], project: Project, sort: str
) -> None:
    _store_more(session_factory, project, range(0, 23))
    seen: list[str] = []
    cursor = None
    for page_no in range(20):
        params: dict[str, Any] = {"sort": sort, "limit": 4, "start": T0.isoformat()}
        page = client.get("/api/v1/traces", params=params | ({"cursor": cursor} if cursor else {}))
        body = page.json()
        seen += [t["trace_id"] for t in body["items"]]
        # Newer (and larger) traces arrive between pages: they belong before the cursor.
        _store_more(session_factory, project, range(100 + 2 * page_no, 102 + 2 * page_no))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {f"{n:032x}" for n in range(23)}


def test_span_paging_has_no_duplicates_or_gaps_while_new_spans_arrive(
    client: TestClient, session_factory: sessionmaker[Session], project: Project
) -> None:
    _store_more(session_factory, project, range(0, 9))
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"limit": 5, "start": T0.isoformat()} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/spans", params=params).json()
        seen += [(s["trace_id"], s["span_id"]) for s in body["items"]]
        _store_more(session_factory, project, range(200 + len(seen), 201 + len(seen)))
        if (cursor := body["next_cursor"]) is None:
            break
    assert len(seen) == len(set(seen)) == 18


def test_a_cursor_from_another_sort_is_rejected(client: TestClient, project: Project) -> None:
    _ = project
    page = client.get("/api/v1/traces", params={"sort": "cost", "limit": 1})
    assert page.status_code == 200
    cursor = "eyJzIjoiY29zdCIsImsiOiJkZWMiLCJ2IjoiMSIsInQiOiJhIn0"
    assert client.get("/api/v1/traces", params={"cursor": cursor}).status_code == 400


def _big_trace(count: int) -> list[SpanRecord]:
    """A root with ``count - 1`` children in start order, each child numbered."""
    root = SpanRecord(
        trace_id="f" * 32,
        span_id="0" * 16,
        name="agent",
        kind="agent",
        start_time=T0,
        end_time=T0 + timedelta(seconds=count),
    )
    children = [
        SpanRecord(
            trace_id="f" * 32,
            span_id=f"{i:016x}",
            parent_span_id="0" * 16,
            name=f"step {i}",
            kind="tool",
            start_time=T0 + timedelta(milliseconds=i),
            end_time=T0 + timedelta(milliseconds=i + 1),
        )
        for i in range(1, count)
    ]
    return [root, *children]


def test_trace_detail_carries_the_span_tree_usage_cost_and_scores(
    client: TestClient, session_factory: sessionmaker[Session], project: Project
) -> None:
    seed(session_factory, project)
    body = client.get(f"/api/v1/traces/{0:032x}").json()
    root, llm = body["spans"]
    assert (body["span_total"], body["next_span_offset"]) == (2, None)
    assert llm["parent_span_id"] == root["span_id"]
    assert root["parent_span_id"] is None
    assert (llm["input_tokens"], llm["output_tokens"], llm["cost"]) == (10, 5, "0.0010000000")
    assert llm["input"][0]["parts"][0]["content"] == "prompt 0"
    assert llm["start_time"] < llm["end_time"]
    assert llm["duration_ms"] == pytest.approx(98)
    assert [(s["name"], s["value"]) for s in body["scores"]] == [("helpfulness", 0.9)]
    assert body["trace"]["cost"] == "0.0010000000"


def test_a_trace_of_ten_thousand_spans_loads_window_by_window(
    client: TestClient, session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = _big_trace(10_000)
    for at in range(0, len(spans), 2_000):  # batches the size an exporter sends
        with session_factory.begin() as session:
            store_spans(session, project.id, spans[at : at + 2_000])
    first = client.get(f"/api/v1/traces/{'f' * 32}", params={"span_limit": 4000}).json()
    assert (len(first["spans"]), first["span_total"], first["next_span_offset"]) == (
        4000,
        10_000,
        4000,
    )
    last = client.get(
        f"/api/v1/traces/{'f' * 32}", params={"span_offset": 8000, "span_limit": 4000}
    ).json()
    assert len(last["spans"]) == 2000
    assert last["next_span_offset"] is None
    assert last["spans"][-1]["name"] == "step 9999"
    roots = client.get(f"/api/v1/traces/{'f' * 32}/spans").json()
    assert [s["name"] for s in roots] == ["agent"]
    children = client.get(
        f"/api/v1/traces/{'f' * 32}/spans",
        params={"parent_span_id": "0" * 16, "offset": 100, "limit": 3},
    ).json()
    assert [s["name"] for s in children] == ["step 101", "step 102", "step 103"]


def test_an_unknown_trace_is_404(client: TestClient, project: Project) -> None:
    _ = project
    assert client.get(f"/api/v1/traces/{'e' * 32}").status_code == 404
    assert client.get(f"/api/v1/traces/{'e' * 32}/spans").status_code == 404
