"""Golden costs computed by hand with Decimal, for genai-prices and for project overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.ingest import SpanRecord
from core.pricing import (
    BucketPrices,
    OverridePrice,
    OverrideTier,
    TokenUsage,
    apply_overrides,
    cost_for,
    find_override,
)

AT = datetime(2026, 10, 15, 9, 30, tzinfo=UTC)
M = Decimal(1_000_000)


def _override(
    id_: int, pattern: str, *, provider: str | None = None, since: datetime = AT, **prices: str
) -> OverridePrice:
    base = {"input": "2", "output": "8", **prices}
    return OverridePrice(
        id=id_,
        model_pattern=pattern,
        effective_from=since,
        provider=provider,
        prices=BucketPrices(**{k: Decimal(v) for k, v in base.items()}),  # type: ignore[arg-type]
    )


def test_cached_input_is_billed_at_the_cache_read_price() -> None:
    usage = TokenUsage(input_tokens=10_000, output_tokens=500, cache_read_tokens=8_000)
    price = cost_for("openai", "gpt-4o-mini", usage, AT)
    # gpt-4o-mini: input 0.15, cache read 0.075, output 0.60 per million.
    expected = (2_000 * Decimal("0.15") + 8_000 * Decimal("0.075") + 500 * Decimal("0.6")) / M
    assert price.cost == expected
    assert (price.ref or "").endswith("openai/gpt-4o-mini")


def test_cache_writes_are_billed_at_the_cache_write_price() -> None:
    usage = TokenUsage(input_tokens=10_000, output_tokens=100, cache_write_tokens=4_000)
    price = cost_for("anthropic", "claude-sonnet-4-0", usage, AT)
    # claude-sonnet-4: input 3, cache write 3.75, output 15 per million.
    expected = (6_000 * Decimal(3) + 4_000 * Decimal("3.75") + 100 * Decimal(15)) / M
    assert price.cost == expected


def test_reasoning_tokens_are_inside_output_and_billed_once() -> None:
    usage = TokenUsage(input_tokens=100, output_tokens=1_000, reasoning_tokens=800)
    price = cost_for("openai", "o3-mini", usage, AT)
    assert price.cost == (100 * Decimal("1.1") + 1_000 * Decimal("4.4")) / M


def test_long_context_tier_applies_to_every_token_above_200k_input() -> None:
    # gemini-2.5-pro in genai-prices: input 1.25 / 2.5, cache read 0.125 / 0.25,
    # output 10 / 15 per million, the second price once input is over 200,000 tokens.
    long = TokenUsage(input_tokens=250_000, output_tokens=2_000, cache_read_tokens=50_000)
    price = cost_for("gcp.gemini", "gemini-2.5-pro", long, AT)
    expected = (200_000 * Decimal("2.5") + 50_000 * Decimal("0.25") + 2_000 * Decimal(15)) / M
    assert price.cost == expected
    short = TokenUsage(input_tokens=150_000, output_tokens=2_000)
    expected_short = (150_000 * Decimal("1.25") + 2_000 * Decimal(10)) / M
    assert cost_for("gcp.gemini", "gemini-2.5-pro", short, AT).cost == expected_short


def test_unknown_model_has_unknown_cost() -> None:
    price = cost_for("acme", "acme-llm-9000", TokenUsage(100, 10), AT)
    assert price.cost is None
    assert price.source == "unknown"


def test_override_wins_over_genai_prices_from_its_effective_date() -> None:
    since = AT + timedelta(days=1)
    override = _override(17, "gpt-4o*", provider="openai", since=since, cache_read="0.5")
    usage = TokenUsage(input_tokens=1_000, output_tokens=100, cache_read_tokens=400)
    before = cost_for("openai", "gpt-4o-mini", usage, since - timedelta(seconds=1), [override])
    after = cost_for("openai", "gpt-4o-mini", usage, since, [override])
    assert (before.ref or "").startswith("genai-prices")
    assert after.ref == "override:17"
    assert after.cost == (600 * Decimal(2) + 400 * Decimal("0.5") + 100 * Decimal(8)) / M


def test_override_buckets_fall_back_to_input_and_output_prices() -> None:
    override = _override(1, "my-model", cache_write="5", reasoning="20")
    usage = TokenUsage(1_000, 500, cache_read_tokens=100, cache_write_tokens=200,
                       reasoning_tokens=300)  # fmt: skip
    price = cost_for(None, "my-model", usage, AT, [override])
    expected = (700 * Decimal(2) + 100 * Decimal(2) + 200 * Decimal(5) + 200 * Decimal(8)
                + 300 * Decimal(20)) / M  # fmt: skip
    assert price.cost == expected


def test_override_tier_applies_above_its_input_size() -> None:
    tier = OverrideTier(100_000, BucketPrices(Decimal(4), Decimal(16)))
    override = OverridePrice(1, "big-*", AT, BucketPrices(Decimal(2), Decimal(8)), tiers=(tier,))
    assert (
        cost_for(None, "big-1", TokenUsage(100_000, 10), AT, [override]).cost
        == (100_000 * Decimal(2) + 10 * Decimal(8)) / M
    )
    assert (
        cost_for(None, "big-1", TokenUsage(100_001, 10), AT, [override]).cost
        == (100_001 * Decimal(4) + 10 * Decimal(16)) / M
    )


def test_most_specific_pattern_wins_then_latest_effective_date() -> None:
    broad = _override(1, "gpt-*")
    narrow = _override(2, "gpt-4o*")
    exact_old = _override(3, "gpt-4o-mini", since=AT - timedelta(days=30))
    exact_new = _override(4, "gpt-4o-mini", since=AT - timedelta(days=1))
    exact_future = _override(5, "gpt-4o-mini", since=AT + timedelta(days=1))
    every = [broad, narrow, exact_old, exact_new, exact_future]
    assert find_override(every, "openai", "GPT-4o-mini", AT) is exact_new
    assert find_override([broad, narrow], "openai", "gpt-4o", AT) is narrow
    assert find_override(every, "openai", "gpt-3.5", AT) is broad


def test_override_for_another_provider_does_not_apply() -> None:
    azure = _override(1, "gpt-4o", provider="azure.ai.openai")
    assert find_override([azure], "openai", "gpt-4o", AT) is None
    assert find_override([azure], "Azure.AI.OpenAI", "gpt-4o", AT) is azure


def _record(**fields: object) -> SpanRecord:
    base: dict[str, object] = {
        "trace_id": "a" * 32, "span_id": "b" * 16, "name": "chat", "start_time": AT,
        "end_time": AT, "kind": "llm", "request_model": "gpt-4o", "input_tokens": 1_000,
        "output_tokens": 100, "usage_source": "reported", "cost": Decimal(1),
        "cost_source": "computed", "price_ref": "genai-prices",
    }  # fmt: skip
    base.update(fields)
    return SpanRecord(**base)  # type: ignore[arg-type]


def test_apply_overrides_reprices_matching_records_and_keeps_reported_costs() -> None:
    matched, reported = _record(), _record(cost_source="reported", cost=Decimal(9))
    estimated, no_usage = _record(usage_source="estimated"), _record(usage_source=None)
    tool = _record(kind="tool")
    records = [matched, reported, estimated, no_usage, tool]
    assert apply_overrides(records, [_override(7, "gpt-4o")]) == 2
    assert matched.cost == (1_000 * Decimal(2) + 100 * Decimal(8)) / M
    assert (matched.price_ref, matched.cost_source) == ("override:7", "computed")
    assert (estimated.price_ref, estimated.cost_source) == ("override:7", "estimated")
    assert reported.cost == Decimal(9)
    assert no_usage.price_ref == tool.price_ref == "genai-prices"


def test_fast_path_equals_genai_prices_over_the_whole_price_table() -> None:
    import genai_prices
    from genai_prices import data_snapshot

    from core.pricing import simple_prices

    usages = [
        TokenUsage(1_234, 567, cache_read_tokens=200, cache_write_tokens=100),
        TokenUsage(250_001, 3_000, cache_read_tokens=50_000, reasoning_tokens=1_000),
    ]
    compared = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            simple = simple_prices(model, AT)
            if simple is None:
                continue
            for usage in usages:
                slow = model.calc_price(
                    genai_prices.Usage(input_tokens=usage.input_tokens,
                                       output_tokens=usage.output_tokens,
                                       cache_read_tokens=usage.cache_read_tokens,
                                       cache_write_tokens=usage.cache_write_tokens),
                    provider, genai_request_timestamp=AT, auto_update_timestamp=None,
                )  # fmt: skip
                assert simple.for_usage(usage).cost(usage) == slow.total_price, model.id
                compared += 1
    assert compared > 1_000
