"""Golden costs, computed by hand with Decimal from published per-million-token prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from collector.normalise import normalise_span
from collector.spans import RawSpan
from core.ingest import SpanRecord
from tests.collector.conftest import T0_NS

PER_MTOK = Decimal("0.000001")


def _span(attributes: dict[str, Any]) -> SpanRecord:
    raw = RawSpan(
        trace_id="a" * 32, span_id="b" * 16, parent_span_id=None, name="chat", otel_kind=3,
        start_ns=T0_NS, end_ns=T0_NS + 10**9, status="unset", status_message=None,
        attributes=attributes, resource={}, scope={"name": "", "version": ""},
    )  # fmt: skip
    return normalise_span(raw)


def _chat(model: str, provider: str, **usage: int) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
    }  # fmt: skip
    attributes.update({f"gen_ai.usage.{k.replace('__', '.')}": v for k, v in usage.items()})
    return attributes


def test_cached_input_is_billed_at_the_cache_price() -> None:
    span = _span(_chat("gpt-4o-mini", "openai", input_tokens=10_000, output_tokens=500,
                       cache_read__input_tokens=8_000))  # fmt: skip
    # gpt-4o-mini: input 0.15, cached input 0.075, output 0.60 per million tokens.
    expected = (
        2_000 * Decimal("0.15") + 8_000 * Decimal("0.075") + 500 * Decimal("0.60")
    ) * PER_MTOK
    assert span.cost == expected
    assert span.cost_source == "computed"
    assert "gpt-4o-mini" in (span.price_ref or "")


def test_cache_write_and_read_are_billed_once_each() -> None:
    usage = {"cache_read__input_tokens": 6_000, "cache_write__input_tokens": 2_000}
    span = _span(_chat("claude-sonnet-4-5", "anthropic", input_tokens=10_000, output_tokens=500,
                       **usage))  # fmt: skip
    # claude-sonnet-4.5: input 3, cache read 0.30, cache write 3.75, output 15 per million.
    expected = (
        2_000 * Decimal("3") + 6_000 * Decimal("0.30") + 2_000 * Decimal("3.75")
        + 500 * Decimal("15")
    ) * PER_MTOK  # fmt: skip
    assert span.cost == expected


def test_reasoning_tokens_are_part_of_output_and_not_billed_twice() -> None:
    span = _span(_chat("o3-mini", "openai", input_tokens=100, output_tokens=1_000,
                       reasoning__output_tokens=800))  # fmt: skip
    # o3-mini: input 1.10, output 4.40 per million; reasoning is inside output.
    assert span.cost == (100 * Decimal("1.10") + 1_000 * Decimal("4.40")) * PER_MTOK
    assert span.reasoning_tokens == 800


def test_anthropic_input_without_cache_is_made_inclusive() -> None:
    # OpenLIT reports Anthropic input *excluding* cache: 25 where others say 1325.
    span = _span(_chat("claude-sonnet-4-5", "anthropic", input_tokens=25, output_tokens=10,
                       cache_read__input_tokens=1_300))  # fmt: skip
    assert span.input_tokens == 1_325
    expected = (25 * Decimal("3") + 1_300 * Decimal("0.30") + 10 * Decimal("15")) * PER_MTOK
    assert span.cost == expected


def test_unknown_model_has_unknown_cost_never_zero() -> None:
    span = _span(_chat("acme-llm-9000", "acme", input_tokens=100, output_tokens=10))
    assert span.cost is None
    assert span.cost_source == "unknown"


@pytest.mark.parametrize(
    ("attributes", "source_key"),
    [
        ({"tokentrail.cost.usd": 0.0123}, "tokentrail.cost.usd"),
        ({"llm.cost.total": 0.0123}, "llm.cost.total"),
        ({"gen_ai.usage.cost": 0.0123}, "gen_ai.usage.cost"),
        ({"operation.cost": 0.0123}, "operation.cost"),
        ({"langfuse.observation.cost_details": '{"input": 0.01, "total": 0.0123}'},
         "langfuse.observation.cost_details"),
    ],
)  # fmt: skip
def test_reported_cost_is_kept(attributes: dict[str, Any], source_key: str) -> None:
    span = _span({**_chat("gpt-4o-mini", "openai", input_tokens=10, output_tokens=1), **attributes})
    assert span.cost == Decimal("0.0123")
    assert span.cost_source == "reported"
    assert span.price_ref == f"reported:{source_key}"


def test_openlit_zero_cost_means_unknown_so_we_compute() -> None:
    span = _span({**_chat("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=0),
                  "gen_ai.usage.cost": 0.0})  # fmt: skip
    assert span.cost_source == "computed"
    assert span.cost == 1_000 * Decimal("0.15") * PER_MTOK


def test_usage_estimated_by_the_sdk_gives_an_estimated_cost() -> None:
    span = _span({**_chat("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=100),
                  "tokentrail.usage.estimated": True})  # fmt: skip
    assert (span.usage_source, span.cost_source) == ("estimated", "estimated")
    assert span.cost == (1_000 * Decimal("0.15") + 100 * Decimal("0.60")) * PER_MTOK


def test_absurd_reported_cost_is_ignored_instead_of_failing_the_insert() -> None:
    span = _span({**_chat("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=0),
                  "tokentrail.cost.usd": 1e300})  # fmt: skip
    assert span.cost_source == "computed"


def test_chain_spans_are_not_priced() -> None:
    span = _span({"traceloop.span.kind": "workflow", "gen_ai.usage.input_tokens": 100,
                  "gen_ai.request.model": "gpt-4o-mini"})  # fmt: skip
    assert span.kind == "chain"
    assert span.cost is None
