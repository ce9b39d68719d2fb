"""``/api/v1/forecast`` (month-end spend, optionally of a part of the project) and
``/api/v1/anomalies`` (recent spend anomalies with their contributors), read scope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from collector.deps import FactoryDep, Reader
from collector.routes.api_params import Text
from core import anomalies
from core.errors import InvalidInputError
from core.forecast import Forecast, forecast_month
from core.models_governance import Alert

router = APIRouter(prefix="/api/v1", tags=["insight"])
#: A forecast "as of" a moment outside these years is refused (date arithmetic stays in range).
YEARS = (2000, 2100)


class Interval(BaseModel):
    low: Decimal
    high: Decimal


class DayCost(BaseModel):
    day: date
    cost: Decimal


class ForecastOut(BaseModel):
    """A month-end forecast: money as exact decimal strings (USD)."""

    period_start: date
    period_end: date
    as_of: datetime
    spent: Decimal
    expected_total: Decimal
    interval_80: Interval
    interval_95: Interval
    method: str
    history_days: int
    projected_exhaustion: date | None
    actual: list[DayCost]
    expected: list[DayCost]

    @classmethod
    def of(cls, f: Forecast, as_of: datetime, limit: Decimal | None) -> ForecastOut:
        return cls(
            period_start=f.period_start, period_end=f.period_end, as_of=as_of,
            spent=f.spent, expected_total=f.expected_total,
            interval_80=Interval(low=f.low, high=f.high),
            interval_95=Interval(low=f.low_95, high=f.high_95), method=f.method,
            history_days=f.history_days,
            projected_exhaustion=f.projected_exhaustion(limit) if limit is not None else None,
            actual=[DayCost(day=d, cost=c) for d, c in f.actual],
            expected=[DayCost(day=d, cost=c) for d, c in f.expected],
        )  # fmt: skip


class AnomalyOut(BaseModel):
    """A spend anomaly: the series, the day, how far off, and who drove it."""

    alert_id: int
    created_at: datetime
    severity: str
    title: str
    body: str
    day: date
    dimension: str
    value: str
    actual: Decimal
    expected: Decimal
    excess: Decimal
    contributors: list[dict[str, Any]]
    acknowledged_at: datetime | None


@router.get("/forecast", summary="Month-end spend forecast with 80 % and 95 % intervals")
async def forecast(
    principal: Reader, factory: FactoryDep,
    as_of: Annotated[datetime | None, Query(
        description="Forecast the month of this moment from the data before it (default now)"
    )] = None,
    limit_usd: Annotated[Decimal | None, Query(
        gt=0, max_digits=22, allow_inf_nan=False,
        description="A spending limit: the day the forecast reaches it")] = None,
    provider: Text = None, model: Text = None, team: Text = None, feature: Text = None,
    customer: Text = None, user_id: Text = None, environment: Text = None, service: Text = None,
) -> ForecastOut:  # fmt: skip
    """The project's (or, with filters, a part's) spend this month: spent, expected, interval."""
    moment = _as_of(as_of)
    given = {"provider": provider, "model": model, "team": team, "feature": feature,
             "customer": customer, "user_id": user_id, "environment": environment,
             "service": service}  # fmt: skip
    filters = {k: v for k, v in given.items() if v is not None}

    def read() -> ForecastOut:
        with factory() as session:
            f = forecast_month(session, principal.project_id, now=moment, filters=filters)
        return ForecastOut.of(f, moment, limit_usd)

    return await run_in_threadpool(read)


def _as_of(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not YEARS[0] <= value.astimezone(UTC).year < YEARS[1]:
        raise InvalidInputError(f"as_of must fall in the years {YEARS[0]}–{YEARS[1] - 1}")
    return value


@router.get("/anomalies", summary="Recent spend anomalies and what drove them")
async def list_anomalies(
    principal: Reader, factory: FactoryDep,
    since: Annotated[date | None, Query(description="Anomalies on or after this day")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AnomalyOut]:  # fmt: skip
    """Spend anomalies the worker found (one per day and series), the most recent day first."""

    def read() -> list[AnomalyOut]:
        with factory() as session:
            rows = anomalies.list_findings(session, principal.project_id, since=since,
                                           limit=limit)  # fmt: skip
            return [_anomaly(a) for a in rows]

    return await run_in_threadpool(read)


def _anomaly(alert: Alert) -> AnomalyOut:
    d = alert.details
    return AnomalyOut(
        alert_id=alert.id, created_at=alert.created_at, severity=alert.severity,
        title=alert.title, body=alert.body, day=date.fromisoformat(d["day"]),
        dimension=d["dimension"], value=d["value"], actual=Decimal(d["actual"]),
        expected=Decimal(d["expected"]), excess=Decimal(d["excess"]),
        contributors=d.get("contributors", []), acknowledged_at=alert.acknowledged_at,
    )  # fmt: skip
