"""Hourly and daily usage rollups: maintained at ingest, adjusted by re-pricing, re-checked
against the raw spans.

A rollup cell is (project, hour or UTC day, provider, model, team, feature, customer, user,
environment, service); missing dimensions are ''. Only LLM and embedding spans count (an
agent or chain span repeating its children's usage would count it twice). Each cell holds
calls, errors, the five token buckets, cost (spans without a price add to ``unpriced_calls``
instead), the latency sum and a latency histogram: calls per bucket of the fixed log-spaced
edges :data:`LATENCY_EDGES_MS`, so p50/p95 can be estimated from rollups
(:func:`quantile_from_hist`).

Why the daily table is maintained at ingest and not derived from the hourly one by a job:
ingest already holds the batch's hourly cells in memory, and folding them per day is one more
upsert in the same transaction. The daily rows are then exact at every commit, like the hourly
ones, with no lag, no extra job and no window in which the two disagree; the same delta
upserts serve re-pricing and repairs.

Every change is an *additive delta* (``cell += delta``) applied with ``INSERT … ON CONFLICT DO
UPDATE``: commutative, so concurrent ingest, re-pricing and repairs never lose each other's
work, and cells are written in a fixed order so concurrent writers do not deadlock.
"""

from __future__ import annotations

import bisect
import logging
import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import BigInteger, Table, Text, bindparam, cast, literal_column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.models import SpanKind, UsageHourly
from core.models_finance import UsageDaily, UsageMonthly
from core.timeutil import floor_hour

if TYPE_CHECKING:  # core.ingest calls into this module
    from core.ingest import SpanRecord

logger = logging.getLogger(__name__)

Grain = Literal["hour", "day", "month"]
#: The rollup cell's dimensions, in key order.
DIMENSIONS = ("provider", "model", "team", "feature", "customer", "user_id", "environment",
              "service")  # fmt: skip
TOKEN_BUCKETS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                 "reasoning_tokens")  # fmt: skip
#: Additive integer measures (exact).
COUNTS = ("calls", "errors", *TOKEN_BUCKETS, "unpriced_calls")
MEASURES = (*COUNTS, "cost", "latency_ms_sum", "latency_hist")
USAGE_KINDS = (SpanKind.LLM.value, SpanKind.EMBEDDING.value)
#: Lower bounds (ms) of the latency buckets after the first: 10 per decade from 1 ms to
#: 1,000 s (ratio 1.26, so a bucket-interpolated p95 is within ~13 %). Bucket 0 is < 1 ms,
#: bucket i holds EDGES[i-1] <= ms < EDGES[i]; the last is >= 1,000 s.
LATENCY_EDGES_MS: tuple[float, ...] = tuple(float(f"{10 ** (k / 10):.4g}") for k in range(61))
HIST_BUCKETS = len(LATENCY_EDGES_MS) + 1
#: Latency sums are float8 (the span's ``duration_ms`` is): summed in another order they may
#: differ in the last bits, so they are compared with this relative tolerance.
LATENCY_REL_TOLERANCE = 1e-9
TABLES: dict[Grain, Table] = {
    "hour": UsageHourly.__table__,  # type: ignore[dict-item]
    "day": UsageDaily.__table__,  # type: ignore[dict-item]
    "month": UsageMonthly.__table__,  # type: ignore[dict-item]
}


def latency_bucket(duration_ms: float) -> int:
    """The histogram bucket of a latency (the same rule as SQL's ``width_bucket``)."""
    return bisect.bisect_right(LATENCY_EDGES_MS, duration_ms)


def empty_hist() -> list[int]:
    return [0] * HIST_BUCKETS


def quantile_from_hist(hist: Sequence[int], q: float) -> float | None:
    """Estimate the ``q`` quantile (0..1) in ms from bucket counts, interpolating
    geometrically inside the bucket it falls in; None for an empty histogram."""
    total = sum(hist)
    if total <= 0:
        return None
    rank, seen = q * total, 0
    for index, count in enumerate(hist):
        if count and seen + count >= rank:
            low = LATENCY_EDGES_MS[index - 1] if index > 0 else LATENCY_EDGES_MS[0] / 10
            high = LATENCY_EDGES_MS[index] if index < len(LATENCY_EDGES_MS) else low * 10
            fraction = min(max((rank - seen) / count, 0.0), 1.0)
            return low * math.pow(high / low, fraction)
        seen += count
    return LATENCY_EDGES_MS[-1]


def merge_hists(hists: Iterable[Sequence[int]]) -> list[int]:
    """Element-wise sum of histograms (missing buckets count 0)."""
    total = empty_hist()
    for hist in hists:
        if len(hist) == len(total):  # the usual case, summed in C
            total = list(map(operator.add, total, hist))
            continue
        for index, count in enumerate(hist):
            total[index] += count
    return total


def floor_day(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def floor_month(moment: datetime) -> datetime:
    return floor_day(moment).replace(day=1)


def next_month(moment: datetime) -> datetime:
    """The first instant of the month after ``moment``'s (UTC)."""
    first = floor_month(moment)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def ceil_day(moment: datetime) -> datetime:
    floored = floor_day(moment)
    return floored if floored == moment else floored + timedelta(days=1)


# --- at ingest -------------------------------------------------------------------------------


def rollup_key(span: SpanRecord) -> tuple[Any, ...]:
    """The hourly rollup cell a span belongs to; missing dimensions are ''."""
    dims = (span.provider, span.model, span.team, span.feature, span.customer, span.user_id,
            span.environment, span.service)  # fmt: skip
    return (floor_hour(span.start_time.astimezone(UTC)), *(d or "" for d in dims))


def _new_cell(project_id: int, grain: Grain, key: tuple[Any, ...]) -> dict[str, Any]:
    cell: dict[str, Any] = {"project_id": project_id, grain: key[0],
                            **dict(zip(DIMENSIONS, key[1:], strict=True))}  # fmt: skip
    cell.update({m: 0 for m in COUNTS})
    cell.update(cost=Decimal(0), latency_ms_sum=0.0, latency_hist=empty_hist())
    return cell


def rollup_rows(project_id: int, spans: Iterable[SpanRecord]) -> list[dict[str, Any]]:
    """Aggregate LLM/embedding spans into hourly rollup rows (pure), in key order."""
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    for s in spans:
        if s.kind not in USAGE_KINDS:
            continue
        key = rollup_key(s)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _new_cell(project_id, "hour", key)
        cell["calls"] += 1
        cell["errors"] += int(s.is_error)
        for bucket in TOKEN_BUCKETS:
            cell[bucket] += getattr(s, bucket) or 0
        if s.cost is None:
            cell["unpriced_calls"] += 1
        else:
            cell["cost"] += s.cost
        duration = s.duration_ms
        cell["latency_ms_sum"] += duration
        cell["latency_hist"][latency_bucket(duration)] += 1
    return [cells[k] for k in sorted(cells)]


def daily_rows(hourly: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold hourly rows (or hourly deltas) into daily ones, in key order."""
    return fold_rows(hourly, "day")


def fold_rows(hourly: Iterable[dict[str, Any]], grain: Grain) -> list[dict[str, Any]]:
    """Fold hourly rows (or deltas) into rows of a coarser ``grain``, in key order."""
    floor = floor_day if grain == "day" else floor_month
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in hourly:
        key = (floor(row["hour"]), *(row[d] for d in DIMENSIONS))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _new_cell(row["project_id"], grain, key)
        for measure in (*COUNTS, "cost", "latency_ms_sum"):
            cell[measure] += row[measure]
        cell["latency_hist"] = merge_hists((cell["latency_hist"], row["latency_hist"]))
    return [cells[k] for k in sorted(cells)]


def _hist_sum(table: str) -> Any:
    return literal_column(
        f"ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0) FROM unnest({table}.latency_hist,"
        " excluded.latency_hist) WITH ORDINALITY AS t(a, b, i) ORDER BY i)"
    )


def _array_text(values: Sequence[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


#: A row's histogram, bound as PostgreSQL array text and cast there: psycopg adapts a list one
#: element at a time, the largest Python cost of the write path when nearly every span is its
#: own rollup cell (three tables, 62 buckets each).
_HIST_PARAM = cast(bindparam("latency_hist_text", type_=Text()), ARRAY(BigInteger))


def add_to_rollups(session: Session, grain: Grain, rows: Sequence[dict[str, Any]]) -> None:
    """``cell += row`` for every row (rows in key order; a missing cell is created)."""
    if not rows:
        return
    table = TABLES[grain]
    stmt = pg_insert(table).values(latency_hist=_HIST_PARAM)
    cur, ex = table.c, stmt.excluded
    set_: dict[str, Any] = {m: cur[m] + ex[m] for m in (*COUNTS, "cost", "latency_ms_sum")}
    set_["latency_hist"] = _hist_sum(table.name)
    stmt = stmt.on_conflict_do_update(index_elements=["project_id", grain, *DIMENSIONS], set_=set_)
    params = [
        {key: value for key, value in row.items() if key != "latency_hist"}
        | {"latency_hist_text": _array_text(row["latency_hist"])}
        for row in rows
    ]
    session.execute(stmt, params)


def add_hourly_with_daily(session: Session, hourly: Sequence[dict[str, Any]]) -> None:
    """Apply hourly rows (or deltas) to the hourly, daily and monthly tables, in that (fixed)
    lock order."""
    add_to_rollups(session, "hour", hourly)
    add_to_rollups(session, "day", fold_rows(hourly, "day"))
    add_to_rollups(session, "month", fold_rows(hourly, "month"))


def update_rollups(session: Session, project_id: int, spans: Sequence[SpanRecord]) -> None:
    """Add newly inserted spans to the hourly and daily rollups (same transaction)."""
    add_hourly_with_daily(session, rollup_rows(project_id, spans))


# --- from raw spans: rebuild and reconciliation ----------------------------------------------

#: The span columns a rollup cell is keyed by ('' for missing, the model as ingest chooses it).
_DIM_SQL = (
    "coalesce(provider, '') AS provider, "
    "coalesce(nullif(response_model, ''), nullif(request_model, ''), '') AS model, "
    "coalesce(team, '') AS team, coalesce(feature, '') AS feature, "
    "coalesce(customer, '') AS customer, coalesce(user_id, '') AS user_id, "
    "coalesce(environment, '') AS environment, coalesce(service, '') AS service"
)
_DIM_LIST = ", ".join(DIMENSIONS)
_MEASURE_LIST = ", ".join(MEASURES)


def _hist_aggregate() -> str:
    counts = ", ".join(f"count(*) FILTER (WHERE b = {i})" for i in range(HIST_BUCKETS))
    return f"ARRAY[{counts}]::bigint[]"


def monthly_from_daily_sql() -> str:
    """Monthly rows recomputed from the daily rows of ``[:start, :end)`` (whole months): the
    monthly table is checked against the daily one, itself checked against the spans."""
    sums = ", ".join(f"sum({m})::bigint AS {m}" for m in COUNTS)
    return (
        f"SELECT m.month, {', '.join('m.' + d for d in DIMENSIONS)}, "
        + ", ".join(f"m.{m}" for m in COUNTS)
        + ", m.cost, m.latency_ms_sum, coalesce(h.hist, '{}'::bigint[]) AS latency_hist FROM ("
        f"SELECT date_trunc('month', day, 'UTC') AS month, {_DIM_LIST}, {sums}, "
        "sum(cost)::numeric(22, 10) AS cost, sum(latency_ms_sum)::float8 AS latency_ms_sum "
        "FROM usage_daily WHERE project_id = :project_id AND day >= :start AND day < :end "
        f"GROUP BY 1, {_DIM_LIST}) m LEFT JOIN ("
        f"SELECT month, {_DIM_LIST}, array_agg(n ORDER BY i) AS hist FROM ("
        f"SELECT date_trunc('month', day, 'UTC') AS month, {_DIM_LIST}, i, sum(x)::bigint AS n "
        "FROM usage_daily, unnest(latency_hist) WITH ORDINALITY AS u(x, i) "
        "WHERE project_id = :project_id AND day >= :start AND day < :end "
        f"GROUP BY 1, {_DIM_LIST}, i) q GROUP BY month, {_DIM_LIST}) h "
        f"USING (month, {_DIM_LIST})"
    )


def expected_sql(grain: Grain) -> str:
    """Rollup rows of ``grain`` recomputed from the spans starting in ``[:start, :end)``
    (months: from the daily rows, see :func:`monthly_from_daily_sql`).

    Binds ``:project_id``, ``:start``, ``:end`` and ``:edges`` (:data:`LATENCY_EDGES_MS`).
    """
    if grain == "month":
        return monthly_from_daily_sql()
    return (
        f"SELECT {grain}, {_DIM_LIST}, count(*)::bigint AS calls, "
        "count(*) FILTER (WHERE status = 'error')::bigint AS errors, "
        + ", ".join(f"coalesce(sum({b}), 0)::bigint AS {b}" for b in TOKEN_BUCKETS)
        + ", count(*) FILTER (WHERE cost IS NULL)::bigint AS unpriced_calls, "
        "coalesce(sum(cost), 0)::numeric(22, 10) AS cost, "
        "coalesce(sum(duration_ms), 0)::float8 AS latency_ms_sum, "
        f"{_hist_aggregate()} AS latency_hist "
        f"FROM (SELECT date_trunc('{grain}', start_time, 'UTC') AS {grain}, {_DIM_SQL}, "
        "status, cost, duration_ms, "
        + ", ".join(TOKEN_BUCKETS)
        + ", width_bucket(duration_ms, CAST(:edges AS float8[])) AS b FROM spans "
        "WHERE project_id = :project_id AND start_time >= :start AND start_time < :end "
        "AND kind IN ('llm', 'embedding')) s "
        f"GROUP BY {grain}, {_DIM_LIST}"
    )


def _params(project_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    return {"project_id": project_id, "start": start, "end": end,
            "edges": list(LATENCY_EDGES_MS)}  # fmt: skip


def day_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Whole UTC days covering ``[start, end)``: daily cells are only checkable whole."""
    if end <= start:
        raise ValueError("end must be after start")
    return floor_day(start), ceil_day(end)


def month_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Whole UTC months covering ``[start, end)``."""
    first = floor_month(start)
    last = end if floor_month(end) == end.astimezone(UTC) else next_month(end)
    return first, last


def _window(grain: Grain, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return month_window(start, end) if grain == "month" else day_window(start, end)


def rebuild(session: Session, project_id: int, start: datetime, end: datetime) -> int:
    """Replace the rollups of the whole UTC days covering ``[start, end)`` with a recompute
    from raw spans, set-based (for backfills and benchmarks; concurrent ingest into the
    window must be stopped, unlike :func:`reconcile`). Returns the hourly rows written."""
    written = 0
    for grain, table in TABLES.items():  # months last: they are folded from the days
        params = _params(project_id, *_window(grain, start, end))
        session.execute(
            text(
                f"DELETE FROM {table.name} WHERE project_id = :project_id "
                f"AND {grain} >= :start AND {grain} < :end"
            ),
            params,
        )
        result = session.execute(
            text(
                f"INSERT INTO {table.name} (project_id, {grain}, {_DIM_LIST}, "
                f"{_MEASURE_LIST}) SELECT :project_id, {grain}, {_DIM_LIST}, "
                f"{_MEASURE_LIST} FROM ({expected_sql(grain)}) e"
            ),
            params,
        )
        if grain == "hour":
            written = result.rowcount  # type: ignore[attr-defined]
    return written


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One rollup cell that differs from its recompute (None: the row is missing)."""

    grain: Grain
    key: dict[str, Any]
    stored: dict[str, Any] | None
    expected: dict[str, Any] | None


@dataclass(slots=True)
class ReconcileReport:
    """What :func:`reconcile` compared and found."""

    project_id: int
    start: datetime
    end: datetime
    cells_checked: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _compare_sql(grain: Grain) -> str:
    table = TABLES[grain].name
    exact = [m for m in MEASURES if m != "latency_ms_sum"]
    differs = " OR ".join(f"e.{m} IS DISTINCT FROM s.{m}" for m in exact)
    latency = (
        "abs(coalesce(e.latency_ms_sum, 0) - coalesce(s.latency_ms_sum, 0)) > "
        f"{LATENCY_REL_TOLERANCE} * greatest(1, abs(coalesce(e.latency_ms_sum, 0)))"
    )
    keys = ", ".join(f"coalesce(e.{k}, s.{k}) AS {k}" for k in (grain, *DIMENSIONS))
    sides = ", ".join(f"e.{m} AS e_{m}, s.{m} AS s_{m}" for m in MEASURES)
    return (
        f"WITH e AS ({expected_sql(grain)}), "
        f"s AS (SELECT {grain}, {_DIM_LIST}, {_MEASURE_LIST} FROM {table} "
        f"WHERE project_id = :project_id AND {grain} >= :start AND {grain} < :end), "
        "n AS (SELECT count(*) AS n FROM s) "
        f"SELECT (SELECT n FROM n) AS checked, {keys}, {sides} "
        f"FROM e FULL JOIN s USING ({grain}, {_DIM_LIST}) "
        f"WHERE {differs} OR {latency} "
        "UNION ALL SELECT (SELECT n FROM n), " + ", ".join(["NULL"] * (1 + len(DIMENSIONS)
                                                              + 2 * len(MEASURES)))
        + f" ORDER BY {grain} NULLS FIRST, {_DIM_LIST}"
    )  # fmt: skip


def _side(row: Any, prefix: str) -> dict[str, Any] | None:
    if getattr(row, f"{prefix}_calls") is None:
        return None
    return {m: getattr(row, f"{prefix}_{m}") for m in MEASURES}


def _delta(project_id: int, grain: Grain, m: Mismatch) -> dict[str, Any]:
    stored = m.stored or {}
    expected = m.expected or {}
    delta: dict[str, Any] = {"project_id": project_id, **m.key}
    for measure in (*COUNTS, "cost", "latency_ms_sum"):
        zero: Any = Decimal(0) if measure == "cost" else 0
        delta[measure] = expected.get(measure, zero) - stored.get(measure, zero)
    hist_e, hist_s = expected.get("latency_hist") or [], stored.get("latency_hist") or []
    delta["latency_hist"] = [
        (hist_e[i] if i < len(hist_e) else 0) - (hist_s[i] if i < len(hist_s) else 0)
        for i in range(max(len(hist_e), len(hist_s), HIST_BUCKETS))
    ]
    return delta


def reconcile(
    session: Session, project_id: int, start: datetime, end: datetime, *, repair: bool = True
) -> ReconcileReport:
    """Recompute the rollups of the UTC days covering ``[start, end)`` from raw spans (and the
    months covering it from the days), compare them with the stored rows cell by cell, log
    every difference and (``repair``) fix it.

    Counts, tokens, cost and the histogram must match exactly; latency sums within
    :data:`LATENCY_REL_TOLERANCE`. The comparison of a grain is one statement (one snapshot)
    and the repair is a delta (``stored += expected − stored``), so spans ingested
    concurrently are neither lost nor counted twice.
    """
    report = ReconcileReport(project_id, *day_window(start, end))
    for grain in TABLES:  # months last: they are checked against the repaired days
        params = _params(project_id, *_window(grain, start, end))
        found: list[Mismatch] = []
        for row in session.execute(text(_compare_sql(grain)), params):
            report.cells_checked[grain] = int(row.checked)
            if getattr(row, grain) is None:
                continue
            key = {k: getattr(row, k) for k in (grain, *DIMENSIONS)}
            found.append(Mismatch(grain, key, _side(row, "s"), _side(row, "e")))
        for m in found:
            logger.warning(
                "rollup mismatch project=%s %s=%s key=%s stored=%s expected=%s",
                project_id, grain, m.key[grain].isoformat(), m.key, m.stored, m.expected,
            )  # fmt: skip
        if found and repair:
            add_to_rollups(session, grain, [_delta(project_id, grain, m) for m in found])
            session.execute(
                text(
                    f"DELETE FROM {TABLES[grain].name} WHERE project_id = :project_id "
                    f"AND {grain} >= :start AND {grain} < :end AND calls = 0"
                ),
                params,
            )
        report.mismatches.extend(found)
    report.repaired = repair and not report.ok
    return report


def reconcile_recent(
    factory: Any, now: datetime, window: timedelta, *, repair: bool = True
) -> list[ReconcileReport]:
    """Reconcile every project's rollups over the UTC days covering ``[now - window, now)``,
    one transaction per project (a failing project is logged and skipped)."""
    with factory() as session:
        project_ids = list(session.scalars(text("SELECT id FROM projects ORDER BY id")))
    reports = []
    for project_id in project_ids:
        try:
            with factory.begin() as session:
                session.execute(text("SET LOCAL statement_timeout = '300s'"))
                reports.append(reconcile(session, project_id, now - window, now, repair=repair))
        except Exception:
            logger.exception("reconciliation of project %s failed", project_id)
    return reports


__all__ = [
    "DIMENSIONS",
    "HIST_BUCKETS",
    "LATENCY_EDGES_MS",
    "MEASURES",
    "Mismatch",
    "ReconcileReport",
    "add_hourly_with_daily",
    "add_to_rollups",
    "daily_rows",
    "day_window",
    "expected_sql",
    "latency_bucket",
    "merge_hists",
    "month_window",
    "quantile_from_hist",
    "rebuild",
    "reconcile",
    "reconcile_recent",
    "rollup_key",
    "rollup_rows",
    "update_rollups",
]
