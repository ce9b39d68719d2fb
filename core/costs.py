"""Cost series from the rollups: the one read path of every finance report.

:func:`cost_series` groups the hourly, daily or monthly rollups by any rollup dimensions and a
time bucket (hour, day, ISO week, calendar month, all UTC) and sums the money as ``Decimal``.
It never reads spans. The monthly table serves month buckets (or totals) over whole UTC months,
the daily table day/week/month buckets over whole UTC days (a month's report reads one row
per cell, or ~30, instead of ~720); anything else reads the hourly table, where a rollup hour
counts when it *begins* in ``[start, end)``, so pass hour-aligned bounds for exact totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, and_, func, literal, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import UsageHourly
from core.models_finance import UsageDaily, UsageMonthly
from core.rollups import COUNTS, DIMENSIONS, merge_hists

Granularity = Literal["hour", "day", "week", "month"]
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
#: Most distinct values one filter may list.
MAX_FILTER_VALUES = 100
#: Longest range one report may cover.
MAX_RANGE = timedelta(days=3 * 366)


@dataclass(frozen=True, slots=True)
class CostRow:
    """One group of a cost series: its time bucket (None when not bucketed), its dimension
    values ('' = not attributed) and the summed measures."""

    bucket_start: datetime | None
    bucket_end: datetime | None
    group: dict[str, str]
    cost: Decimal
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    unpriced_calls: int
    latency_ms_sum: float
    latency_hist: list[int] = field(default_factory=list)


def _aligned_to_day(moment: datetime) -> bool:
    moment = moment.astimezone(UTC)
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def uses_daily(start: datetime, end: datetime, granularity: Granularity | None) -> bool:
    """Whether the daily table answers exactly what the hourly one would."""
    return granularity != "hour" and _aligned_to_day(start) and _aligned_to_day(end)


def _aligned_to_month(moment: datetime) -> bool:
    return _aligned_to_day(moment) and moment.astimezone(UTC).day == 1


def source_table(start: datetime, end: datetime, granularity: Granularity | None) -> str:
    """The rollup a report reads: the coarsest whose cells tile ``[start, end)`` and the
    buckets exactly (monthly for whole months by month or in total, daily for whole days)."""
    if granularity in ("month", None) and _aligned_to_month(start) and _aligned_to_month(end):
        return "usage_monthly"
    return "usage_daily" if uses_daily(start, end, granularity) else "usage_hourly"


def bucket_end(bucket: datetime, granularity: Granularity) -> datetime:
    """The exclusive end of a bucket that starts at ``bucket``."""
    if granularity == "hour":
        return bucket + timedelta(hours=1)
    if granularity == "day":
        return bucket + timedelta(days=1)
    if granularity == "week":
        return bucket + timedelta(days=7)
    year, month = (bucket.year + 1, 1) if bucket.month == 12 else (bucket.year, bucket.month + 1)
    return bucket.replace(year=year, month=month)


def validate(
    start: datetime,
    end: datetime,
    granularity: str | None,
    group_by: Sequence[str],
    filters: Mapping[str, Sequence[str]],
) -> None:
    """Raise :class:`InvalidInputError` for anything a report cannot answer."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInputError("start and end need a time zone (e.g. 2026-11-01T00:00:00Z)")
    if end <= start:
        raise InvalidInputError("end must be after start")
    if end - start > MAX_RANGE:
        raise InvalidInputError("a report covers at most three years")
    if granularity is not None and granularity not in GRANULARITIES:
        raise InvalidInputError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    unknown = [d for d in (*group_by, *filters) if d not in DIMENSIONS]
    if unknown:
        raise InvalidInputError(
            f"unknown dimension {unknown[0]!r}; use one of {', '.join(DIMENSIONS)}"
        )
    if len(set(group_by)) != len(group_by):
        raise InvalidInputError("group_by names a dimension twice")
    for name, values in filters.items():
        if not values or len(values) > MAX_FILTER_VALUES:
            raise InvalidInputError(f"filter {name} takes 1 to {MAX_FILTER_VALUES} values")


def cost_query(
    project_id: int,
    start: datetime,
    end: datetime,
    granularity: Granularity | None = None,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None,
    *,
    with_hist: bool = False,
) -> Select[Any]:
    """The SQL of :func:`cost_series` (exposed for query plans)."""
    filters = dict(filters or {})
    validate(start, end, granularity, group_by, filters)
    source = source_table(start, end, granularity)
    table = {"usage_monthly": UsageMonthly.__table__, "usage_daily": UsageDaily.__table__,
             "usage_hourly": UsageHourly.__table__}[source]  # fmt: skip
    time_col = table.c[{"usage_monthly": "month", "usage_daily": "day"}.get(source, "hour")]
    bucket: ColumnElement[Any] | None = None
    if granularity is not None:
        bucket = func.date_trunc(granularity, time_col, literal("UTC")).label("bucket")
    groups: list[ColumnElement[Any]] = [table.c[d].label(d) for d in group_by]
    measures: list[ColumnElement[Any]] = [
        func.coalesce(func.sum(table.c[m]), 0).label(m) for m in COUNTS
    ]
    measures.append(func.coalesce(func.sum(table.c.cost), 0).label("cost"))
    measures.append(func.coalesce(func.sum(table.c.latency_ms_sum), 0.0).label("latency_ms_sum"))
    conditions: list[ColumnElement[bool]] = [
        table.c.project_id == project_id,
        time_col >= start,
        time_col < end,
    ]
    for name, values in sorted(filters.items()):
        conditions.append(table.c[name].in_(list(values)))
    keys: list[ColumnElement[Any]] = ([bucket] if bucket is not None else []) + groups
    query = select(*keys, *measures).where(and_(*conditions))
    if with_hist:
        query = query.add_columns(func.array_agg(table.c.latency_hist).label("hists"))
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    return query


def cost_series(
    session: Session,
    project_id: int,
    start: datetime,
    end: datetime,
    granularity: Granularity | None = "day",
    group_by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None,
    *,
    with_hist: bool = False,
    max_rows: int | None = None,
) -> list[CostRow]:
    """Spend and usage of ``[start, end)`` from the rollups, per time bucket and group.

    Args:
        session: any session (read only).
        project_id: the project; nothing of another project is ever read.
        start: inclusive, timezone-aware.
        end: exclusive, timezone-aware.
        granularity: hour, day, week (ISO, Monday) or month bucket, all UTC; None for one
            row per group over the whole range.
        group_by: dimensions among :data:`core.rollups.DIMENSIONS` ('' = unattributed).
        filters: dimension → allowed values ('' selects the unattributed).
        with_hist: also merge the latency histograms (for p50/p95 estimates).
        max_rows: refuse (``InvalidInputError``) a result of more rows than this.

    Returns:
        Rows ordered by bucket then group values; ``cost`` is an exact ``Decimal``.

    Raises:
        InvalidInputError: a bad range, granularity or dimension name.
    """
    query = cost_query(project_id, start, end, granularity, group_by, filters, with_hist=with_hist)
    out: list[CostRow] = []
    for row in session.execute(query):
        mapping = row._mapping
        bucket = mapping.get("bucket") if granularity is not None else None
        out.append(
            CostRow(
                bucket_start=bucket,
                bucket_end=bucket_end(bucket, granularity) if bucket and granularity else None,
                group={d: mapping[d] for d in group_by},
                cost=Decimal(mapping["cost"]),
                latency_ms_sum=float(mapping["latency_ms_sum"]),
                latency_hist=merge_hists(mapping["hists"]) if with_hist else [],
                **{m: int(mapping[m]) for m in COUNTS},
            )
        )
    return out


def total_cost(
    session: Session,
    project_id: int,
    start: datetime,
    end: datetime,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> Decimal:
    """The exact spend of ``[start, end)`` (matching ``filters``) from the rollups."""
    rows = cost_series(session, project_id, start, end, None, (), filters)
    return rows[0].cost if rows else Decimal(0)


def dimension_values(
    session: Session, project_id: int, dimension: str, start: datetime, end: datetime
) -> list[str]:
    """The distinct values of a dimension in the daily rollups of ``[start, end)``."""
    if dimension not in DIMENSIONS:
        raise InvalidInputError(f"unknown dimension {dimension!r}")
    column = UsageDaily.__table__.c[dimension]
    query = (
        select(column)
        .where(
            UsageDaily.project_id == project_id,
            UsageDaily.day >= start - timedelta(days=1),
            UsageDaily.day < end,
        )
        .distinct()
        .order_by(column)
    )
    return [str(v) for v in session.scalars(query)]


__all__ = [
    "GRANULARITIES",
    "CostRow",
    "Granularity",
    "bucket_end",
    "cost_query",
    "cost_series",
    "dimension_values",
    "source_table",
    "total_cost",
    "uses_daily",
    "validate",
]
