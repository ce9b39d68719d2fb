"""The LLM judge against a stub OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import judge
from core.ingest import SpanRecord, store_spans
from core.models import Project, Score, Span, Trace
from core.models_rightsizing import JudgeSettings
from core.outbound import OutboundURLError
from core.pricing import TokenUsage, cost_for
from core.rightsizing_config import JudgeSettingsIn, save_judge_settings
from tests.rightsizing.stub import Stub, completion, stub_endpoint

T0 = datetime(2026, 11, 28, 9, tzinfo=UTC)
VERDICT = '{"score": 4, "reason": "Mostly right."}'


def _parts(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def rag_traces(n: int) -> list[SpanRecord]:
    """``n`` traces: a retriever span with a document and an LLM call answering from it."""
    records = []
    for i in range(n):
        trace_id, t = f"{i + 1:032x}", T0 + timedelta(minutes=i)
        records.append(SpanRecord(
            trace_id=trace_id, span_id=f"{i + 1:015x}a", name="search", kind="retriever",
            start_time=t, end_time=t + timedelta(milliseconds=20),
            documents=[{"id": "d1", "content": "Refunds are possible within 30 days."}],
        ))  # fmt: skip
        records.append(SpanRecord(
            trace_id=trace_id, span_id=f"{i + 1:015x}b", name="chat gpt-4o", kind="llm",
            start_time=t, end_time=t + timedelta(seconds=1), provider="openai",
            request_model="gpt-4o", input=[_parts("user", f"Can I get a refund? ({i})")],
            input_text=f"Can I get a refund? ({i})", output_text="Yes, within 30 days.",
        ))  # fmt: skip
    return records


def _settings(url: str, **overrides: Any) -> JudgeSettingsIn:
    values: dict[str, Any] = {
        "base_url": url,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "templates": ["correctness", "hallucination"],
        "sample_rate": 1.0,
    }
    return JudgeSettingsIn(**(values | overrides))  # fmt: skip


@pytest.fixture
def verdicts() -> Iterator[Stub]:
    with stub_endpoint(lambda body: (200, completion(VERDICT))) as stub:
        yield stub


def _configure(factory: sessionmaker[Session], project_id: int, url: str, **kw: Any) -> None:
    with factory.begin() as session:
        save_judge_settings(session, project_id, _settings(url, **kw), allow_loopback=True)


def _run(factory: sessionmaker[Session], project_id: int, **kw: Any) -> judge.BatchOutcome:
    with factory.begin() as session:
        return judge.judge_batch(session, project_id, allow_loopback=True, **kw)


def _judge_scores(factory: sessionmaker[Session], project_id: int) -> list[Score]:
    with factory() as session:
        query = select(Score).where(Score.project_id == project_id, Score.source == "judge")
        return list(session.scalars(query.order_by(Score.trace_id, Score.name)))


def test_sampled_calls_get_one_score_per_template_stored_once(
    session_factory: sessionmaker[Session], project: Project, verdicts: Stub
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, rag_traces(5))
    _configure(session_factory, project.id, verdicts.url)
    outcome = _run(session_factory, project.id)
    assert (outcome.considered, outcome.judged, outcome.scores) == (5, 5, 10)
    scores = _judge_scores(session_factory, project.id)
    assert len(scores) == 10
    version = judge.template_version("correctness", None, "gpt-4o-mini")
    first = scores[0]
    assert (first.name, first.value, first.scorer_version) == ("judge.correctness", 0.75, version)
    assert first.comment == "Mostly right."
    # The hallucination rubric saw the document retrieved in the same trace.
    hallucination = [r for r in verdicts.requests if "context" in r["messages"][0]["content"]]
    assert "Refunds are possible within 30 days." in hallucination[0]["messages"][0]["content"]
    # Nothing new after the position moved on, and re-judging the same spans stores no twin.
    assert _run(session_factory, project.id).considered == 0
    with session_factory.begin() as session:
        session.get_one(JudgeSettings, project.id).judged_through_at = None
    assert _run(session_factory, project.id).scores == 0
    assert len(_judge_scores(session_factory, project.id)) == 10


def test_judge_calls_are_spans_with_cost_in_the_judge_project(
    session_factory: sessionmaker[Session], project: Project, verdicts: Stub
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, rag_traces(3))
    _configure(session_factory, project.id, verdicts.url)
    _run(session_factory, project.id)
    with session_factory() as session:
        judge_project = session.scalars(
            select(Project).where(Project.name == "test-project · judge")).one()  # fmt: skip
        spans = session.scalars(select(Span).where(Span.project_id == judge_project.id)).all()
        total = session.scalar(select(func.sum(Trace.cost)).where(
            Trace.project_id == judge_project.id))  # fmt: skip
    assert len(spans) == 6
    one = cost_for("openai", "gpt-4o-mini", TokenUsage(120, 20), T0).cost
    assert one is not None
    assert one > 0
    assert {s.cost for s in spans} == {one.quantize(Decimal("1e-10"))}
    assert total == one * 6
    assert {s.kind for s in spans} == {"llm"}
    assert {s.attributes["tokentrail.judge.project_id"] for s in spans} == {project.id}


def test_a_transient_failure_is_retried_with_backoff(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    calls = {"n": 0}

    def flaky(body: dict[str, Any]) -> tuple[int, Any]:
        calls["n"] += 1
        return (503, {"error": "busy"}) if calls["n"] <= 2 else (200, completion(VERDICT))

    with session_factory.begin() as session:
        store_spans(session, project.id, rag_traces(1))
    with stub_endpoint(flaky) as stub:
        _configure(session_factory, project.id, stub.url, templates=["correctness"])
        outcome = _run(session_factory, project.id)
    assert outcome.scores == 1
    assert len(stub.requests) == 3


def test_an_endpoint_that_keeps_failing_stops_the_batch_without_losing_the_span(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, rag_traces(2))
    with stub_endpoint(lambda body: (503, {"error": "down"})) as stub:
        _configure(session_factory, project.id, stub.url, templates=["correctness"])
        outcome = _run(session_factory, project.id, call_deadline_s=5)
    assert outcome.stopped is not None
    assert "HTTP 503" in outcome.stopped
    assert len(stub.requests) == 3  # three attempts, then the batch stops
    assert _judge_scores(session_factory, project.id) == []
    with session_factory() as session:
        assert session.get_one(JudgeSettings, project.id).judged_through_at is None


def test_sampling_is_a_stable_hash_of_the_span(
    session_factory: sessionmaker[Session], project: Project, verdicts: Stub
) -> None:
    records = rag_traces(40)
    with session_factory.begin() as session:
        store_spans(session, project.id, records)
    _configure(session_factory, project.id, verdicts.url, templates=["helpfulness"],
               sample_rate=0.5)  # fmt: skip
    outcome = _run(session_factory, project.id)
    expected = {r.trace_id for r in records
                if r.kind == "llm" and judge.sampled(r.trace_id, r.span_id, 0.5)}  # fmt: skip
    assert outcome.considered == 40
    assert 8 <= len(expected) <= 32
    assert {s.trace_id for s in _judge_scores(session_factory, project.id)} == expected


@pytest.mark.parametrize("url", [
    "http://10.0.0.5/v1", "http://192.168.1.10/v1", "http://169.254.169.254/latest",
    "http://[fe80::1]/v1", "http://172.16.0.1/v1", "file:///etc/passwd",
    "http://user:pw@8.8.8.8/v1",
])  # fmt: skip
def test_private_and_link_local_judge_urls_are_refused_even_with_loopback_allowed(
    session_factory: sessionmaker[Session], project: Project, url: str
) -> None:
    with session_factory.begin() as session, pytest.raises(OutboundURLError):
        save_judge_settings(session, project.id, _settings(url), allow_loopback=True)


def test_loopback_is_refused_at_save_and_at_connect_time_unless_allowed(
    session_factory: sessionmaker[Session], project: Project, verdicts: Stub
) -> None:
    with session_factory.begin() as session, pytest.raises(OutboundURLError):
        save_judge_settings(session, project.id, _settings(verdicts.url), allow_loopback=False)
    with session_factory.begin() as session:
        store_spans(session, project.id, rag_traces(1))
    _configure(session_factory, project.id, verdicts.url)  # saved while loopback was allowed
    with session_factory.begin() as session:
        outcome = judge.judge_batch(session, project.id, allow_loopback=False)
    assert outcome.stopped is not None
    assert "loopback" in outcome.stopped
    assert verdicts.requests == []


def test_malformed_verdicts_are_counted_not_stored(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, rag_traces(2))
    with stub_endpoint(lambda body: (200, completion("I think it is fine"))) as stub:
        _configure(session_factory, project.id, stub.url, templates=["correctness"])
        outcome = _run(session_factory, project.id)
    assert (outcome.considered, outcome.failures, outcome.scores) == (2, 2, 0)


def test_parse_verdict_maps_one_to_five_onto_zero_to_one() -> None:
    assert judge.parse_verdict('{"score": 1}').value == 0.0
    assert judge.parse_verdict('Sure: {"score": 5, "reason": "ok"}').value == 1.0
    for bad in ('{"score": 7}', '{"score": true}', "{}", "no json"):
        with pytest.raises(Exception, match="no score"):
            judge.parse_verdict(bad)
