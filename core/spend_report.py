"""Breakdowns of spend for the Spend page, read from the hourly rollups (never from spans).

Every figure is a Decimal sum of rollup costs; unit costs are Decimal quotients. Dimensions
come from an allowlist, so nothing a page passes reaches SQL as text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import UsageHourly

#: Dimensions the page may break spend down by.
BREAKDOWNS = ("model", "team", "feature", "customer", "provider", "user_id")
OTHER = "(other)"
NONE = "(none)"
ZERO = Decimal(0)


@dataclass(frozen=True)
class DailyPart:
    """One value's spend on one UTC day."""

    day: date
    value: str
    cost: Decimal
    calls: int


@dataclass(frozen=True)
class Driver:
    """One value's spend in the current and the previous window."""

    value: str
    cost: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.cost - self.previous


@dataclass(frozen=True)
class UnitCost:
    """Calls, tokens and cost of one value, and what a call and a thousand tokens cost."""

    value: str
    calls: int
    tokens: int
    cost: Decimal

    @property
    def per_call(self) -> Decimal | None:
        return self.cost / self.calls if self.calls else None

    @property
    def per_1k_calls(self) -> Decimal | None:
        return self.cost * 1000 / self.calls if self.calls else None

    @property
    def per_1k_tokens(self) -> Decimal | None:
        return self.cost * 1000 / self.tokens if self.tokens else None


@dataclass(frozen=True)
class Totals:
    cost: Decimal
    calls: int


def _column(dimension: str) -> ColumnElement[str]:
    if dimension not in BREAKDOWNS:
        raise InvalidInputError(f"cannot break spend down by {dimension!r}")
    column: ColumnElement[str] = getattr(UsageHourly, dimension)
    return column


def _between(project_id: int, start: date, end: date) -> list[ColumnElement[bool]]:
    """Rollup hours of the UTC days ``start``..``end`` inclusive."""
    first = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    after = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return [UsageHourly.project_id == project_id, UsageHourly.hour >= first,
            UsageHourly.hour < after]  # fmt: skip


def totals(session: Session, project_id: int, start: date, end: date) -> Totals:
    """Spend and calls over the days ``start``..``end``."""
    row = session.execute(
        select(func.coalesce(func.sum(UsageHourly.cost), ZERO),
               func.coalesce(func.sum(UsageHourly.calls), 0))
        .where(*_between(project_id, start, end))
    ).one()  # fmt: skip
    return Totals(Decimal(row[0]), int(row[1]))


def daily_by(
    session: Session, project_id: int, dimension: str, start: date, end: date, top: int = 8
) -> list[DailyPart]:
    """Spend per day and value; values past the ``top`` biggest are summed as "(other)"."""
    column = _column(dimension)
    day = cast(func.timezone("UTC", UsageHourly.hour), Date)
    rows = session.execute(
        select(day, column, func.sum(UsageHourly.cost), func.sum(UsageHourly.calls))
        .where(*_between(project_id, start, end)).group_by(day, column)
    ).all()  # fmt: skip
    by_value: dict[str, Decimal] = defaultdict(Decimal)
    for _, value, cost, _ in rows:
        by_value[value] += cost
    kept = set(sorted(by_value, key=lambda v: -by_value[v])[:top])
    merged: dict[tuple[date, str], tuple[Decimal, int]] = {}
    for d, value, cost, calls in rows:
        name = (value or NONE) if value in kept else OTHER
        before = merged.get((d, name), (ZERO, 0))
        merged[(d, name)] = (before[0] + cost, before[1] + int(calls))
    return [DailyPart(d, v, c, n) for (d, v), (c, n) in sorted(merged.items())]


def drivers(
    session: Session,
    project_id: int,
    dimension: str,
    current: tuple[date, date],
    previous: tuple[date, date],
    limit: int = 10,
) -> list[Driver]:
    """Each value's spend now and before, the biggest change (either way) first."""
    column = _column(dimension)
    now_first = datetime.combine(current[0], datetime.min.time(), tzinfo=UTC)
    cost = func.coalesce(func.sum(UsageHourly.cost).filter(UsageHourly.hour >= now_first), ZERO)
    before = func.coalesce(func.sum(UsageHourly.cost).filter(UsageHourly.hour < now_first), ZERO)
    window = _between(project_id, previous[0], current[1])
    if previous[1] >= current[0]:
        raise InvalidInputError("the previous window must end before the current one starts")
    gap_start = datetime.combine(previous[1] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    outside_gap = (UsageHourly.hour < gap_start) | (UsageHourly.hour >= now_first)
    rows = session.execute(
        select(column, cost, before).where(*window, outside_gap).group_by(column)
    ).all()
    found = [Driver(value or NONE, Decimal(c), Decimal(b)) for value, c, b in rows]
    return sorted(found, key=lambda d: (-abs(d.change), d.value))[:limit]


def unit_costs(
    session: Session, project_id: int, dimension: str, start: date, end: date
) -> list[UnitCost]:
    """Calls, tokens and cost per value over the days ``start``..``end``, costliest first."""
    column = _column(dimension)
    # Cache buckets are subsets of input and reasoning of output: input + output is the total.
    tokens = UsageHourly.input_tokens + UsageHourly.output_tokens
    rows = session.execute(
        select(column, func.sum(UsageHourly.calls), func.sum(tokens), func.sum(UsageHourly.cost))
        .where(*_between(project_id, start, end)).group_by(column)
    ).all()  # fmt: skip
    found = [UnitCost(value or NONE, int(n), int(t), Decimal(c)) for value, n, t, c in rows]
    return sorted(found, key=lambda u: (-u.cost, u.value))


__all__ = [
    "BREAKDOWNS",
    "OTHER",
    "DailyPart",
    "Driver",
    "Totals",
    "UnitCost",
    "daily_by",
    "drivers",
    "totals",
    "unit_costs",
]
