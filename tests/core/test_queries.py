"""The read layer filters, sorts, pages and totals exactly, and never leaves the project."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.errors import InvalidInputError
from core.ingest import SpanRecord, store_spans
from core.models import Project, Score
from core.queries import encode_cursor, get_trace, list_traces, overview, trace_facets

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def trace_spans(n: int, **opts: Any) -> list[SpanRecord]:
    """A root chain span and one LLM child; ``opts`` override the trace's attributes."""
    o: dict[str, Any] = {
        "start": T0 + timedelta(minutes=n), "duration_ms": 100 * (n + 1), "name": f"trace-{n}",
        "service": "api", "environment": "prod", "model": "gpt-4o", "user_id": "u1",
        "session_id": "s1", "tags": [], "error": False, "cost": Decimal("0.001") * (n + 1),
        "tokens": (10 * (n + 1), 5), "prompt": f"prompt {n}", "answer": f"answer {n}",
    } | opts  # fmt: skip
    trace_id, start = f"{n:032x}", o["start"]
    end = start + timedelta(milliseconds=o["duration_ms"])
    root = SpanRecord(
        trace_id=trace_id, span_id=f"{n:015x}a", name=o["name"], kind="chain",
        start_time=start, end_time=end, service=o["service"], environment=o["environment"],
        user_id=o["user_id"], session_id=o["session_id"], tags=o["tags"],
    )  # fmt: skip
    llm = SpanRecord(
        trace_id=trace_id, span_id=f"{n:015x}b", parent_span_id=root.span_id, kind="llm",
        name=f"chat {o['model']}", start_time=start + timedelta(milliseconds=1),
        end_time=end - timedelta(milliseconds=1), provider="openai", request_model=o["model"],
        input_tokens=o["tokens"][0], output_tokens=o["tokens"][1],
        total_tokens=sum(o["tokens"]), cost=o["cost"], cost_source="computed",
        status="error" if o["error"] else "ok", input_text=o["prompt"], output_text=o["answer"],
        service=o["service"], environment=o["environment"], user_id=o["user_id"],
    )  # fmt: skip
    return [root, llm]


def store(factory: sessionmaker[Session], project: Project, *traces: list[SpanRecord]) -> None:
    with factory.begin() as session:
        store_spans(session, project.id, [span for spans in traces for span in spans])


def names(factory: sessionmaker[Session], project: Project, **filters: Any) -> list[str | None]:
    with factory() as session:
        return [t.name for t in list_traces(session, project.id, **filters).items]


@pytest.fixture
def varied(session_factory: sessionmaker[Session], project: Project) -> None:
    """Five traces that differ in exactly one filterable field each from trace-0."""
    store(
        session_factory,
        project,
        trace_spans(0),
        trace_spans(1, service="worker"),
        trace_spans(2, environment="staging", model="claude-sonnet-4"),
        trace_spans(3, user_id="u2", session_id="s2", tags=["beta", "vip"]),
        trace_spans(4, error=True, prompt="Refund 100% of order_7", answer="Done"),
    )


@pytest.mark.usefixtures("varied")
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"service": "worker"}, ["trace-1"]),
        ({"environment": "staging"}, ["trace-2"]),
        ({"name": "trace-3"}, ["trace-3"]),
        ({"model": "claude-sonnet-4"}, ["trace-2"]),
        ({"user_id": "u2"}, ["trace-3"]),
        ({"session_id": "s2"}, ["trace-3"]),
        ({"tag": "vip"}, ["trace-3"]),
        ({"errors_only": True}, ["trace-4"]),
        ({"search": "REFUND"}, ["trace-4"]),
        ({"search": "answer 2"}, ["trace-2"]),
        ({"search": "trace-1"}, ["trace-1"]),
        ({"search": "100%"}, ["trace-4"]),
        ({"search": "_"}, ["trace-4"]),
        ({"start": T0 + timedelta(minutes=1), "end": T0 + timedelta(minutes=3)},
         ["trace-2", "trace-1"]),
        ({"service": "api", "environment": "prod", "user_id": "u1"}, ["trace-4", "trace-0"]),
    ],
)  # fmt: skip
def test_each_filter_selects_exactly_the_matching_traces(
    session_factory: sessionmaker[Session],
    project: Project,
    filters: dict[str, Any],
    expected: list[str],
) -> None:
    assert names(session_factory, project, **filters) == expected


@pytest.mark.usefixtures("varied")
def test_blank_filters_mean_any(session_factory: sessionmaker[Session], project: Project) -> None:
    everything = names(session_factory, project, service="", model=None, search="  ")
    assert everything == [f"trace-{n}" for n in (4, 3, 2, 1, 0)]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("time", ["trace-2", "trace-1", "trace-0"]),
        ("duration", ["trace-0", "trace-2", "trace-1"]),
        ("cost", ["trace-1", "trace-0", "trace-2"]),
        ("tokens", ["trace-2", "trace-0", "trace-1"]),
    ],
)
def test_each_sort_orders_largest_first(
    session_factory: sessionmaker[Session], project: Project, sort: str, expected: list[str]
) -> None:
    store(
        session_factory,
        project,
        trace_spans(0, duration_ms=900, cost=Decimal("0.5"), tokens=(50, 5)),
        trace_spans(1, duration_ms=100, cost=Decimal("0.9"), tokens=(10, 5)),
        trace_spans(2, duration_ms=500, cost=Decimal("0.1"), tokens=(90, 5)),
    )
    assert names(session_factory, project, sort=sort) == expected


@pytest.mark.parametrize("sort", ["time", "duration", "cost", "tokens"])
def test_paging_visits_every_trace_once_in_order_even_with_ties(
    session_factory: sessionmaker[Session], project: Project, sort: str
) -> None:
    # Many equal sort values (same start, duration, cost, tokens) force the trace-id tiebreak.
    same = {"start": T0, "duration_ms": 250, "cost": Decimal("0.002"), "tokens": (7, 3)}
    store(session_factory, project, *(trace_spans(n, **(same if n % 3 else {})) for n in range(23)))
    everything = names(session_factory, project, sort=sort, limit=500)
    seen: list[str | None] = []
    cursor = None
    with session_factory() as session:
        while True:
            page = list_traces(session, project.id, sort=sort, limit=5, cursor=cursor)
            seen += [t.name for t in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert len(everything) == 23
    assert seen == everything


def test_exactly_full_last_page_has_no_next_cursor(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    store(session_factory, project, *(trace_spans(n) for n in range(4)))
    with session_factory() as session:
        first = list_traces(session, project.id, limit=2)
        second = list_traces(session, project.id, limit=2, cursor=first.next_cursor)
    assert [t.name for t in second.items] == ["trace-1", "trace-0"]
    assert second.next_cursor is None


@pytest.mark.parametrize(
    "bad",
    [
        {"sort": "name"},
        {"limit": 0},
        {"limit": 501},
        {"cursor": "not a cursor"},
        {"cursor": encode_cursor("cost", Decimal(1), "a" * 32)},
        {"cursor": "eyJzIjoidGltZSJ9"},
    ],
)
def test_bad_sort_limit_or_cursor_is_invalid_input(
    session_factory: sessionmaker[Session], project: Project, bad: dict[str, Any]
) -> None:
    with session_factory() as session, pytest.raises(InvalidInputError):
        list_traces(session, project.id, **bad)


def test_summary_rows_carry_the_trace_totals(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    store(session_factory, project, trace_spans(0, tags=["a"], cost=Decimal("0.25")))
    with session_factory() as session:
        (row,) = list_traces(session, project.id).items
    assert (row.span_count, row.llm_calls, row.input_tokens, row.output_tokens) == (2, 1, 10, 5)
    assert (row.total_tokens, row.cost, row.models, row.tags) == (15, Decimal("0.25"),
                                                                   ("gpt-4o",), ("a",))  # fmt: skip
    assert row.duration_ms == pytest.approx(100.0)


def test_another_projects_trace_is_invisible(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        other = keys.create_project(session, "other")
    store(session_factory, other, trace_spans(7))
    store(session_factory, project, trace_spans(1))
    with session_factory() as session:
        assert get_trace(session, project.id, f"{7:032x}") is None
        assert get_trace(session, other.id, f"{7:032x}") is not None
        assert [t.name for t in list_traces(session, project.id).items] == ["trace-1"]
        assert overview(session, project.id, T0, T0 + timedelta(days=1)).calls == 1
        assert trace_facets(session, project.id)["name"] == ["trace-1"]


def test_trace_detail_has_ordered_spans_with_parents_and_scores(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    store(session_factory, project, trace_spans(3))
    with session_factory.begin() as session:
        session.add(Score(project_id=project.id, trace_id=f"{3:032x}", name="helpful",
                          value=0.9, source="human", comment="good"))  # fmt: skip
    with session_factory() as session:
        detail = get_trace(session, project.id, f"{3:032x}")
    assert detail is not None
    root, llm = detail.spans
    assert (root.kind, root.parent_span_id, llm.parent_span_id) == ("chain", None, root.span_id)
    assert (llm.model, llm.cost, llm.input_tokens) == ("gpt-4o", Decimal("0.004"), 40)
    assert detail.cost_sources == ("computed",)
    assert [(s.name, s.value, s.comment) for s in detail.scores] == [("helpful", 0.9, "good")]
    assert detail.summary.name == "trace-3"


def test_overview_equals_hand_sums(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    day2 = T0 + timedelta(days=1)
    store(
        session_factory,
        project,
        trace_spans(0, duration_ms=100, cost=Decimal("0.10"), tokens=(100, 10)),
        trace_spans(1, duration_ms=200, cost=Decimal("0.20"), tokens=(200, 20), error=True),
        trace_spans(2, duration_ms=300, cost=Decimal("0.30"), tokens=(300, 30), start=day2),
        trace_spans(3, duration_ms=400, cost=Decimal("0.40"), tokens=(400, 40), start=day2),
        trace_spans(4, cost=Decimal("9"), start=T0 - timedelta(hours=1)),  # before the range
    )
    with session_factory() as session:
        totals = overview(session, project.id, T0, T0 + timedelta(days=2))
    assert (totals.traces, totals.error_traces, totals.calls, totals.errors) == (4, 1, 4, 1)
    assert (totals.input_tokens, totals.output_tokens, totals.total_tokens) == (1000, 100, 1100)
    assert totals.cost == Decimal("1.00")
    assert totals.unpriced_calls == 0
    # percentile_cont interpolates: p50 of 100..400 is 250, p95 is 385.
    assert totals.p50_ms == pytest.approx(250.0)
    assert totals.p95_ms == pytest.approx(385.0)
    assert [(d.day, d.calls, d.tokens, d.cost) for d in totals.daily] == [
        (date(2026, 11, 2), 2, 330, Decimal("0.30")),
        (date(2026, 11, 3), 2, 770, Decimal("0.70")),
    ]
    assert sum(d.cost for d in totals.daily) == totals.cost


def test_overview_of_an_empty_range_is_zero(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session:
        totals = overview(session, project.id, T0, T0 + timedelta(hours=1))
    assert (totals.calls, totals.cost, totals.traces, totals.p50_ms, totals.daily) == (
        0, Decimal(0), 0, None, [])  # fmt: skip


@pytest.mark.usefixtures("varied")
def test_facets_list_distinct_values(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session:
        facets = trace_facets(session, project.id)
        early = trace_facets(session, project.id, end=T0 + timedelta(minutes=1))
    assert facets["service"] == ["api", "worker"]
    assert facets["environment"] == ["prod", "staging"]
    assert facets["model"] == ["claude-sonnet-4", "gpt-4o"]
    assert len(facets["name"]) == 5
    assert early["name"] == ["trace-0"]
