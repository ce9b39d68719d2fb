"""Token usage in typed buckets and costs the application reported itself (§5.1, §5.3.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from collector.normalise.attrs import Attrs, as_count, as_number

#: Numeric(22, 10): a reported cost must fit, or the whole batch would fail to insert.
MAX_COST = Decimal("1e11")
COST_QUANTUM = Decimal("1e-10")

INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
              "llm.usage.prompt_tokens", "decision.token_count.input")  # fmt: skip
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
               "llm.token_count.completion", "llm.usage.completion_tokens",
               "decision.token_count.output")  # fmt: skip
CACHE_READ_KEYS = (
    "gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read",
    "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.prompt_tokens_details.cached_tokens",
    "gen_ai.usage.details.cache_read_input_tokens", "gen_ai.usage.cache_read_tokens",
)  # fmt: skip
CACHE_WRITE_KEYS = (
    "gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "llm.token_count.prompt_details.cache_write", "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.prompt_tokens_details.cache_creation_tokens",
    "gen_ai.usage.details.cache_creation_input_tokens", "gen_ai.usage.cache_write_tokens",
)  # fmt: skip
REASONING_KEYS = (
    "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
    "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens",
    "gen_ai.usage.completion_tokens_details.reasoning_tokens",
)  # fmt: skip
TOTAL_KEYS = ("llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens",
              "gen_ai.client.token.usage")  # fmt: skip
#: Reported total cost in USD, in priority order; Langfuse's cost_details is read first.
COST_KEYS = ("tokentrail.cost.usd", "llm.cost.total", "gen_ai.usage.cost", "operation.cost",
             "gen_ai.usage.cost_usd", "gen_ai.usage.cost.total", "llm.usage.cost")  # fmt: skip


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None

    @property
    def present(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


def usage_of(attrs: Attrs) -> Usage:
    """Usage from attributes, else from Langfuse's usage_details; subsets never exceed totals."""
    usage = Usage(
        input_tokens=attrs.count(*INPUT_KEYS),
        output_tokens=attrs.count(*OUTPUT_KEYS),
        cache_read_tokens=attrs.count(*CACHE_READ_KEYS),
        cache_write_tokens=attrs.count(*CACHE_WRITE_KEYS),
        reasoning_tokens=attrs.count(*REASONING_KEYS) or _raw_reasoning(attrs),
        total_tokens=attrs.count(*TOTAL_KEYS),
    )
    if not usage.present:
        details = attrs.decoded("langfuse.observation.usage_details")
        if isinstance(details, dict):
            usage = _langfuse_usage(details)
    return _consistent(usage)


def _raw_reasoning(attrs: Attrs) -> int | None:
    """Logfire keeps reasoning tokens only inside the provider's raw usage object."""
    raw = attrs.decoded("gen_ai.usage.raw")
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details") or raw.get("output_tokens_details")
    return as_count(details.get("reasoning_tokens")) if isinstance(details, dict) else None


def _first(details: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = as_count(details.get(key))
        if value is not None:
            return value
    return None


def _nested(details: dict[str, Any], outer: str, inner: str) -> int | None:
    value = details.get(outer)
    return as_count(value.get(inner)) if isinstance(value, dict) else None


def _langfuse_usage(details: dict[str, Any]) -> Usage:
    cache_read = _first(details, "input_cached_tokens", "input_cache_read",
                        "cache_read_input_tokens") or _nested(details, "prompt_tokens_details",
                                                             "cached_tokens")  # fmt: skip
    cache_write = _first(details, "input_cache_creation", "input_cache_write",
                         "cache_creation_input_tokens")  # fmt: skip
    reasoning = _first(details, "output_reasoning_tokens") or _nested(
        details, "completion_tokens_details", "reasoning_tokens"
    )
    # Langfuse's own "input" excludes cached tokens; OpenAI's prompt_tokens includes them.
    langfuse_input = _first(details, "input")
    if langfuse_input is not None:
        langfuse_input += (cache_read or 0) + (cache_write or 0)
    output = _first(details, "output")
    if output is not None and reasoning is not None and "output_reasoning_tokens" in details:
        output += reasoning
    return Usage(
        input_tokens=langfuse_input
        if langfuse_input is not None
        else _first(details, "prompt_tokens", "input_tokens"),
        output_tokens=output
        if output is not None
        else _first(details, "completion_tokens", "output_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
        total_tokens=_first(details, "total", "total_tokens"),
    )


def _consistent(usage: Usage) -> Usage:
    """Enforce the subset rules: input includes cache, output includes reasoning, total sums.

    Some instrumentations (OpenLIT with Anthropic, raw Anthropic usage) report input without
    the cached part; a subset larger than its total can only mean that, so add it back.
    """
    cached = (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0)
    if usage.input_tokens is not None and cached > usage.input_tokens:
        usage.input_tokens += cached
    reasoning = usage.reasoning_tokens or 0
    if usage.output_tokens is not None and reasoning > usage.output_tokens:
        usage.output_tokens += reasoning
    if usage.total_tokens is None and usage.present:
        usage.total_tokens = (usage.input_tokens or 0) + (usage.output_tokens or 0)
    return usage


def reported_cost(attrs: Attrs) -> tuple[Decimal, str] | None:
    """A positive cost the app reported, with the attribute it came from."""
    details = attrs.decoded("langfuse.observation.cost_details")
    if isinstance(details, dict):
        cost = to_money(details.get("total"))
        if cost is not None:
            return cost, "langfuse.observation.cost_details"
    for key in COST_KEYS:
        cost = to_money(attrs.get(key))
        if cost is not None:
            return cost, key
    return None


def to_money(value: Any) -> Decimal | None:
    """A positive, storable Decimal from a reported number; 0 means "unknown" (OpenLIT)."""
    number = as_number(value)
    if number is None or number <= 0 or not math.isfinite(number):
        return None
    try:
        money = Decimal(repr(number)) if isinstance(value, float) else Decimal(str(value).strip())
        money = money.quantize(COST_QUANTUM)
    except (InvalidOperation, ValueError):
        return None
    return money if money < MAX_COST else None
