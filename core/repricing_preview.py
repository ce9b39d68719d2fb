"""Re-pricing previews: what a price change would do to stored costs, before it is saved.

Read only. The candidate spans of the change's scope are priced with the overrides as they
would be after the change — the job's own pricing: set-based from :mod:`core.price_plans`,
:func:`core.repricing.price_span` for the spans that need Python — and the differences summed
per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from core import price_plans
from core.errors import InvalidInputError
from core.prices import PriceOverrideIn, PriceTierIn, get_override, load_overrides
from core.pricing import BucketPrices, OverridePrice, OverrideTier, TokenUsage, cost_for
from core.repricing import CANDIDATES_SQL, models_matching, price_span


@dataclass(slots=True)
class ModelImpact:
    provider: str
    model: str
    spans: int = 0
    cost_before: Decimal = Decimal(0)
    cost_after: Decimal = Decimal(0)


@dataclass(slots=True)
class Preview:
    """What re-pricing ``[start, end)`` with a set of overrides would change."""

    spans_scanned: int = 0
    spans_affected: int = 0
    cost_before: Decimal = Decimal(0)
    cost_after: Decimal = Decimal(0)
    truncated: bool = False
    models: list[ModelImpact] = field(default_factory=list)


#: The scope's candidates in job order, numbered; ``:limit`` is one more than previewed.
_SCOPE_SQL = (
    "WITH b AS MATERIALIZED (SELECT c.*, row_number() OVER (ORDER BY start_time, trace_id, "
    "span_id) AS rn FROM (" + CANDIDATES_SQL + "ORDER BY start_time, trace_id, span_id "
    "LIMIT :limit) c) "
)
_PAIRS_SQL = (
    _SCOPE_SQL + "SELECT coalesce(provider, '') AS provider, coalesce(model, '') AS model, "
    "min(start_time) AS first, max(start_time) AS last, count(*) AS n FROM b GROUP BY 1, 2"
)
#: Per model, the spans whose price would change and their cost before and after.
_IMPACT_SQL = (
    _SCOPE_SQL + "SELECT provider, model, count(*) AS spans, sum(coalesce(cost, 0)) AS before, "
    "sum(coalesce(new_cost, 0)) AS after FROM (SELECT x.*, "
    f"{price_plans.rounded_sql('x.exact')} AS new_cost FROM ("
    "SELECT coalesce(b.provider, '') AS provider, coalesce(b.model, '') AS model, b.cost, "
    f"b.cost_source, b.price_ref, {price_plans.EXACT_SQL} AS exact, r.ref AS new_ref, "
    "CASE WHEN r.p_input IS NULL THEN 'unknown' WHEN b.usage_source = 'estimated' "
    "THEN 'estimated' ELSE 'computed' END AS new_source "
    f"FROM b JOIN {price_plans.RATES_SQL} ON {price_plans.JOIN_SQL} AND {price_plans.FITS_SQL} "
    "WHERE b.rn < :limit) x) q WHERE (cost, cost_source, price_ref) IS DISTINCT FROM "
    "(new_cost, new_source, new_ref) GROUP BY provider, model"
)


def preview(
    session: Session,
    project_id: int,
    overrides: Sequence[OverridePrice],
    *,
    start: datetime,
    end: datetime | None = None,
    models: Sequence[str] | None = None,
    max_spans: int = 2_000_000,
) -> Preview:
    """Price the candidate spans with ``overrides`` (read only) and sum what would change,
    per model; stops after ``max_spans`` spans (``truncated``).

    The pricing is the job's own (:mod:`core.price_plans` set-based, ``cost_for`` for the
    spans it cannot express), over the spans in the job's order.
    """
    params = {"project_id": project_id, "start": start, "end": end, "limit": max_spans + 1,
              "models": None if models is None else list(models)}  # fmt: skip
    pairs, counted = [], 0
    for row in session.execute(text(_PAIRS_SQL), params):
        pairs.append(price_plans.Pair(row.provider, row.model, row.first, row.last))
        counted += row.n
    plan = price_plans.plan(pairs, overrides)
    impacts: dict[tuple[str, str], ModelImpact] = {}
    for row in session.execute(text(_IMPACT_SQL), params | price_plans.rate_params(plan.rates)):
        impacts[(row.provider, row.model)] = ModelImpact(
            row.provider, row.model, row.spans, row.before, row.after
        )
    condition, extra = price_plans.needs_python_sql(plan)
    python_rows = session.execute(
        text(_SCOPE_SQL + f"SELECT * FROM b WHERE b.rn < :limit AND {condition}"), params | extra
    )
    for row in python_rows:
        new = price_span(row, overrides)
        if (new.cost, new.source, new.ref) == (row.cost, row.cost_source, row.price_ref):
            continue
        impact = impacts.setdefault((row.provider or "", row.model or ""),
                                    ModelImpact(row.provider or "", row.model or ""))  # fmt: skip
        impact.spans += 1
        impact.cost_before += row.cost or Decimal(0)
        impact.cost_after += new.cost or Decimal(0)
    out = Preview(spans_scanned=min(counted, max_spans), truncated=counted > max_spans)
    out.models = [impacts[k] for k in sorted(impacts)]
    out.spans_affected = sum(m.spans for m in out.models)
    out.cost_before = sum((m.cost_before for m in out.models), Decimal(0))
    out.cost_after = sum((m.cost_after for m in out.models), Decimal(0))
    return out


#: The id a proposed (unsaved) override gets: the highest, as the saved one would be newest.
PROPOSAL_ID = 2**62


def _bucket_prices(source: PriceOverrideIn | PriceTierIn) -> BucketPrices:
    return BucketPrices(
        input=source.input_per_mtok,
        output=source.output_per_mtok,
        cache_read=source.cache_read_per_mtok,
        cache_write=source.cache_write_per_mtok,
        reasoning=source.reasoning_per_mtok,
    )


def proposed_price(data: PriceOverrideIn) -> OverridePrice:
    """The pricing view of an override that is not saved (yet)."""
    return OverridePrice(
        id=PROPOSAL_ID,
        model_pattern=data.model_pattern,
        effective_from=data.effective_from,
        prices=_bucket_prices(data),
        provider=data.provider,
        tiers=tuple(OverrideTier(t.above_input_tokens, _bucket_prices(t)) for t in data.tiers),
    )


@dataclass(slots=True)
class ChangePreview:
    """A preview and the scope it covered."""

    start: datetime
    end: datetime | None
    models: list[str] | None
    result: Preview


def preview_change(
    session: Session,
    project_id: int,
    *,
    override: PriceOverrideIn | None = None,
    override_id: int | None = None,
    delete: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    max_spans: int = 2_000_000,
) -> ChangePreview:
    """What saving ``override`` (new, or replacing ``override_id``), deleting ``override_id``
    (``delete``), or re-pricing with today's prices (neither) would do to stored costs.

    Without ``start`` the scope is the one the saved change's job would get: from the earliest
    effective date involved, for the models the old or new pattern matches.
    """
    if delete and (override_id is None or override is not None):
        raise InvalidInputError("delete needs override_id and no override")
    current = list(load_overrides(session, project_id))
    versions: list[tuple[str, str | None, datetime]] = []
    if override_id is not None:
        old = get_override(session, project_id, override_id)
        versions.append((old.model_pattern, old.provider, old.effective_from))
        current = [o for o in current if o.id != override_id]
    if override is not None:
        versions.append((override.model_pattern, override.provider, override.effective_from))
        current.append(proposed_price(override))
    if override_id is not None and override is None and not delete:
        raise InvalidInputError("give the changed override, or delete: true")
    models: list[str] | None = None
    if versions:
        start = start or min(v[2] for v in versions)
        models = models_matching(session, project_id, [(v[0], v[1]) for v in versions], start)
    if start is None:
        raise InvalidInputError("start is required to preview a re-pricing at today's prices")
    if end is not None and end <= start:
        raise InvalidInputError("end must be after start")
    result = preview(session, project_id, current, start=start, end=end, models=models,
                     max_spans=max_spans)  # fmt: skip
    return ChangePreview(start, end, models, result)


@dataclass(frozen=True, slots=True)
class PriceCard:
    """A model's effective per-million-token prices at a moment, and where they come from."""

    provider: str
    model: str
    ref: str | None
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cache_read_per_mtok: Decimal | None


#: Tokens priced to read a rate: small enough to stay under every long-context tier.
_PROBE = 1000


def price_card(
    provider: str, model: str, at: datetime, overrides: Sequence[OverridePrice]
) -> PriceCard:
    """What ingest would charge per million tokens of each kind for ``model`` at ``at``."""

    def rate(usage: TokenUsage) -> tuple[Decimal | None, str | None]:
        price = cost_for(provider or None, model, usage, at, overrides)
        return (None if price.cost is None else price.cost * 1_000_000 / _PROBE), price.ref

    input_rate, ref = rate(TokenUsage(input_tokens=_PROBE))
    output_rate, _ = rate(TokenUsage(output_tokens=_PROBE))
    cached, _ = rate(TokenUsage(input_tokens=_PROBE, cache_read_tokens=_PROBE))
    return PriceCard(provider, model, ref, input_rate, output_rate, cached)


__all__ = [
    "PROPOSAL_ID",
    "ChangePreview",
    "ModelImpact",
    "Preview",
    "PriceCard",
    "preview",
    "preview_change",
    "price_card",
    "proposed_price",
]
