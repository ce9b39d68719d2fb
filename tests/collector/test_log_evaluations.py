"""``gen_ai.evaluation.result`` sent as OTLP log records (the event form) become scores, once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Score, Span
from tests.collector.test_logs import SPAN, TRACE, log_record, logs_request, post_logs, post_span

RESULT = "gen_ai.evaluation.result"


def _scores(factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with factory() as session:
        rows = session.scalars(select(Score).order_by(Score.name)).all()
    return [(s.trace_id, s.span_id, s.name, s.value, s.label, s.comment, s.source) for s in rows]


def test_evaluation_records_are_scores_of_their_span_even_before_it_arrives_and_only_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    request = logs_request(
        log_record(RESULT, attributes={"gen_ai.evaluation.name": "Relevance",
                                       "gen_ai.evaluation.score.value": 0.75,
                                       "gen_ai.evaluation.score.label": "relevant",
                                       "gen_ai.evaluation.explanation": "On topic."}),
        # The event name in an attribute (older SDKs) and the result in the body.
        log_record(RESULT, body={"gen_ai.evaluation.name": "Toxicity",
                                 "gen_ai.evaluation.score.label": "none"},
                   offset_ns=1, name_in_attribute=True),
        # Not a result: no name; a NaN score and no label.
        log_record(RESULT, attributes={"gen_ai.evaluation.score.value": 1.0}, offset_ns=2),
        log_record(RESULT, attributes={"gen_ai.evaluation.name": "Empty",
                                       "gen_ai.evaluation.score.value": float("nan")},
                   offset_ns=3),
    )  # fmt: skip
    first = post_logs(client, request)
    assert first.partial_success.rejected_log_records == 2
    assert "evaluation result without a name" in first.partial_success.error_message
    post_logs(client, request)  # OTLP delivers at least once: a re-sent batch adds nothing
    expected = [
        (TRACE, SPAN, "Relevance", 0.75, "relevant", "On topic.", "evaluation"),
        (TRACE, SPAN, "Toxicity", None, "none", None, "evaluation"),
    ]
    assert _scores(session_factory) == expected
    with session_factory() as session:  # stored before the span: nothing waits for it
        assert session.scalar(select(Span.span_id)) is None
    post_span(client)
    assert _scores(session_factory) == expected
