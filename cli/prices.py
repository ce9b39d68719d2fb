"""Turning ``tokentrail prices set`` options into a validated price override."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.errors import InvalidInputError
from core.prices import PriceOverrideIn


def parse_tier(text: str) -> dict[str, str]:
    """``ABOVE_INPUT_TOKENS:INPUT:OUTPUT`` → a tier's fields."""
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidInputError(f"a tier is ABOVE_INPUT_TOKENS:INPUT:OUTPUT, got {text!r}")
    above, input_price, output_price = parts
    return {
        "above_input_tokens": above,
        "input_per_mtok": input_price,
        "output_per_mtok": output_price,
    }


def override_from_options(
    *,
    model_pattern: str,
    input_price: str,
    output_price: str,
    cache_read: str | None,
    cache_write: str | None,
    reasoning: str | None,
    provider: str | None,
    effective_from: str | None,
    tiers: tuple[str, ...],
) -> PriceOverrideIn:
    """The override the options describe; invalid values are a plain error, not a traceback."""
    fields: dict[str, Any] = {
        "model_pattern": model_pattern,
        "provider": provider,
        "effective_from": effective_from or datetime.now(UTC),
        "input_per_mtok": input_price,
        "output_per_mtok": output_price,
        "cache_read_per_mtok": cache_read,
        "cache_write_per_mtok": cache_write,
        "reasoning_per_mtok": reasoning,
        "tiers": [parse_tier(t) for t in tiers],
    }
    try:
        return PriceOverrideIn.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(f"invalid price override: {problems}") from None
