"""Budget state from the rollups: spend, forecast, thresholds, and the ``budget_ok`` check.

Nothing here reads spans. The worker runs :func:`refresh_budget` for every enabled budget each
minute; it stores the state and raises each crossed threshold once per period (the alert's
dedup key is budget, period start and threshold). :func:`exhausted_hard_budgets` answers the
SDK's ``budget_ok``: it adds the rollup rows from the hour the worker last ran in to the spend
the worker settled before that hour, so new spend counts at once rather than a minute later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, field_validator
from sqlalchemy import Date, cast, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.alerts import Severity, raise_alert
from core.budgets import SCOPE_COLUMNS, describe_scope, get_budget, period_bounds, plain
from core.forecast import HISTORY_DAYS, Forecast, forecast_period
from core.models import UsageHourly
from core.models_finance import UsageDaily
from core.models_governance import Budget, BudgetState
from core.rollups import floor_day
from core.timeutil import floor_hour

ZERO = Decimal(0)


class BudgetStatus(BaseModel):
    """Where a budget stands in its current period."""

    budget_id: int
    name: str
    scope: str
    value: str
    period: str
    period_start: datetime
    period_end: datetime
    limit_usd: Decimal
    spent: Decimal
    remaining: Decimal
    fraction: Decimal
    expected_total: Decimal
    expected_low: Decimal
    expected_high: Decimal
    forecast_method: str
    exhausts_on: date | None
    thresholds: list[int]
    thresholds_crossed: list[int]
    exhausted: bool
    hard: bool
    enabled: bool
    computed_at: datetime

    @field_validator("limit_usd", "spent", "remaining", "expected_total", "expected_low",
                     "expected_high")  # fmt: skip
    @classmethod
    def _plain(cls, amount: Decimal) -> Decimal:
        return plain(amount)


@dataclass(frozen=True)
class BurnDown:
    """A period's spend, day by day (hour by hour for a daily budget), with its forecast."""

    status: BudgetStatus
    actual: list[tuple[datetime, Decimal]]  # cumulative spend at the end of each step so far
    expected: list[tuple[datetime, Decimal]]  # cumulative expected spend for the steps to come


@dataclass(frozen=True)
class ExhaustedBudget:
    """A hard budget that refuses further spend until ``resets_at``."""

    id: int
    name: str
    scope: str
    value: str
    period: str
    resets_at: datetime


# A model budget covers the model's dated snapshots too: spend is kept under the response model
# ("gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "gemini-1.5-pro-002"), which a budget on
# "gpt-4o" must count; another model whose name merely starts the same ("gpt-4o-mini") it must not.
_SNAPSHOT = r"(-[0-9]{4}-[0-9]{2}-[0-9]{2}|-[0-9]{8}|@[0-9]{8}|-[0-9]{3}|-latest)?$"


def _model_pattern(model: str | None) -> str:
    return "^" + re.escape(model or "") + _SNAPSHOT


def _limits(budget: Budget, value: str | None) -> bool:
    """Whether ``budget`` limits a call whose value of the budget's scope is ``value``."""
    if budget.scope == "project":
        return True
    if budget.scope == "model":
        return value is not None and re.match(_model_pattern(budget.scope_value), value) is not None
    return value == budget.scope_value


def _scoped(query: Any, budget: Budget, table: Any = UsageHourly) -> Any:
    query = query.where(table.project_id == budget.project_id)
    column = SCOPE_COLUMNS.get(budget.scope)
    if budget.scope == "model":
        query = query.where(table.model.op("~")(_model_pattern(budget.scope_value)))
    elif column is not None:
        query = query.where(getattr(table, column) == budget.scope_value)
    return query


def _sum(table: Any) -> Any:
    return func.coalesce(func.sum(table.cost), ZERO)


def spend_since(session: Session, budget: Budget, start: datetime, end: datetime) -> Decimal:
    """The budget's spend in rollup hours ``[start, end)`` (used for the last hour or two)."""
    query = _scoped(select(_sum(UsageHourly)), budget)
    query = query.where(UsageHourly.hour >= start, UsageHourly.hour < end)
    return Decimal(session.scalar(query) or ZERO)


def period_spend(session: Session, budget: Budget, start: datetime, end: datetime) -> Decimal:
    """The budget's spend in the whole UTC days ``[start, end)``, from the daily rollups."""
    query = _scoped(select(_sum(UsageDaily)), budget, UsageDaily)
    query = query.where(UsageDaily.day >= start, UsageDaily.day < end)
    return Decimal(session.scalar(query) or ZERO)


def _spend(session: Session, budget: Budget, start: datetime, end: datetime, settled: datetime
           ) -> tuple[Decimal, Decimal]:  # fmt: skip
    """``(spend of [start, end), spend of [start, settled))``.

    Whole days come from the daily rollups (24 times fewer rows than hourly; both are kept in
    the same transaction at ingest and by re-pricing), only today's settled hours from hourly.
    """
    today = floor_day(settled)
    total = period_spend(session, budget, start, end)
    before_today = period_spend(session, budget, start, today)
    return total, before_today + spend_since(session, budget, today, settled)


def daily_spend(session: Session, budget: Budget, first: date, last: date
                ) -> list[tuple[date, Decimal]]:  # fmt: skip
    """Cost per UTC day with any spend from ``first`` to ``last`` inclusive (daily rollups)."""
    day = cast(func.timezone("UTC", UsageDaily.day), Date)
    query = _scoped(select(day, _sum(UsageDaily)), budget, UsageDaily).group_by(day)
    query = query.where(UsageDaily.day >= _midnight(first),
                        UsageDaily.day < _midnight(last + timedelta(days=1)))  # fmt: skip
    return sorted((d, Decimal(c)) for d, c in session.execute(query))


def _forecast(session: Session, budget: Budget, start: datetime, end: datetime, now: datetime
              ) -> Forecast:  # fmt: skip
    today = min(now.date(), (end - timedelta(days=1)).date())
    # Only days with spend: those before the first are "no history yet", not free days.
    daily = daily_spend(session, budget, start.date() - timedelta(HISTORY_DAYS), today)
    last_day = (end - timedelta(days=1)).date()
    return forecast_period(
        daily, period_start=start.date(), period_end=last_day, today=today, now=now
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def compute_status(session: Session, budget: Budget, now: datetime
                   ) -> tuple[BudgetStatus, Decimal, Forecast]:  # fmt: skip
    """The budget's status at ``now``, its spend settled before the current hour, and the
    forecast the status took its expected total from."""
    now = now.astimezone(UTC)
    start, end = period_bounds(budget.period, now)
    settled_until = max(start, floor_hour(now))
    spent, settled = _spend(session, budget, start, end, settled_until)
    forecast = _forecast(session, budget, start, end, now)
    # The forecast's own spend can differ by rows committed in between: ours is the truth.
    remaining = forecast.expected_total - forecast.spent
    limit = budget.limit_usd
    crossed = [t for t in budget.thresholds if spent * 100 >= limit * t]
    status = BudgetStatus(
        budget_id=budget.id, name=budget.name, scope=budget.scope, value=budget.scope_value,
        period=budget.period, period_start=start, period_end=end, limit_usd=limit, spent=spent,
        remaining=max(limit - spent, ZERO), fraction=(spent / limit).quantize(Decimal("0.0001")),
        expected_total=spent + remaining, expected_low=spent + (forecast.low - forecast.spent),
        expected_high=spent + (forecast.high - forecast.spent), forecast_method=forecast.method,
        exhausts_on=_exhaustion(forecast, spent, limit), thresholds=list(budget.thresholds),
        thresholds_crossed=crossed, exhausted=spent >= limit, hard=budget.hard,
        enabled=budget.enabled, computed_at=now,
    )  # fmt: skip
    return status, settled, forecast


def _exhaustion(forecast: Forecast, spent: Decimal, limit: Decimal) -> date | None:
    if spent >= limit:
        return forecast.projected_exhaustion(limit) or forecast.today
    return forecast.projected_exhaustion(limit - (spent - forecast.spent))


def _store(session: Session, budget: Budget, status: BudgetStatus, settled: Decimal) -> None:
    values = {
        "period_start": status.period_start, "period_end": status.period_end,
        "spent": status.spent, "settled_spent": settled,
        "settled_until": max(status.period_start, floor_hour(status.computed_at)),
        "expected_total": status.expected_total, "expected_low": status.expected_low,
        "expected_high": status.expected_high, "exhausts_on": status.exhausts_on,
        "thresholds_crossed": status.thresholds_crossed, "exhausted": status.exhausted,
        "computed_at": status.computed_at,
    }  # fmt: skip
    stmt = pg_insert(BudgetState).values(project_id=budget.project_id, budget_id=budget.id,
                                         **values)  # fmt: skip
    session.execute(stmt.on_conflict_do_update(index_elements=["project_id", "budget_id"],
                                               set_=values))  # fmt: skip


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def _raise_thresholds(session: Session, budget: Budget, status: BudgetStatus) -> list[int]:
    raised = []
    where = describe_scope(budget.scope, budget.scope_value)
    for threshold in status.thresholds_crossed:
        severity: Severity = "critical" if threshold >= 100 else "warning"
        body = (
            f"{_usd(status.spent)} spent of {_usd(status.limit_usd)} ({status.fraction:.0%}) on "
            f"{where} this {budget.period} (since {status.period_start:%Y-%m-%d}). Expected by "
            f"the end of the period: {_usd(status.expected_total)}."
        )
        if budget.hard and status.exhausted:
            body += f" Hard budget: budget_ok() answers false until {status.period_end:%Y-%m-%d}."
        details = {
            "budget_id": budget.id, "threshold": threshold, "scope": budget.scope,
            "value": budget.scope_value, "period": budget.period,
            "period_start": status.period_start.isoformat(),
            "spent": str(status.spent), "limit_usd": str(status.limit_usd), "hard": budget.hard,
        }  # fmt: skip
        alert_id = raise_alert(
            session, project_id=budget.project_id, kind="budget", severity=severity,
            title=f"Budget “{budget.name}” passed {threshold} % of {_usd(status.limit_usd)}",
            dedup_key=f"budget:{budget.id}:{status.period_start.isoformat()}:{threshold}",
            body=body, details=details,
        )  # fmt: skip
        if alert_id is not None:
            raised.append(threshold)
    return raised


def refresh_budget(session: Session, project_id: int, budget_id: int, now: datetime
                   ) -> list[int] | None:  # fmt: skip
    """Recompute and store one enabled budget's state and alert newly crossed thresholds.

    The budget row is locked with ``SKIP LOCKED``, so overlapping runs on several workers skip
    a budget another is computing. Returns the thresholds alerted now (None when skipped).
    """
    budget = session.scalar(
        select(Budget)
        .where(Budget.project_id == project_id, Budget.id == budget_id, Budget.enabled.is_(True))
        .with_for_update(skip_locked=True)
    )
    if budget is None:
        return None
    status, settled, _ = compute_status(session, budget, now)
    _store(session, budget, status, settled)
    return _raise_thresholds(session, budget, status)


def budget_status(session: Session, project_id: int, budget_id: int, now: datetime
                  ) -> BudgetStatus:  # fmt: skip
    """The budget's status computed now from the rollups (NotFoundError for another project's)."""
    return compute_status(session, get_budget(session, project_id, budget_id), now)[0]


def burn_down(session: Session, project_id: int, budget_id: int, now: datetime) -> BurnDown:
    """Cumulative spend over the current period and the forecast's path to its end."""
    budget = get_budget(session, project_id, budget_id)
    now = now.astimezone(UTC)
    status, _, forecast = compute_status(session, budget, now)
    hourly = budget.period == "day"
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    table, column = (UsageHourly, UsageHourly.hour) if hourly else (UsageDaily, UsageDaily.day)
    query = _scoped(select(column, _sum(table)), budget, table)
    query = query.where(column >= status.period_start, column < status.period_end)
    by_step = {when.astimezone(UTC): Decimal(cost)
               for when, cost in session.execute(query.group_by(column))}  # fmt: skip
    actual, total, at = [(status.period_start, ZERO)], ZERO, status.period_start
    while at <= now and at < status.period_end:
        total += by_step.get(at, ZERO)
        at += step
        actual.append((min(at, now), total))
    expected, cumulative = [(actual[-1][0], total)], total
    for day, cost in forecast.expected:
        cumulative += cost
        end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        expected.append((min(end_of_day, status.period_end), cumulative))
    return BurnDown(status=status, actual=actual, expected=expected)


def exhausted_hard_budgets(
    session: Session, project_id: int, dimensions: Mapping[str, str], now: datetime
) -> list[ExhaustedBudget]:
    """The enabled hard budgets limiting ``dimensions`` that are exhausted at ``now``.

    A project-wide budget limits every call; a team, feature, customer, model or user budget
    limits the calls that name that value (``dimensions`` uses the scope names as keys).
    """
    candidates = session.execute(
        select(Budget, BudgetState)
        .outerjoin(BudgetState, (BudgetState.project_id == Budget.project_id)
                   & (BudgetState.budget_id == Budget.id))
        .where(Budget.project_id == project_id, Budget.hard.is_(True), Budget.enabled.is_(True))
        .order_by(Budget.id)
    ).all()  # fmt: skip
    exhausted = []
    for budget, state in candidates:
        if not _limits(budget, dimensions.get(budget.scope)):
            continue
        start, end = period_bounds(budget.period, now)
        if state is not None and state.period_start == start:
            if state.exhausted:
                spent = state.spent
            else:
                spent = state.settled_spent + spend_since(session, budget, state.settled_until, end)
        else:
            spent = period_spend(session, budget, start, end)
        if spent >= budget.limit_usd:
            exhausted.append(ExhaustedBudget(budget.id, budget.name, budget.scope,
                                             budget.scope_value, budget.period, end))  # fmt: skip
    return exhausted
