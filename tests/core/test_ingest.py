"""The write path stores each span once and keeps trace summaries and rollups exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.ingest import SpanRecord, store_spans
from core.models import Project, Span, Trace, UsageHourly

T0 = datetime(2026, 11, 1, 10, 15, tzinfo=UTC)


def _llm(span_id: str, parent: str | None = "a" * 16, cost: str | None = "0.01") -> SpanRecord:
    return SpanRecord(
        trace_id="f" * 32, span_id=span_id, parent_span_id=parent, name="chat gpt-4o",
        start_time=T0, end_time=T0 + timedelta(milliseconds=800), kind="llm",
        provider="openai", request_model="gpt-4o", input_tokens=100, output_tokens=20,
        total_tokens=120, cost=Decimal(cost) if cost else None,
        cost_source="computed" if cost else "unknown", team="search", user_id="u1",
    )  # fmt: skip


def _root() -> SpanRecord:
    return SpanRecord(
        trace_id="f" * 32, span_id="a" * 16, name="answer", kind="chain",
        start_time=T0 - timedelta(seconds=1), end_time=T0 + timedelta(seconds=2),
        user_id="root-user", service="api",
    )  # fmt: skip


def test_resending_a_batch_changes_nothing(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    batch = [_root(), _llm("b" * 16), _llm("c" * 16, cost=None)]
    with session_factory.begin() as session:
        assert store_spans(session, project.id, batch) == 3
    with session_factory.begin() as session:
        assert store_spans(session, project.id, batch) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Span)) == 3
        trace = session.scalars(select(Trace)).one()
        rollup = session.scalars(select(UsageHourly)).one()
    assert (trace.span_count, trace.llm_calls, trace.input_tokens) == (3, 2, 200)
    assert trace.cost == Decimal("0.01")
    assert trace.unpriced_calls == 1
    assert (trace.name, trace.user_id, trace.service) == ("answer", "root-user", "api")
    assert trace.models == ["gpt-4o"]
    assert rollup.calls == 2
    assert rollup.cost == Decimal("0.01")
    assert rollup.hour == datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_root_arriving_after_children_names_the_trace(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [_llm("b" * 16)])
    with session_factory.begin() as session:
        store_spans(session, project.id, [_root()])
    with session_factory() as session:
        trace = session.scalars(select(Trace)).one()
    assert trace.name == "answer"
    assert trace.user_id == "root-user"
    assert trace.start_time == T0 - timedelta(seconds=1)
    assert trace.span_count == 2


def test_a_ten_thousand_span_batch_is_stored_in_one_call(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    """OTLP batches can be this large; literal IN lists of this size overflow the parser."""
    records = [
        SpanRecord(
            trace_id=f"{i // 4 + 1:032x}",
            span_id=f"{i + 1:016x}",
            parent_span_id=f"{i + 20_001:016x}",  # LLM children: the duplicate-call check runs
            name="chat",
            kind="llm",
            start_time=T0,
            end_time=T0 + timedelta(seconds=1),
            provider="openai",
            request_model="gpt-4o",
            input_tokens=10,
            output_tokens=5,
        )
        for i in range(10_000)
    ]
    with session_factory.begin() as session:
        assert store_spans(session, project.id, records) == 10_000
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Trace)) == 2_500
        assert session.scalar(select(func.sum(UsageHourly.calls))) == 10_000


def test_content_joins_of_ten_thousand_traces_take_a_bounded_number_of_locks(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    from core.pending_logs import LOCK_STRIPES, lock_traces

    with session_factory.begin() as session:
        lock_traces(session, project.id, (f"{i:032x}" for i in range(10_000)))
        held = session.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                " AND pid = pg_backend_pid()"
            )
        ).scalar_one()
    assert 0 < held <= LOCK_STRIPES
