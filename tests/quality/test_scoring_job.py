"""The scoring job in-process: retrieved documents reach groundedness, sampling per scorer,
dead letters for a scorer that raises, rescoring a range when a scorer's version changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import quality
from core.ingest import SpanRecord, store_spans
from core.models import Project, Score
from core.models_quality import DeadLetter, RescoreRequest, ScoringLag, ScoringQueue
from workers.rescoring import rescore_step
from workers.scorers import BUILT_IN, LLM_KINDS, CompleteOutput, SpanView
from workers.scoring import score_batch

T0 = datetime(2026, 11, 5, 10, tzinfo=UTC)
DOCS = [{"id": "kb-101", "content": "Audit logs are retained for 365 days on Business plans."}]
QUESTION = "How long are audit logs kept on the Business plan?"


def _msgs(role: str, content: str) -> list[dict[str, object]]:
    return [{"role": role, "parts": [{"type": "text", "content": content}]}]


def _rag_trace(i: int, answer: str) -> list[SpanRecord]:
    trace, start = f"{i:032x}", T0 + timedelta(minutes=i)
    return [
        SpanRecord(trace_id=trace, span_id=f"{i:015x}1", name="search", kind="retriever",
                   start_time=start, end_time=start + timedelta(milliseconds=40),
                   documents=DOCS, parent_span_id=f"{i:015x}0"),
        SpanRecord(trace_id=trace, span_id=f"{i:015x}2", name="chat", kind="llm",
                   start_time=start + timedelta(milliseconds=50),
                   end_time=start + timedelta(seconds=1), parent_span_id=f"{i:015x}0",
                   input=_msgs("user", QUESTION), input_text=QUESTION,
                   output=_msgs("assistant", answer), output_text=answer,
                   finish_reasons=["stop"]),
    ]  # fmt: skip


def _drain(factory: sessionmaker[Session], scorers: tuple[object, ...] = BUILT_IN) -> None:
    while True:
        with factory.begin() as session:
            if score_batch(session, 50, scorers) == 0:  # type: ignore[arg-type]
                return


def _values(factory: sessionmaker[Session], name: str) -> dict[str, float | None]:
    with factory() as session:
        rows = session.execute(select(Score.span_id, Score.value).where(Score.name == name))
        return {span: value for span, value in rows}


def test_groundedness_reads_the_documents_retrieved_in_the_same_trace(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    grounded = "Audit logs are kept for 365 days on Business plans."
    invented = "Audit logs are kept for 30 days on Business plans."
    with session_factory.begin() as session:
        store_spans(session, project.id, _rag_trace(1, grounded) + _rag_trace(2, invented))
        # An LLM span in a trace without retrieval is not judged for groundedness.
        store_spans(session, project.id, [SpanRecord(
            trace_id=f"{3:032x}", span_id=f"{3:016x}", name="chat", kind="llm",
            start_time=T0, end_time=T0 + timedelta(seconds=1), output_text=grounded,
            input=_msgs("user", QUESTION), input_text=QUESTION)])  # fmt: skip
    _drain(session_factory)
    values = _values(session_factory, "groundedness")
    assert values == {f"{1:015x}2": 1.0, f"{2:015x}2": 0.25}
    relevance = _values(session_factory, "answer_relevance")
    assert relevance[f"{1:015x}2"] == 1.0  # the question came from the last user message


def test_sampling_is_deterministic_shared_across_scorers_and_can_switch_a_scorer_off(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [
            SpanRecord(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind="llm",
                       start_time=T0, end_time=T0 + timedelta(seconds=1),
                       output_text=f"answer number {i}", finish_reasons=["stop"])
            for i in range(1, 401)])  # fmt: skip
        quality.set_sampling(session, project.id, "complete_output", enabled=True,
                             sample_rate=0.25)  # fmt: skip
        quality.set_sampling(session, project.id, "no_refusal", enabled=True, sample_rate=0.25)
        quality.set_sampling(session, project.id, "no_secrets_or_pii", enabled=False,
                             sample_rate=1.0)  # fmt: skip
    _drain(session_factory)
    complete = set(_values(session_factory, "complete_output"))
    refusal = set(_values(session_factory, "no_refusal"))
    expected = {f"{i:016x}" for i in range(1, 401)
                if quality.sample_point(f"{i:032x}", f"{i:016x}") < 0.25}  # fmt: skip
    assert complete == refusal == expected
    assert 60 < len(expected) < 140
    assert _values(session_factory, "no_secrets_or_pii") == {}


@dataclass(frozen=True)
class Exploding:
    """A scorer with a bug that only some spans trigger."""

    name: str = "exploding"
    version: str = "1"
    kinds: frozenset[str] = LLM_KINDS

    def score(self, span: SpanView) -> float | None:
        if "poison" in (span.output_text or ""):
            raise ValueError("cannot parse this one")
        return 1.0


def test_a_scorer_that_raises_dead_letters_the_span_and_the_batch_goes_on(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [
            SpanRecord(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind="llm",
                       start_time=T0, end_time=T0 + timedelta(seconds=1),
                       output_text="poison" if i == 2 else "fine", finish_reasons=["stop"])
            for i in (1, 2, 3)])  # fmt: skip
    _drain(session_factory, (Exploding(), CompleteOutput()))
    with session_factory() as session:
        dead = session.scalars(select(DeadLetter)).all()
        waiting = session.scalar(select(func.count()).select_from(ScoringQueue))
        lagged = session.scalar(select(func.sum(ScoringLag.spans)))
    assert [(d.span_id, d.scorer, d.error) for d in dead] == [
        (f"{2:016x}", "exploding", "ValueError: cannot parse this one")
    ]
    assert set(_values(session_factory, "exploding")) == {f"{1:016x}", f"{3:016x}"}
    assert len(_values(session_factory, "complete_output")) == 3  # other scorers still ran
    assert waiting == 0
    assert lagged == 3


@dataclass(frozen=True)
class CompleteOutputV2(CompleteOutput):
    """A new version of a scorer: empty answers are now judged as not applicable."""

    version: str = "2"


def test_rescoring_a_range_stores_the_new_version_beside_the_old_one(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [
            SpanRecord(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind="llm",
                       start_time=T0 + timedelta(hours=i),
                       end_time=T0 + timedelta(hours=i, seconds=1),
                       output_text="ok", finish_reasons=["stop"])
            for i in range(10)])  # fmt: skip
    _drain(session_factory)
    with session_factory.begin() as session:
        request_id = quality.request_rescore(
            session, project.id, "complete_output", T0 + timedelta(hours=2),
            T0 + timedelta(hours=7))  # fmt: skip
        quality.request_rescore(session, project.id, "no_such_scorer", T0, T0 + timedelta(days=1))
    while True:  # chunks of 2: the cursor carries the range across transactions
        with session_factory.begin() as session:
            if not rescore_step(session, chunk=2, scorers=(CompleteOutputV2(),)):
                break
    with session_factory() as session:
        versions = dict(session.execute(
            select(Score.scorer_version, func.count()).where(Score.name == "complete_output")
            .group_by(Score.scorer_version)).all())  # fmt: skip
        requests = {r.scorer: r for r in session.scalars(select(RescoreRequest))}
    assert versions == {"1": 10, "2": 5}
    done = requests["complete_output"]
    assert (done.id, done.status, done.spans_done, done.scorer_version) == (
        request_id,
        "done",
        5,
        "2",
    )
    assert (requests["no_such_scorer"].status, requests["no_such_scorer"].error) == (
        "failed",
        "unknown scorer",
    )
    # The same version again writes nothing new.
    with session_factory.begin() as session:
        quality.request_rescore(session, project.id, "complete_output", T0, T0 + timedelta(days=1))
    with session_factory.begin() as session:
        rescore_step(session, chunk=100, scorers=(CompleteOutputV2(),))
    with session_factory() as session:
        count = session.scalar(select(func.count()).where(Score.scorer_version == "2"))
    assert count == 10


def test_json_and_tool_calls_are_checked_against_their_schemas(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    tools = [{"type": "function", "function": {"name": "weather", "parameters": schema}}]

    def call(i: int, arguments: object) -> SpanRecord:
        output = [{"role": "assistant", "parts": [
            {"type": "tool_call", "name": "weather", "arguments": arguments}]}]  # fmt: skip
        return SpanRecord(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind="llm",
                          start_time=T0, end_time=T0 + timedelta(seconds=1), output=output,
                          output_text=f"weather({json.dumps(arguments)})",
                          details={"tools": tools})  # fmt: skip

    def answer(i: int, text: str) -> SpanRecord:
        return SpanRecord(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind="llm",
                          start_time=T0, end_time=T0 + timedelta(seconds=1), output_text=text,
                          attributes={"gen_ai.output.type": "json"})  # fmt: skip

    with session_factory.begin() as session:
        store_spans(session, project.id, [
            call(1, {"city": "Oslo"}), call(2, {"town": "Oslo"}), call(3, "{not json"),
            answer(4, '{"intent": "billing"}'), answer(5, '```json\n{"intent": 1}\n```'),
            SpanRecord(trace_id=f"{6:032x}", span_id=f"{6:016x}", name="chat", kind="llm",
                       start_time=T0, end_time=T0 + timedelta(seconds=1), output_text="plain"),
        ])  # fmt: skip
    _drain(session_factory)
    assert _values(session_factory, "valid_json") == {
        f"{1:016x}": 1.0,
        f"{2:016x}": 0.0,
        f"{3:016x}": 0.0,
        f"{4:016x}": 1.0,
        f"{5:016x}": 0.0,
    }
