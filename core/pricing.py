"""Cost of an LLM call from its typed usage buckets.

Prices come first from the project's own overrides (rows in ``price_overrides``, handed in by
the caller), then from the ``genai-prices`` package's bundled snapshot (never fetched at run
time). Input tokens *include* cache reads and writes and output tokens *include* reasoning
tokens, as in the OTel GenAI conventions; genai-prices uses the same subset rules, and so do
overrides, so no bucket is billed twice.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import genai_prices
from genai_prices import data_snapshot

from core.ingest import SpanRecord
from core.models import CostSource, SpanKind, UsageSource

logger = logging.getLogger(__name__)

#: Costs are stored with 10 decimal places (``core.models.MONEY``).
COST_QUANTUM = Decimal("1e-10")
MILLION = Decimal(1_000_000)
PRICED_KINDS = frozenset({SpanKind.LLM.value, SpanKind.EMBEDDING.value})

#: Our canonical provider names (OTel ``gen_ai.provider.name``) → genai-prices provider ids.
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "moonshot_ai": "moonshotai",
    "together_ai": "together",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "groq": "groq",
    "perplexity": "perplexity",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
}


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Typed usage buckets; cache buckets are subsets of input, reasoning a subset of output."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def is_empty(self) -> bool:
        return self.input_tokens == 0 and self.output_tokens == 0


@dataclass(frozen=True, slots=True)
class Price:
    """What one call costs and where the number came from."""

    cost: Decimal | None
    source: CostSource
    ref: str | None = None


UNKNOWN = Price(None, CostSource.UNKNOWN)


@dataclass(frozen=True, slots=True)
class BucketPrices:
    """USD per million tokens; ``None`` bills the bucket at the input (or output) price."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None

    def cost(self, usage: TokenUsage) -> Decimal:
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        plain_input = max(usage.input_tokens - cached, 0)
        plain_output = max(usage.output_tokens - usage.reasoning_tokens, 0)
        total = (
            plain_input * self.input
            + usage.cache_read_tokens * _or(self.cache_read, self.input)
            + usage.cache_write_tokens * _or(self.cache_write, self.input)
            + plain_output * self.output
            + usage.reasoning_tokens * _or(self.reasoning, self.output)
        )
        return total / MILLION


def _or(price: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if price is None else price


@dataclass(frozen=True, slots=True)
class OverrideTier:
    """Prices that replace the base prices for *all* tokens of a call above a context size."""

    above_input_tokens: int
    prices: BucketPrices


@dataclass(frozen=True, slots=True)
class OverridePrice:
    """A project's own price, as :func:`cost_for` consults it (see ``core.prices``)."""

    id: int
    model_pattern: str
    effective_from: datetime
    prices: BucketPrices
    provider: str | None = None
    tiers: tuple[OverrideTier, ...] = field(default=())

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Exact names beat globs, longer literal parts beat shorter, a provider beats none."""
        literal = sum(1 for ch in self.model_pattern if ch not in "*?[]")
        exact = int(not any(ch in self.model_pattern for ch in "*?["))
        return exact, literal, int(self.provider is not None)

    def matches(self, provider: str | None, model: str, at: datetime) -> bool:
        if self.effective_from > at:
            return False
        if self.provider is not None and self.provider.lower() != (provider or "").lower():
            return False
        return fnmatch.fnmatchcase(model.lower(), self.model_pattern.lower())

    def prices_for(self, usage: TokenUsage) -> BucketPrices:
        """The tier the call's input size falls into (threshold pricing, like genai-prices)."""
        chosen = self.prices
        for tier in sorted(self.tiers, key=lambda t: t.above_input_tokens):
            if usage.input_tokens > tier.above_input_tokens:
                chosen = tier.prices
        return chosen


def find_override(
    overrides: Iterable[OverridePrice], provider: str | None, model: str, at: datetime
) -> OverridePrice | None:
    """The most specific override for ``model``, and of those the latest in effect at ``at``."""
    candidates = [o for o in overrides if o.matches(provider, model, at)]
    if not candidates:
        return None
    return max(candidates, key=lambda o: (o.specificity, o.effective_from, o.id))


def cost_for(
    provider: str | None,
    model: str | None,
    usage: TokenUsage,
    at: datetime,
    overrides: Sequence[OverridePrice] = (),
) -> Price:
    """Price ``usage`` of ``model`` at time ``at``; unknown models have unknown cost, never 0.

    Args:
        provider: our canonical provider name, a hint for the model lookup.
        model: the model that served the call.
        usage: the typed token buckets.
        at: when the call started; prices and overrides in effect then apply.
        overrides: the project's price overrides; a matching one wins over genai-prices.
    """
    if not model:
        return UNKNOWN
    override = find_override(overrides, provider, model, at)
    if override is not None:
        cost = override.prices_for(usage).cost(usage)
        return Price(cost, CostSource.COMPUTED, f"override:{override.id}")
    match = find_model(provider or "", model)
    if match is None:
        return UNKNOWN
    gp_provider, gp_model = match
    ref = f"genai-prices {genai_prices.__version__}:{gp_provider.id}/{gp_model.id}"
    simple = cached_simple_prices(provider or "", model, at.replace(second=0, microsecond=0))
    if simple is not None:
        return Price(simple.for_usage(usage).cost(usage), CostSource.COMPUTED, ref)
    return Price(_genai_cost(gp_provider, gp_model, usage, at), CostSource.COMPUTED, ref)


def _genai_cost(gp_provider: Any, gp_model: Any, usage: TokenUsage, at: datetime) -> Decimal:
    """genai-prices' own, general calculation (audio, images, per-request fees...)."""
    calc = gp_model.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        gp_provider,
        genai_request_timestamp=at,
        auto_update_timestamp=None,
    )
    return Decimal(calc.total_price)


#: genai-prices price keys our token buckets map to one for one.
SIMPLE_KEYS = {"input_mtok": "input", "output_mtok": "output",
               "cache_read_mtok": "cache_read", "cache_write_mtok": "cache_write"}  # fmt: skip
#: Prices for usage we never report (searches, 1-hour cache writes): they add nothing.
UNREPORTED_KEYS = frozenset({"web_searches_kcount", "storage_searches_kcount",
                             "cache_write_1h_mtok"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class TieredBuckets:
    """A genai-prices model price reduced to our buckets: (base, ((start, price), ...))."""

    buckets: dict[str, tuple[Decimal, tuple[tuple[int, Decimal], ...]]]

    def for_usage(self, usage: TokenUsage) -> BucketPrices:
        """Each bucket's rate for this call: a tier applies once input is above its start."""
        rates: dict[str, Decimal] = {}
        for name, (base, tiers) in self.buckets.items():
            rates[name] = next(
                (price for start, price in reversed(tiers) if usage.input_tokens > start), base
            )
        return BucketPrices(**rates)


@lru_cache(maxsize=4096)
def cached_simple_prices(provider: str, model: str, minute: datetime) -> TieredBuckets | None:
    """:func:`simple_prices` of our (provider, model) at ``minute``, cached per minute."""
    match = find_model(provider, model)
    return None if match is None else simple_prices(match[1], minute)


def simple_prices(gp_model: Any, minute: datetime) -> TieredBuckets | None:
    """The model's prices at ``minute`` when they are plain token prices, else None.

    genai-prices' general calculation costs about half a millisecond per call; for plain
    token prices the same arithmetic on Decimals gives the identical result (a test compares
    the two over the whole price table), so it is done here with the resolved prices cached.
    """
    model_price = gp_model.get_prices(minute)
    fields = {k: v for k, v in vars(model_price).items() if v is not None and k[0] != "_"}
    if "input_mtok" not in fields or "output_mtok" not in fields:
        return None
    if set(fields) - set(SIMPLE_KEYS) - UNREPORTED_KEYS:
        return None
    buckets: dict[str, tuple[Decimal, tuple[tuple[int, Decimal], ...]]] = {}
    for key, name in SIMPLE_KEYS.items():
        value = fields.get(key)
        if isinstance(value, Decimal):
            buckets[name] = (value, ())
        elif value is not None:
            buckets[name] = (value.base, tuple((t.start, t.price) for t in value.tiers))
    return TieredBuckets(buckets)


def apply_overrides(records: Iterable[SpanRecord], overrides: Sequence[OverridePrice]) -> int:
    """Re-price normalised span records that a project override matches; return how many.

    Reported costs are kept, spans without usage stay unpriced, and estimated usage gives an
    estimated cost.
    """
    if not overrides:
        return 0
    changed = 0
    for record in records:
        if record.cost_source == CostSource.REPORTED or record.usage_source is None:
            continue
        if record.kind not in PRICED_KINDS or not record.model:
            continue
        override = find_override(overrides, record.provider, record.model, record.start_time)
        if override is None:
            continue
        usage = usage_of(record)
        record.cost = override.prices_for(usage).cost(usage).quantize(COST_QUANTUM)
        record.price_ref = f"override:{override.id}"
        estimated = record.usage_source == UsageSource.ESTIMATED
        record.cost_source = (CostSource.ESTIMATED if estimated else CostSource.COMPUTED).value
        changed += 1
    return changed


def usage_of(record: SpanRecord) -> TokenUsage:
    return TokenUsage(
        input_tokens=record.input_tokens or 0,
        output_tokens=record.output_tokens or 0,
        cache_read_tokens=record.cache_read_tokens or 0,
        cache_write_tokens=record.cache_write_tokens or 0,
        reasoning_tokens=record.reasoning_tokens or 0,
    )


@lru_cache(maxsize=4096)
def find_model(provider: str, model: str) -> tuple[Any, Any] | None:
    """genai-prices' provider and model for our names; the provider is a hint, not a must."""
    snapshot = data_snapshot.get_snapshot()
    provider_id = PROVIDER_IDS.get(provider)
    for candidate in [provider_id, None] if provider_id else [None]:
        try:
            return snapshot.find_provider_model(model, None, candidate, None)
        except LookupError:
            continue
    logger.debug("no price for provider=%s model=%s", provider, model)
    return None
