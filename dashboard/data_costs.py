"""Data access for the Chargeback and Prices pages: short sessions over core's finance modules.

Who may see and change what is decided here too: finance and admins read both pages; admins
alone change prices (a change re-prices history). Nothing here reads prompt or completion
content.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core import cost_exports, price_jobs, prices, repricing
from core.cost_reports import Statement, chargeback
from core.db import make_session_factory
from core.models_finance import RepricingJob, UsageDaily
from core.prices import PriceChangeOut, PriceOverrideIn, PriceOverrideOut
from core.repricing_preview import ChangePreview, PriceCard, preview_change, price_card
from dashboard.data import engine, read_session

FINANCE_ROLES = frozenset({"admin", "finance"})
PRICE_EDITORS = frozenset({"admin"})
#: Models "in use" on the Prices page: seen in the rollups within this many days.
IN_USE_DAYS = 30


def may_view_finance(role: str) -> bool:
    return role in FINANCE_ROLES


def may_edit_prices(role: str) -> bool:
    return role in PRICE_EDITORS


def months_with_spend(project_id: int, now: datetime | None = None) -> list[str]:
    """``YYYY-MM`` of every month with rollups, newest first (the current month always)."""
    current = (now or datetime.now(UTC)).strftime("%Y-%m")
    month = func.to_char(func.date_trunc("month", UsageDaily.day, "UTC"), "YYYY-MM")
    with read_session() as session:
        found = set(session.scalars(select(month).where(UsageDaily.project_id == project_id)
                                    .distinct()))  # fmt: skip
    return sorted(found | {current}, reverse=True)


def statement(project_id: int, month: str, by: str) -> Statement:
    with read_session() as session:
        return chargeback(session, project_id, month, by)


def statement_file(found: Statement, fmt: str) -> bytes:
    """The statement's lines as a CSV, Parquet or XLSX download (XLSX adds a summary)."""
    columns, rows = list(Statement.LINE_COLUMNS), found.line_rows()
    if fmt == "csv":
        return cost_exports.to_csv(columns, rows)
    if fmt == "parquet":
        return cost_exports.to_parquet(columns, rows)
    summary = [{"Owner": o.owner, "Unattributed": o.unattributed, "x_Calls": o.calls,
                "BilledCost": o.cost, "SharePercent": o.share} for o in found.owners]  # fmt: skip
    summary.append({"Owner": "TOTAL", "x_Calls": found.calls, "BilledCost": found.total})
    notes = [("Statement", f"chargeback by {found.by} for {found.month}"),
             ("Total BilledCost (exact)", str(found.total)),
             ("Unattributed (exact)", str(found.unattributed_total))]  # fmt: skip
    summary_columns = ["Owner", "Unattributed", "x_Calls", "BilledCost", "SharePercent"]
    return cost_exports.to_xlsx(
        [("Summary", summary_columns, summary), ("Lines", columns, rows)], notes
    )


def effective_prices(project_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each model used in the last :data:`IN_USE_DAYS` days with its price now and usage."""
    moment = now or datetime.now(UTC)
    since = moment - timedelta(days=IN_USE_DAYS)
    query = (
        select(UsageDaily.provider, UsageDaily.model, func.sum(UsageDaily.calls),
               func.sum(UsageDaily.cost))
        .where(UsageDaily.project_id == project_id, UsageDaily.day >= since,
               UsageDaily.model != "")
        .group_by(UsageDaily.provider, UsageDaily.model)
        .order_by(func.sum(UsageDaily.cost).desc(), UsageDaily.model)
    )  # fmt: skip
    with read_session() as session:
        overrides = prices.load_overrides(session, project_id)
        used = session.execute(query).all()
    rows = []
    for provider, model, calls, cost in used:
        card: PriceCard = price_card(provider, model, moment, overrides)
        rows.append({"provider": provider, "model": model, "calls": int(calls),
                     "cost": Decimal(cost), "card": card})  # fmt: skip
    return rows


def override_list(project_id: int) -> list[PriceOverrideOut]:
    with read_session() as session:
        return [
            PriceOverrideOut.model_validate(r) for r in prices.list_overrides(session, project_id)
        ]


def change_list(project_id: int, limit: int = 100) -> list[PriceChangeOut]:
    with read_session() as session:
        return [
            PriceChangeOut.model_validate(r)
            for r in prices.list_changes(session, project_id, limit)
        ]


def job_list(project_id: int, limit: int = 20) -> list[RepricingJob]:
    with read_session() as session:
        return repricing.list_jobs(session, project_id, limit)


def preview(
    project_id: int, data: PriceOverrideIn | None, override_id: int | None, delete: bool = False
) -> ChangePreview:
    with read_session() as session:
        return preview_change(session, project_id, override=data, override_id=override_id,
                              delete=delete, max_spans=500_000)  # fmt: skip


def save_override(
    project_id: int, data: PriceOverrideIn, override_id: int | None, actor: str
) -> int:
    """Create (no id) or replace an override and queue its re-pricing job; the job's id."""
    with make_session_factory(engine()).begin() as session:
        if override_id is None:
            _, job = price_jobs.create_with_job(session, project_id, data, actor)
        else:
            _, job = price_jobs.update_with_job(session, project_id, override_id, data, actor)
        return job.id


def delete_override(project_id: int, override_id: int, actor: str) -> int:
    with make_session_factory(engine()).begin() as session:
        return price_jobs.delete_with_job(session, project_id, override_id, actor).id
