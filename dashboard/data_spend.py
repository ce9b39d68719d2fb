"""Data for the Spend page: month-to-date, forecast, budgets, breakdowns and anomalies.

Like :mod:`dashboard.data`, every function opens a short read session and returns values;
the page never builds a query. Everything here comes from the rollups and alerts, so no
prompt or completion is ever read (the finance role sees this page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core import anomalies, budgets, rightsizing, spend_report
from core.budget_state import BudgetStatus, compute_status
from core.forecast import Forecast, forecast_month
from core.models_governance import Alert
from core.spend_report import DailyPart, Driver, Totals, UnitCost
from dashboard.data import read_session


@dataclass(frozen=True)
class Anomaly:
    """A spend anomaly as the page lists it."""

    day: date
    series: str
    severity: str
    title: str
    body: str
    actual: Decimal
    expected: Decimal
    drivers: str
    acknowledged: bool


def month_forecast(project_id: int, now: datetime) -> Forecast:
    with read_session() as session:
        return forecast_month(session, project_id, now=now)


def budget_statuses(project_id: int, now: datetime) -> list[BudgetStatus]:
    """Every enabled budget's status now, computed from the rollups (nothing is stored)."""
    with read_session() as session:
        return [compute_status(session, b, now)[0]
                for b in budgets.list_budgets(session, project_id) if b.enabled]  # fmt: skip


def savings_available(project_id: int, now: datetime) -> Decimal | None:
    """Monthly savings of the Models page's recommendations (None when there are none)."""
    with read_session() as session:
        return rightsizing.savings_available(session, project_id, now=now)


def totals(project_id: int, start: date, end: date) -> Totals:
    with read_session() as session:
        return spend_report.totals(session, project_id, start, end)


def daily_by(project_id: int, dimension: str, start: date, end: date) -> list[DailyPart]:
    with read_session() as session:
        return spend_report.daily_by(session, project_id, dimension, start, end)


def drivers(
    project_id: int, dimension: str, current: tuple[date, date], previous: tuple[date, date]
) -> list[Driver]:
    with read_session() as session:
        return spend_report.drivers(session, project_id, dimension, current, previous)


def unit_costs(project_id: int, dimension: str, start: date, end: date) -> list[UnitCost]:
    with read_session() as session:
        return spend_report.unit_costs(session, project_id, dimension, start, end)


def recent_anomalies(project_id: int, since: date, limit: int = 20) -> list[Anomaly]:
    with read_session() as session:
        return [_anomaly(a) for a in anomalies.list_findings(session, project_id, since=since,
                                                              limit=limit)]  # fmt: skip


def _anomaly(alert: Alert) -> Anomaly:
    d = alert.details
    dimension = str(d.get("dimension", ""))
    label = "user" if dimension == "user_id" else dimension
    series = "project total" if dimension == anomalies.TOTAL else f"{label} {d.get('value')}"
    return Anomaly(day=date.fromisoformat(d["day"]), series=series, severity=alert.severity,
                   title=alert.title, body=alert.body, actual=Decimal(d["actual"]),
                   expected=Decimal(d["expected"]), drivers=_drivers(d.get("contributors", [])),
                   acknowledged=alert.acknowledged_at is not None)  # fmt: skip


def _drivers(contributors: list[dict[str, Any]]) -> str:
    """Each dimension's top contributor carrying at least half the excess, biggest first."""
    best: dict[str, dict[str, Any]] = {}
    for c in contributors:
        share = float(c.get("share", 0))
        if share >= anomalies.COVERED_SHARE and share > float(best.get(c["dimension"], {}).get(
                "share", -1)):  # fmt: skip
            best[c["dimension"]] = c
    ranked = sorted(best.values(), key=lambda c: -float(c["share"]))
    return ", ".join(f"{'user' if c['dimension'] == 'user_id' else c['dimension']} "
                     f"{c['value']} ({float(c['share']):.0%})" for c in ranked)  # fmt: skip
