"""Cost of an LLM call from its typed usage buckets.

Prices come from the ``genai-prices`` package's bundled snapshot (never fetched at run time).
Input tokens *include* cache reads and writes and output tokens *include* reasoning tokens,
as in the OTel GenAI conventions; genai-prices uses the same subset rules, so no bucket is
billed twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import genai_prices
from genai_prices import data_snapshot

from core.models import CostSource

logger = logging.getLogger(__name__)

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


def cost_for(provider: str | None, model: str | None, usage: TokenUsage, at: datetime) -> Price:
    """Price ``usage`` of ``model`` at time ``at``; unknown models have unknown cost, never 0."""
    if not model:
        return UNKNOWN
    match = _find_model(provider or "", model)
    if match is None:
        return UNKNOWN
    gp_provider, gp_model = match
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
    ref = f"genai-prices {genai_prices.__version__}:{gp_provider.id}/{gp_model.id}"
    return Price(Decimal(calc.total_price), CostSource.COMPUTED, ref)


@lru_cache(maxsize=4096)
def _find_model(provider: str, model: str) -> tuple[Any, Any] | None:
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
