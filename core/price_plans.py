"""Price plans: the prices :func:`core.pricing.cost_for` would apply, as rows SQL can join.

Re-pricing a million spans one :func:`~core.pricing.cost_for` call at a time costs minutes of
Python; yet a batch holds only a handful of (provider, model) pairs, and for each pair the
price changes only at a few moments (an override's ``effective_from``, a genai-prices start
date) and at a few input sizes (tier thresholds). A *rate* is one such piece: for spans of
``provider``/``model`` starting in ``[since, until)`` with ``input_tokens`` in
``(above, upto]`` (``None``: unbounded) every bucket has one per-million price. Which piece
applies is decided by calling the pricing code itself at a representative point of the piece
(:func:`~core.pricing.find_override`, ``OverridePrice.prices_for``, the cached genai-prices
tiers), since it only compares the time and the input size with those same boundaries.

The cost is then :data:`EXACT_SQL` rounded by :func:`rounded_sql`: the arithmetic of
``BucketPrices.cost`` on ``numeric`` (exact) and ``quantize(COST_QUANTUM)`` with Python's
default half-even rounding, so it equals the Decimal ``cost_for`` gives to the last digit.
That holds while every Decimal step is exact in Python's 28-digit context: rates below 10⁶
with at most 12 decimals and token counts below 10⁹ (:data:`FITS_SQL`). Pairs priced
otherwise — time-of-day prices, genai-prices' general calculation, wider rates — and spans
outside those bounds are priced in Python (:func:`needs_python_sql` says which), one
``cost_for`` each, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices.types import StartDateConstraint

from core.pricing import (
    BucketPrices,
    OverridePrice,
    TokenUsage,
    cached_simple_prices,
    find_model,
    find_override,
)

#: Bounds under which the Decimal arithmetic of ``cost_for`` is exact (see the module doc).
MAX_RATE = Decimal(1_000_000)
MAX_RATE_DECIMALS = 12
MAX_TOKENS = 1_000_000_000
_USAGE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens")  # fmt: skip
#: The alias ``b`` has the usage columns; true where the set-based cost is exact.
FITS_SQL = "(" + " AND ".join(f"abs(coalesce(b.{c}, 0)) < {MAX_TOKENS}" for c in _USAGE) + ")"
#: The exact cost of span ``b`` at rate ``r`` (``BucketPrices.cost``); NULL: unpriced.
EXACT_SQL = (
    "(greatest(coalesce(b.input_tokens, 0) - coalesce(b.cache_read_tokens, 0) "
    "- coalesce(b.cache_write_tokens, 0), 0) * r.p_input "
    "+ coalesce(b.cache_read_tokens, 0) * r.p_cache_read "
    "+ coalesce(b.cache_write_tokens, 0) * r.p_cache_write "
    "+ greatest(coalesce(b.output_tokens, 0) - coalesce(b.reasoning_tokens, 0), 0) * r.p_output "
    "+ coalesce(b.reasoning_tokens, 0) * r.p_reasoning) * 0.000001"
)


def rounded_sql(exact: str) -> str:
    """``exact`` (a column) rounded half to even at 10 decimals like ``Decimal.quantize``;
    ``round`` alone rounds halves away from zero."""
    return (
        f"CASE WHEN abs(mod({exact} * 10000000000, 2)) = 0.5 THEN trunc({exact}, 10) "
        f"ELSE round({exact}, 10) END"
    )


#: The rates bound as arrays (:func:`rate_params`), as a ``FROM`` item ``r``.
RATES_SQL = (
    "unnest(CAST(:r_provider AS text[]), CAST(:r_model AS text[]), "
    "CAST(:r_since AS timestamptz[]), CAST(:r_until AS timestamptz[]), "
    "CAST(:r_above AS bigint[]), CAST(:r_upto AS bigint[]), CAST(:r_ref AS text[]), "
    "CAST(:r_input AS numeric[]), CAST(:r_output AS numeric[]), "
    "CAST(:r_cache_read AS numeric[]), CAST(:r_cache_write AS numeric[]), "
    "CAST(:r_reasoning AS numeric[])) AS r(provider, model, since, until, above, upto, ref, "
    "p_input, p_output, p_cache_read, p_cache_write, p_reasoning)"
)
#: Span ``b`` (columns ``provider``, ``model``, ``start_time``, ``input_tokens``) ↔ its rate.
JOIN_SQL = (
    "r.provider = coalesce(b.provider, '') AND r.model = coalesce(b.model, '') "
    "AND (r.since IS NULL OR b.start_time >= r.since) "
    "AND (r.until IS NULL OR b.start_time < r.until) "
    "AND (r.above IS NULL OR coalesce(b.input_tokens, 0) > r.above) "
    "AND (r.upto IS NULL OR coalesce(b.input_tokens, 0) <= r.upto)"
)


@dataclass(frozen=True, slots=True)
class Rate:
    """One piece of a pair's pricing; ``prices`` None: unpriced (unknown model)."""

    provider: str
    model: str
    since: datetime | None
    until: datetime | None
    above: int | None
    upto: int | None
    ref: str | None
    prices: BucketPrices | None


@dataclass(frozen=True, slots=True)
class Pair:
    """A (provider, model) of the spans to price ('' for missing) and their time range."""

    provider: str
    model: str
    first: datetime
    last: datetime


@dataclass(slots=True)
class Plan:
    """The rates of some pairs, and the pairs that need Python pricing."""

    rates: list[Rate]
    python_pairs: list[tuple[str, str]]


def plan(pairs: Iterable[Pair], overrides: Sequence[OverridePrice]) -> Plan:
    """Rates covering every span of ``pairs`` whose pricing SQL can reproduce exactly."""
    out = Plan([], [])
    for pair in pairs:
        rates = _pair_rates(pair, overrides)
        if rates is None:
            out.python_pairs.append((pair.provider, pair.model))
        else:
            out.rates.extend(rates)
    return out


def _pair_rates(pair: Pair, overrides: Sequence[OverridePrice]) -> list[Rate] | None:
    if not pair.model:  # no model: unpriced, as cost_for says
        return [Rate(pair.provider, "", None, None, None, None, None, None)]
    breaks = _time_breaks(pair, overrides)
    if breaks is None:
        return None
    starts = [pair.first, *(b for b in breaks if pair.first < b <= pair.last)]
    rates: list[Rate] = []
    for k, at in enumerate(starts):
        since = None if k == 0 else at
        until = starts[k + 1] if k + 1 < len(starts) else None
        pieces = _pieces_at(pair, at, overrides)
        if pieces is None:
            return None
        for above, upto, ref, prices in pieces:
            rates.append(Rate(pair.provider, pair.model, since, until, above, upto, ref, prices))
    return rates


def _time_breaks(pair: Pair, overrides: Sequence[OverridePrice]) -> list[datetime] | None:
    """The moments the pair's price may change at; None when it changes with the time of
    day (genai-prices' off-peak prices)."""
    moments = {
        o.effective_from
        for o in overrides
        if o.matches(pair.provider, pair.model, o.effective_from)
    }
    match = find_model(pair.provider, pair.model)
    if match is not None and isinstance(match[1].prices, list):
        for conditional in match[1].prices:
            constraint = conditional.constraint
            if isinstance(constraint, StartDateConstraint):
                moments.add(datetime.combine(constraint.start_date, time(), UTC))
            elif constraint is not None:
                return None
    return sorted(moments)


_Piece = tuple[int | None, int | None, str | None, BucketPrices | None]


def _pieces_at(pair: Pair, at: datetime, overrides: Sequence[OverridePrice]) -> list[_Piece] | None:
    """The input-size pieces of the pair's price in effect at ``at`` (None: Python only)."""
    override = find_override(overrides, pair.provider, pair.model, at)
    if override is not None:
        thresholds = {t.above_input_tokens for t in override.tiers}
        pieces = _bands(sorted(thresholds), lambda n: override.prices_for(TokenUsage(n)))
        ref = f"override:{override.id}"
    else:
        match = find_model(pair.provider, pair.model)
        if match is None:
            return [(None, None, None, None)]
        simple = cached_simple_prices(
            pair.provider, pair.model, at.replace(second=0, microsecond=0)
        )
        if simple is None:
            return None
        thresholds = {start for _, tiers in simple.buckets.values() for start, _ in tiers}
        pieces = _bands(sorted(thresholds), lambda n: simple.for_usage(TokenUsage(n)))
        ref = f"genai-prices {genai_prices.__version__}:{match[0].id}/{match[1].id}"
    if not all(_fits(p) for _, _, p in pieces):
        return None
    return [(above, upto, ref, prices) for above, upto, prices in pieces]


def _bands(
    thresholds: list[int], prices_at: Callable[[int], BucketPrices]
) -> list[tuple[int | None, int | None, BucketPrices]]:
    """``(above, upto, prices)`` per input-size band: the pricing code only asks whether the
    input is above a threshold, so one call inside a band prices all of it."""
    if not thresholds:
        return [(None, None, _resolved(prices_at(0)))]
    bands: list[tuple[int | None, int | None, BucketPrices]] = [
        (None, thresholds[0], _resolved(prices_at(thresholds[0])))
    ]
    for k, above in enumerate(thresholds):
        upto = thresholds[k + 1] if k + 1 < len(thresholds) else None
        bands.append((above, upto, _resolved(prices_at(above + 1))))
    return bands


def _resolved(prices: BucketPrices) -> BucketPrices:
    """Every bucket's own rate (a missing cache or reasoning price is the input or output's)."""
    return BucketPrices(
        input=prices.input,
        output=prices.output,
        cache_read=prices.input if prices.cache_read is None else prices.cache_read,
        cache_write=prices.input if prices.cache_write is None else prices.cache_write,
        reasoning=prices.output if prices.reasoning is None else prices.reasoning,
    )


def _fits(prices: BucketPrices) -> bool:
    rates = (prices.input, prices.output, prices.cache_read, prices.cache_write,
             prices.reasoning)  # fmt: skip
    return all(
        r is not None
        and r.is_finite()
        and abs(r) < MAX_RATE
        and -int(r.as_tuple().exponent) <= MAX_RATE_DECIMALS
        for r in rates
    )


def rate_params(rates: Sequence[Rate]) -> dict[str, list[Any]]:
    """The rates as the array parameters :data:`RATES_SQL` binds."""

    def bucket(name: str) -> list[Decimal | None]:
        return [None if r.prices is None else getattr(r.prices, name) for r in rates]

    return {
        "r_provider": [r.provider for r in rates],
        "r_model": [r.model for r in rates],
        "r_since": [r.since for r in rates],
        "r_until": [r.until for r in rates],
        "r_above": [r.above for r in rates],
        "r_upto": [r.upto for r in rates],
        "r_ref": [r.ref for r in rates],
        "r_input": bucket("input"),
        "r_output": bucket("output"),
        "r_cache_read": bucket("cache_read"),
        "r_cache_write": bucket("cache_write"),
        "r_reasoning": bucket("reasoning"),
    }


def needs_python_sql(plan_: Plan) -> tuple[str, dict[str, Any]]:
    """A condition on span ``b`` (and its parameters): true for spans priced in Python."""
    providers = [p for p, _ in plan_.python_pairs]
    models = [m for _, m in plan_.python_pairs]
    return (
        f"(NOT {FITS_SQL} OR (coalesce(b.provider, ''), coalesce(b.model, '')) IN "
        "(SELECT * FROM unnest(CAST(:py_providers AS text[]), CAST(:py_models AS text[]))))",
        {"py_providers": providers, "py_models": models},
    )


__all__ = [
    "EXACT_SQL",
    "FITS_SQL",
    "JOIN_SQL",
    "MAX_RATE",
    "MAX_RATE_DECIMALS",
    "MAX_TOKENS",
    "RATES_SQL",
    "Pair",
    "Plan",
    "Rate",
    "needs_python_sql",
    "plan",
    "rate_params",
    "rounded_sql",
]
