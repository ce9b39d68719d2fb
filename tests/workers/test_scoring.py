"""The scoring job scores each span once, whatever the concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import quality
from core.ingest import SpanRecord, store_spans
from core.models import Project, Score
from core.models_quality import ScoringQueue
from workers.scorers import CompleteOutput, NoRefusal, SpanView
from workers.scoring import score_batch

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _span(i: int, output: str, finish: str = "stop", kind: str = "llm") -> SpanRecord:
    return SpanRecord(
        trace_id=f"{i:032x}", span_id=f"{i:016x}", name="chat", kind=kind,
        start_time=T0, end_time=T0 + timedelta(seconds=1), output_text=output,
        finish_reasons=[finish],
    )  # fmt: skip


def test_complete_output_flags_truncation_and_empty_answers() -> None:
    scorer = CompleteOutput()
    assert scorer.score(SpanView("llm", "q", "a full answer", ("stop",))) == 1.0
    assert scorer.score(SpanView("llm", "q", "half an ans", ("length",))) == 0.0
    assert scorer.score(SpanView("llm", "q", "   ", ("stop",))) == 0.0
    assert scorer.score(SpanView("llm", "q", None, ())) is None


def test_no_refusal_detects_refusals_at_the_start_only() -> None:
    scorer = NoRefusal()
    assert scorer.score(SpanView("llm", "q", "I'm sorry, but I can't help with that.", ())) == 0.0
    assert scorer.score(SpanView("llm", "q", "Sure! Here is the summary.", ())) == 1.0
    late = "Here is the long answer. " * 20 + "I'm sorry for the wait."
    assert scorer.score(SpanView("llm", "q", late, ())) == 1.0


def test_each_span_is_scored_once_by_concurrent_workers(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [_span(i, f"answer {i}") for i in range(1, 301)])
        store_spans(session, project.id, [_span(999, "", kind="chain")])

    def work() -> None:
        while True:
            with session_factory.begin() as session:
                if score_batch(session, 25) == 0:
                    return

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_factory() as session:
        per_scorer = dict(
            session.execute(select(Score.name, func.count()).group_by(Score.name)).all()
        )
        unscored = session.scalar(select(func.count()).select_from(ScoringQueue))
    assert per_scorer == {"complete_output": 300, "no_refusal": 300, "no_secrets_or_pii": 300}
    assert unscored == 0


def test_rescoring_the_same_spans_adds_nothing(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        store_spans(session, project.id, [_span(1, "fine"), _span(2, "cut", "length")])
    with session_factory.begin() as session:
        assert score_batch(session, 10) == 2
    with session_factory.begin() as session:
        quality.enqueue_for_scoring(
            session, project.id, [(f"{i:032x}", f"{i:016x}") for i in (1, 2)]
        )
    with session_factory.begin() as session:
        assert score_batch(session, 10) == 2
    with session_factory() as session:
        values = session.execute(
            select(Score.span_id, Score.value).where(Score.name == "complete_output")
        ).all()
    assert sorted(values) == [(f"{1:016x}", 1.0), (f"{2:016x}", 0.0)]
