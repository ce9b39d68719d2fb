"""``/api/v1/costs`` and ``/api/v1/chargeback``: finance reports over the rollups, as JSON or as
CSV, Parquet and XLSX downloads (FOCUS-style column names; see :mod:`core.cost_reports`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from collector.deps import FactoryDep, Reader
from core import cost_exports
from core.cost_reports import CURRENCY, CostReport, Statement, chargeback, cost_report
from core.costs import Granularity, source_table
from core.errors import InvalidInputError

router = APIRouter(prefix="/api/v1", tags=["costs"])

#: Most rows a report may have (narrow it instead).
MAX_REPORT_ROWS = 100_000
Values = Annotated[list[str] | None, Query(max_length=100)]
Format = Annotated[Literal["json", "csv", "parquet", "xlsx"], Query(alias="format")]
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in cost_exports.MEDIA_TYPES.values()}},
    400: {"description": "Bad range, granularity, dimension or month"},
}
#: Friendlier names accepted in ``group_by``.
ALIASES = {"user": "user_id"}


class CostReportOut(BaseModel):
    """A cost report: money as exact decimal strings, times ISO 8601 UTC."""

    currency: str
    start: datetime
    end: datetime
    granularity: str | None
    group_by: list[str]
    source: str
    total_cost: Decimal
    total_calls: int
    unpriced_calls: int
    columns: list[str]
    rows: list[dict[str, str | int | bool | None]]


class OwnerOut(BaseModel):
    owner: str
    unattributed: bool
    calls: int
    cost: Decimal
    share_percent: Decimal


class StatementOut(BaseModel):
    """A month's chargeback statement; ``total`` equals the sum of the lines' ``BilledCost``."""

    month: str
    by: str
    currency: str
    period_start: datetime
    period_end: datetime
    total: Decimal
    unattributed_total: Decimal
    calls: int
    unpriced_calls: int
    owners: list[OwnerOut]
    columns: list[str]
    lines: list[dict[str, str | int | bool | None]]


def _plain(value: Any) -> str | int | bool | None:
    """JSON-safe cell: Decimals as exact strings (never floats), times as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value  # type: ignore[no-any-return]


def _default_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end or today + timedelta(days=1)
    start = start or end - timedelta(days=30)
    for moment in (start, end):
        if moment.tzinfo is None:
            raise InvalidInputError("start and end need a time zone (e.g. 2026-11-01T00:00:00Z)")
    return start, end


def _filters(values: dict[str, list[str] | None]) -> dict[str, list[str]]:
    out = {}
    for name, given in values.items():
        if given is None:
            continue
        if any(len(v) > 200 for v in given):
            raise InvalidInputError(f"a {name} value is at most 200 characters")
        out[name] = given
    return out


def _download(fmt: str, name: str, body: bytes) -> Response:
    extension = fmt
    headers = {"Content-Disposition": f'attachment; filename="{name}.{extension}"'}
    return Response(body, media_type=cost_exports.MEDIA_TYPES[fmt], headers=headers)


def _report_file(fmt: str, report: CostReport) -> Response:
    if fmt == "csv":
        body = cost_exports.to_csv(report.columns, report.rows)
    elif fmt == "parquet":
        body = cost_exports.to_parquet(report.columns, report.rows)
    else:
        notes = [("Currency", CURRENCY), ("Start", report.start.isoformat()),
                 ("End (exclusive)", report.end.isoformat()),
                 ("Total BilledCost (exact)", str(report.total_cost))]  # fmt: skip
        body = cost_exports.to_xlsx([("Costs", report.columns, report.rows)], notes)
    return _download(fmt, "costs", body)


@router.get(
    "/costs",
    summary="Spend and usage from the rollups, grouped by any dimensions and a time bucket",
    response_model=CostReportOut,
    responses=DOWNLOADS,
)
def costs(
    principal: Reader,
    factory: FactoryDep,
    start: Annotated[datetime | None, Query(description="Inclusive; default 30 days ago")] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; default end of today")] = None,
    granularity: Annotated[Literal["hour", "day", "week", "month", "none"], Query()] = "day",
    group_by: Annotated[list[str] | None, Query(max_length=8, description=(
        "provider, model, team, feature, customer, user_id (or user), environment, service"
    ))] = None,
    provider: Values = None, model: Values = None, team: Values = None,
    feature: Values = None, customer: Values = None, user_id: Values = None,
    environment: Values = None, service: Values = None,
    fmt: Format = "json",
) -> Any:  # fmt: skip
    """Whole UTC days read the daily rollups; other bounds read the hourly ones (an hour counts
    when it begins in the range). ``''`` as a filter value selects unattributed spend."""
    start, end = _default_range(start, end)
    dims = [ALIASES.get(d, d) for d in group_by or ()]
    filters = _filters({"provider": provider, "model": model, "team": team,
                        "feature": feature, "customer": customer, "user_id": user_id,
                        "environment": environment, "service": service})  # fmt: skip
    bucket: Granularity | None = None if granularity == "none" else granularity
    with factory() as session:
        report = cost_report(session, principal.project_id, start, end, bucket, dims, filters,
                             MAX_REPORT_ROWS)  # fmt: skip
    if fmt != "json":
        return _report_file(fmt, report)
    return CostReportOut(
        currency=CURRENCY, start=start, end=end, granularity=bucket, group_by=dims,
        source=source_table(start, end, bucket),
        total_cost=report.total_cost,
        total_calls=report.total_calls, unpriced_calls=report.unpriced_calls,
        columns=report.columns,
        rows=[{k: _plain(v) for k, v in row.items()} for row in report.rows],
    )  # fmt: skip


def _statement_file(fmt: str, statement: Statement) -> Response:
    columns, rows = list(Statement.LINE_COLUMNS), statement.line_rows()
    name = f"chargeback-{statement.by}-{statement.month}"
    if fmt == "csv":
        return _download(fmt, name, cost_exports.to_csv(columns, rows))
    if fmt == "parquet":
        return _download(fmt, name, cost_exports.to_parquet(columns, rows))
    summary_columns = ["Owner", "Unattributed", "x_Calls", "BilledCost", "SharePercent"]
    summary = [
        {"Owner": o.owner, "Unattributed": o.unattributed, "x_Calls": o.calls,
         "BilledCost": o.cost, "SharePercent": o.share}
        for o in statement.owners
    ]  # fmt: skip
    summary.append({"Owner": "TOTAL", "x_Calls": statement.calls, "BilledCost": statement.total})
    notes = [("Statement", f"chargeback by {statement.by} for {statement.month}"),
             ("Currency", CURRENCY), ("Total BilledCost (exact)", str(statement.total)),
             ("Unattributed (exact)", str(statement.unattributed_total))]  # fmt: skip
    sheets = [("Summary", summary_columns, summary), ("Lines", columns, rows)]
    return _download(fmt, name, cost_exports.to_xlsx(sheets, notes))


@router.get(
    "/chargeback",
    summary="A month's chargeback statement per team or per customer",
    response_model=StatementOut,
    responses=DOWNLOADS,
)
def chargeback_statement(
    principal: Reader,
    factory: FactoryDep,
    month: Annotated[str, Query(min_length=7, max_length=7, examples=["2026-11"])],
    by: Annotated[Literal["team", "customer"], Query()] = "team",
    fmt: Format = "json",
) -> Any:
    """Lines per owner and model; spend without an owner is an ``(unattributed)`` line, so the
    total equals the sum of the month's span costs exactly."""
    with factory() as session:
        statement = chargeback(session, principal.project_id, month, by)
    if fmt != "json":
        return _statement_file(fmt, statement)
    return StatementOut(
        month=statement.month, by=statement.by, currency=CURRENCY,
        period_start=statement.period_start, period_end=statement.period_end,
        total=statement.total, unattributed_total=statement.unattributed_total,
        calls=statement.calls, unpriced_calls=statement.unpriced_calls,
        owners=[OwnerOut(owner=o.owner, unattributed=o.unattributed, calls=o.calls,
                         cost=o.cost, share_percent=o.share) for o in statement.owners],
        columns=list(Statement.LINE_COLUMNS),
        lines=[{k: _plain(v) for k, v in row.items()} for row in statement.line_rows()],
    )  # fmt: skip
