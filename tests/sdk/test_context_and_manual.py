"""tokentrail.context, set_attributes, manual spans (back-dated) and feedback scores."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest
import tokentrail

from tests.sdk.conftest import API_KEY, flush
from tests.sdk.providers import CHAT_COMPLETION
from tests.sdk.receiver import Receiver


@tokentrail.observe(name="leaf")
def leaf() -> str:
    return "ok"


def test_context_manager_applies_attribution_to_every_span_beneath(sdk: Receiver) -> None:
    with tokentrail.context(
        user_id="u-1",
        session_id="s-1",
        tags=["beta"],
        team="search",
        feature="answers",
        customer="acme",
        environment="staging",
        metadata={"plan": "pro", "seats": 3},
    ):
        leaf()
    leaf()
    flush(sdk)
    inside, outside = sorted(sdk.spans, key=lambda s: s.start_ns)
    assert inside.attributes["user.id"] == "u-1"
    assert inside.attributes["session.id"] == "s-1"
    assert inside.attributes["tag.tags"] == ["beta"]
    assert inside.attributes["tokentrail.team"] == "search"
    assert inside.attributes["tokentrail.feature"] == "answers"
    assert inside.attributes["tokentrail.customer"] == "acme"
    assert inside.attributes["deployment.environment.name"] == "staging"
    assert inside.attributes["tokentrail.metadata.plan"] == "pro"
    assert inside.attributes["tokentrail.metadata.seats"] == "3"
    assert "user.id" not in outside.attributes


def test_nested_contexts_merge_and_tags_accumulate(sdk: Receiver) -> None:
    with tokentrail.context(user_id="outer", tags=["a"]), tokentrail.context(tags=["b"]):
        leaf()
    attrs = flush(sdk).by_name("leaf").attributes
    assert attrs["user.id"] == "outer"
    assert attrs["tag.tags"] == ["a", "b"]


def test_context_as_decorator_on_sync_async_and_generator(sdk: Receiver) -> None:
    @tokentrail.context(feature="f-sync")
    def sync() -> str:
        return leaf()

    @tokentrail.context(feature="f-async")
    async def run_async() -> str:
        return leaf()

    @tokentrail.context(feature="f-gen")
    def gen() -> Iterator[str]:
        yield leaf()

    sync()
    asyncio.run(run_async())
    list(gen())
    features = sorted(s.attributes["tokentrail.feature"] for s in flush(sdk).spans)
    assert features == ["f-async", "f-gen", "f-sync"]


def test_configured_environment_is_the_default(receiver: Receiver) -> None:
    tokentrail.configure(endpoint=receiver.url, environment="prod")
    leaf()
    span = flush(receiver).by_name("leaf")
    assert span.attributes["deployment.environment.name"] == "prod"
    assert span.resource["deployment.environment.name"] == "prod"


def test_set_attributes_maps_friendly_names_on_the_current_span(sdk: Receiver) -> None:
    @tokentrail.observe(name="tagged")
    def tagged() -> None:
        tokentrail.set_attributes(
            user_id="u-9", tags=["x"], cost_usd=0.25, **{"gen_ai.prompt.name": "faq"}
        )

    tagged()
    tokentrail.set_attributes(user_id="nobody")  # no current span: nothing happens
    attrs = flush(sdk).by_name("tagged").attributes
    assert attrs["user.id"] == "u-9"
    assert attrs["tag.tags"] == ["x"]
    assert attrs["tokentrail.cost.usd"] == 0.25
    assert attrs["gen_ai.prompt.name"] == "faq"


def test_manual_span_back_dated_with_children(sdk: Receiver) -> None:
    start = dt.datetime(2026, 10, 1, 9, 30, tzinfo=dt.UTC)
    with tokentrail.span("demo-root", kind="agent", start_time=start, input={"q": "hi"}) as root:
        with tokentrail.span("demo-llm", kind="llm", start_time=start) as child:
            child.record_llm_response(CHAT_COMPLETION, messages=[{"role": "user", "content": "hi"}])
            child.end(end_time=start + dt.timedelta(seconds=1.5))
        leaf()
        root.set_output("answer")
        root.end(end_time=start + dt.timedelta(seconds=2))
    flush(sdk)
    root_span, llm_span = sdk.by_name("demo-root"), sdk.by_name("demo-llm")
    start_ns = int(start.timestamp()) * 1_000_000_000
    assert root_span.start_ns == start_ns
    assert root_span.end_ns == start_ns + 2_000_000_000
    assert llm_span.end_ns == start_ns + 1_500_000_000
    assert llm_span.parent_span_id == root_span.span_id
    assert sdk.by_name("leaf").parent_span_id == root_span.span_id
    assert root_span.attributes["tokentrail.span.kind"] == "agent"
    assert json.loads(root_span.attributes["input.value"]) == {"q": "hi"}
    assert json.loads(root_span.attributes["output.value"]) == "answer"
    assert llm_span.attributes["tokentrail.span.kind"] == "llm"
    assert llm_span.attributes["gen_ai.usage.input_tokens"] == 12
    assert json.loads(llm_span.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]


def test_manual_span_accepts_int_nanoseconds_and_records_errors(sdk: Receiver) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        tokentrail.span("failing", start_time=1_790_000_000_000_000_000),
    ):
        _ = 1 / 0
    span = flush(sdk).by_name("failing")
    assert span.start_ns == 1_790_000_000_000_000_000
    assert span.status_code == 2


def test_manual_span_fails_back_dated_without_raising(sdk: Receiver) -> None:
    start = dt.datetime(2026, 10, 2, 8, tzinfo=dt.UTC)
    with tokentrail.span("rate-limited", kind="llm", start_time=start) as handle:
        handle.fail(RuntimeError("429 Too Many Requests"), end_time=start + dt.timedelta(seconds=1))
        handle.set_output("ignored after the end")
    span = flush(sdk).by_name("rate-limited")
    assert span.status_code == 2
    assert span.end_ns == span.start_ns + 1_000_000_000
    assert "output.value" not in span.attributes


def test_manual_span_rejects_naive_datetimes_and_bad_kinds() -> None:
    with pytest.raises(ValueError, match="aware"):
        tokentrail.span("x", start_time=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="kind"):
        tokentrail.span("x", kind="nope")


def test_manual_span_is_a_no_op_when_unconfigured() -> None:
    with tokentrail.span("quiet") as handle:
        handle.set_output(1)
        handle.set_attributes(user_id="u")
        handle.record_llm_response(CHAT_COMPLETION)
        handle.end()
    assert handle.trace_id is None
    assert tokentrail.stats()["created"] == 0


def test_score_posts_feedback_for_the_current_trace(sdk: Receiver) -> None:
    with tokentrail.span("scored") as handle:
        tokentrail.score("helpful", 1, comment="great")
    tokentrail.score("accuracy", 0.5, trace_id="ab" * 16, span_id="cd" * 8, client_id="c-1")
    tokentrail.score("orphan", 1)  # no trace: dropped with a warning, never raises
    flush(sdk)
    first, second = sdk.scores
    assert first == {
        "trace_id": handle.trace_id,
        "span_id": handle.span_id,
        "name": "helpful",
        "value": 1,
        "comment": "great",
        "client_id": first["client_id"],
        "source": "feedback",
    }
    assert second["trace_id"] == "ab" * 16
    assert second["client_id"] == "c-1"
    score_requests = [r for r in sdk.requests if r["path"] == "/api/v1/scores"]
    assert score_requests[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert tokentrail.stats()["scores_sent"] == 2


def test_score_never_raises_with_a_dead_collector() -> None:
    tokentrail.configure(endpoint="http://127.0.0.1:9")
    tokentrail.score("x", 1, trace_id="ab" * 16)
    assert tokentrail.flush(3.0)
    assert tokentrail.stats()["scores_dropped"] == 1
