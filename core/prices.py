"""Per-project price overrides: create, change and delete them with an audit trail, and hand
them to :func:`core.pricing.cost_for` through a short-lived per-project cache.

Deleting an override only marks it deleted, so spans priced with it (``price_ref`` =
``override:<id>``) can still be explained; every change writes a ``price_changes`` row with
the actor and the override's state before and after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import NotFoundError
from core.models import PriceChange, PriceOverride
from core.pricing import BucketPrices, OverridePrice, OverrideTier

#: Per-million-token prices: non-negative, and storable in ``Numeric(22, 10)``.
PerMTok = Annotated[Decimal, Field(ge=0, lt=10**9, decimal_places=10)]
#: Bound on cached projects per process (each entry is a handful of small tuples).
MAX_CACHED_PROJECTS = 10_000


class PriceTierIn(BaseModel):
    """Prices for every token of a call whose input is above ``above_input_tokens``."""

    model_config = ConfigDict(extra="forbid")

    above_input_tokens: int = Field(gt=0, le=100_000_000)
    input_per_mtok: PerMTok
    output_per_mtok: PerMTok
    cache_read_per_mtok: PerMTok | None = None
    cache_write_per_mtok: PerMTok | None = None
    reasoning_per_mtok: PerMTok | None = None


class PriceOverrideIn(BaseModel):
    """A project's own price for the models matching ``model_pattern``.

    The pattern is an exact model name or a shell-style glob (``gpt-4o*``), matched without
    regard to case. A cache or reasoning price left empty bills those tokens at the input (or
    output) price.
    """

    model_config = ConfigDict(extra="forbid")

    model_pattern: str = Field(min_length=1, max_length=200, examples=["gpt-4o*"])
    provider: str | None = Field(default=None, max_length=100, examples=["openai"])
    effective_from: datetime = Field(description="Spans that start at or after this use it.")
    input_per_mtok: PerMTok
    output_per_mtok: PerMTok
    cache_read_per_mtok: PerMTok | None = None
    cache_write_per_mtok: PerMTok | None = None
    reasoning_per_mtok: PerMTok | None = None
    tiers: list[PriceTierIn] = Field(default_factory=list, max_length=16)

    @field_validator("model_pattern", "provider")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("effective_from")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """A time without a zone is taken as UTC."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PriceOverrideOut(PriceOverrideIn):
    """A stored override."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime


class PriceChangeOut(BaseModel):
    """One line of the audit trail."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    override_id: int
    action: str
    actor: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_at: datetime


def list_overrides(session: Session, project_id: int) -> list[PriceOverride]:
    """The project's live overrides, oldest first."""
    query = (
        select(PriceOverride)
        .where(PriceOverride.project_id == project_id, PriceOverride.deleted_at.is_(None))
        .order_by(PriceOverride.id)
    )
    return list(session.scalars(query))


def get_override(session: Session, project_id: int, override_id: int) -> PriceOverride:
    """One live override of the project; another project's id is simply not found."""
    row = session.scalar(
        select(PriceOverride).where(
            PriceOverride.project_id == project_id,
            PriceOverride.id == override_id,
            PriceOverride.deleted_at.is_(None),
        )
    )
    if row is None:
        raise NotFoundError(f"no price override {override_id}")
    return row


def create_override(
    session: Session, project_id: int, data: PriceOverrideIn, actor: str
) -> PriceOverride:
    """Store a new override and its audit row."""
    row = PriceOverride(project_id=project_id, **_columns(data))
    session.add(row)
    session.flush()
    session.refresh(row)
    _audit(session, row, "create", actor, None, _snapshot(row))
    return row


def update_override(
    session: Session, project_id: int, override_id: int, data: PriceOverrideIn, actor: str
) -> PriceOverride:
    """Replace an override's fields; the audit row keeps both versions."""
    row = get_override(session, project_id, override_id)
    before = _snapshot(row)
    for key, value in _columns(data).items():
        setattr(row, key, value)
    session.flush()
    _audit(session, row, "update", actor, before, _snapshot(row))
    return row


def delete_override(session: Session, project_id: int, override_id: int, actor: str) -> None:
    """Retire an override (kept for the spans priced with it) and audit it."""
    row = get_override(session, project_id, override_id)
    before = _snapshot(row)
    row.deleted_at = datetime.now(UTC)
    session.flush()
    _audit(session, row, "delete", actor, before, None)


def list_changes(session: Session, project_id: int, limit: int = 100) -> list[PriceChange]:
    """The project's most recent price changes, newest first."""
    query = (
        select(PriceChange)
        .where(PriceChange.project_id == project_id)
        .order_by(PriceChange.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _columns(data: PriceOverrideIn) -> dict[str, Any]:
    columns = data.model_dump(exclude={"tiers"})
    columns["tiers"] = [tier.model_dump(mode="json", exclude_none=True) for tier in data.tiers]
    return columns


def _snapshot(row: PriceOverride) -> dict[str, Any]:
    return PriceOverrideOut.model_validate(row).model_dump(mode="json")


def _audit(
    session: Session,
    row: PriceOverride,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        PriceChange(
            project_id=row.project_id,
            override_id=row.id,
            action=action,
            actor=actor,
            before=before,
            after=after,
        )
    )


def to_override_price(row: PriceOverride) -> OverridePrice:
    """The pricing view of a stored override."""
    tiers = tuple(
        OverrideTier(tier.above_input_tokens, _bucket_prices(tier))
        for tier in (PriceTierIn.model_validate(t) for t in row.tiers)
    )
    return OverridePrice(
        id=row.id,
        model_pattern=row.model_pattern,
        effective_from=row.effective_from,
        prices=_bucket_prices(row),
        provider=row.provider,
        tiers=tiers,
    )


def _bucket_prices(source: PriceOverride | PriceTierIn) -> BucketPrices:
    return BucketPrices(
        input=source.input_per_mtok,
        output=source.output_per_mtok,
        cache_read=source.cache_read_per_mtok,
        cache_write=source.cache_write_per_mtok,
        reasoning=source.reasoning_per_mtok,
    )


def load_overrides(session: Session, project_id: int) -> tuple[OverridePrice, ...]:
    return tuple(to_override_price(row) for row in list_overrides(session, project_id))


class PriceBook:
    """Each project's overrides, cached for ``ttl_s`` so ingestion does not query per batch.

    A change made through this process is visible at once (:meth:`invalidate`); one made
    elsewhere (another replica, the CLI) within ``ttl_s``.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory, self._ttl, self._clock = factory, ttl_s, clock
        self._cache: dict[int, tuple[float, tuple[OverridePrice, ...]]] = {}
        self._lock = threading.Lock()

    def overrides(self, project_id: int) -> tuple[OverridePrice, ...]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(project_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._factory() as session:
            found = load_overrides(session, project_id)
        with self._lock:
            if len(self._cache) >= MAX_CACHED_PROJECTS:
                self._cache.clear()
            self._cache[project_id] = (now + self._ttl, found)
        return found

    def invalidate(self, project_id: int) -> None:
        with self._lock:
            self._cache.pop(project_id, None)
