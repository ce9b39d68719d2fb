"""One Anthropic call, two LLM spans (an instrumentation's and the Anthropic SDK's own child):
trace totals and rollups count it once, whichever span arrives first (reference §8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Span, Trace, UsageHourly
from tests.collector.conftest import PROTOBUF, export_request, make_span

PARENT, CHILD = "1" * 16, "2" * 16
MODEL = "claude-sonnet-4-5-20250929"

#: OpenInference's Anthropic instrumentation (prompt count includes the cache).
INSTRUMENTATION = {
    "openinference.span.kind": "LLM", "llm.provider": "anthropic", "llm.system": "anthropic",
    "llm.model_name": MODEL, "llm.token_count.prompt": 130, "llm.token_count.completion": 7,
    "llm.token_count.prompt_details.cache_read": 100,
    "llm.token_count.prompt_details.cache_write": 20,
}  # fmt: skip
#: The Anthropic SDK's own span: cache writes under their newer name, input summed by the SDK.
ANTHROPIC_SDK = {
    "gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.response.model": MODEL,
    "gen_ai.usage.input_tokens": 130, "gen_ai.usage.output_tokens": 7,
    "gen_ai.usage.cache_read.input_tokens": 100, "gen_ai.usage.cache_write.input_tokens": 20,
    "anthropic.message.stop_reason": "end_turn",
}  # fmt: skip


def _parent(**attributes: Any) -> Any:
    return make_span(PARENT, name="Messages", attributes={**INSTRUMENTATION, **attributes})


def _child(**attributes: Any) -> Any:
    return make_span(
        CHILD, parent=PARENT, name="anthropic.messages.create",
        attributes={**ANTHROPIC_SDK, **attributes}, duration_ns=900_000_000,
    )  # fmt: skip


def _post(client: TestClient, *spans: Any) -> None:
    body = export_request(*spans).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200


def _state(factory: sessionmaker[Session]) -> tuple[dict[str, Span], Trace, UsageHourly]:
    with factory() as session:
        spans = {s.span_id: s for s in session.scalars(select(Span))}
        trace = session.scalars(select(Trace)).one()
        rollup = session.scalars(select(UsageHourly)).one()
    return spans, trace, rollup


def _counted_once(factory: sessionmaker[Session], duplicate: str, counted: str) -> None:
    spans, trace, rollup = _state(factory)
    assert spans[duplicate].kind == "other"
    assert spans[duplicate].details["duplicate_of"]["span_id"] == counted
    assert spans[counted].kind == "llm"
    assert (trace.llm_calls, trace.input_tokens, trace.output_tokens) == (1, 130, 7)
    assert trace.cost == spans[counted].cost
    assert (rollup.calls, rollup.input_tokens, rollup.cache_write_tokens) == (1, 130, 20)
    assert rollup.cost == spans[counted].cost


def test_both_spans_normalise_to_the_same_call(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """Both names for cache writes land in one bucket, so the two spans agree."""
    _post(client, _parent(), _child())
    spans, _, _ = _state(session_factory)
    fields = ("provider", "response_model", "input_tokens", "cache_read_tokens",
              "cache_write_tokens", "output_tokens")  # fmt: skip
    assert [getattr(spans[PARENT], f) for f in fields] == [getattr(spans[CHILD], f) for f in fields]
    assert spans[CHILD].finish_reasons == ["stop"]
    assert spans[CHILD].cost is not None
    assert spans[CHILD].cost > Decimal(0)


def test_child_in_the_same_batch_is_the_duplicate(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post(client, _parent(), _child())
    _counted_once(session_factory, duplicate=CHILD, counted=PARENT)


def test_parent_first_then_child_marks_the_child(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post(client, _parent())
    _post(client, _child())
    _counted_once(session_factory, duplicate=CHILD, counted=PARENT)


def test_child_first_then_parent_marks_the_late_parent(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """The child was already counted when its parent arrived: the parent must not count."""
    _post(client, _child())
    _post(client, _parent())
    _counted_once(session_factory, duplicate=PARENT, counted=CHILD)


def test_resending_both_changes_nothing(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post(client, _parent(), _child())
    _post(client, _child())
    _post(client, _parent(), _child())
    _counted_once(session_factory, duplicate=CHILD, counted=PARENT)


def test_input_reported_without_the_cache_still_matches(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """OpenLIT reports Anthropic input without cached tokens; it is still the same call."""
    _post(client, _parent(**{"llm.token_count.prompt": 10}), _child())
    spans, trace, _ = _state(session_factory)
    assert spans[CHILD].kind == "other"
    assert trace.llm_calls == 1


def test_a_child_call_with_other_usage_is_a_separate_call(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _post(client, _parent(), _child(**{"gen_ai.usage.output_tokens": 99}))
    spans, trace, _ = _state(session_factory)
    assert {s.kind for s in spans.values()} == {"llm"}
    assert (trace.llm_calls, trace.output_tokens) == (2, 106)
