"""Data access for the Budgets and Alerts pages: short sessions over core's governance modules.

Who may change what is decided here too, so pages only ask: admins and finance manage budgets,
anyone but a viewer acknowledges alerts, admins alone see and change webhooks (their URLs are
often credentials).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from core import alerts, budgets, webhooks
from core.alerts import AlertOut
from core.budget_state import BudgetStatus, BurnDown, budget_status, burn_down
from core.budgets import BudgetIn, BudgetOut
from core.db import make_session_factory
from core.models_governance import Alert
from core.settings import get_settings
from core.webhooks import DeliveryOut, WebhookIn, WebhookOut
from dashboard.data import engine, read_session

BUDGET_EDITORS = frozenset({"admin", "finance"})
ALERT_ACKNOWLEDGERS = frozenset({"admin", "engineer", "finance"})
WEBHOOK_ADMINS = frozenset({"admin"})


def may_edit_budgets(role: str) -> bool:
    return role in BUDGET_EDITORS


def may_acknowledge(role: str) -> bool:
    return role in ALERT_ACKNOWLEDGERS


def may_manage_webhooks(role: str) -> bool:
    return role in WEBHOOK_ADMINS


def budget_list(project_id: int) -> list[BudgetOut]:
    with read_session() as session:
        return [BudgetOut.of(b) for b in budgets.list_budgets(session, project_id)]


def statuses(project_id: int, now: datetime | None = None) -> list[tuple[BudgetOut, BudgetStatus]]:
    """Every budget with its status computed now from the rollups."""
    moment = now or datetime.now(UTC)
    with read_session() as session:
        rows = budgets.list_budgets(session, project_id)
        return [(BudgetOut.of(b), budget_status(session, project_id, b.id, moment)) for b in rows]


def budget_burn_down(project_id: int, budget_id: int, now: datetime | None = None) -> BurnDown:
    with read_session() as session:
        return burn_down(session, project_id, budget_id, now or datetime.now(UTC))


def save_budget(project_id: int, data: BudgetIn, budget_id: int | None = None) -> int:
    """Create (no id) or replace a budget; its id."""
    with make_session_factory(engine()).begin() as session:
        if budget_id is None:
            return budgets.create_budget(session, project_id, data).id
        return budgets.update_budget(session, project_id, budget_id, data).id


def set_budget_enabled(project_id: int, budget_id: int, enabled: bool) -> None:
    with make_session_factory(engine()).begin() as session:
        budgets.set_enabled(session, project_id, budget_id, enabled)


def delete_budget(project_id: int, budget_id: int) -> None:
    with make_session_factory(engine()).begin() as session:
        budgets.delete_budget(session, project_id, budget_id)


def alert_kinds(project_id: int) -> list[str]:
    with read_session() as session:
        query = select(Alert.kind).where(Alert.project_id == project_id).distinct()
        return sorted(session.scalars(query))


def alert_list(
    project_id: int, kinds: Sequence[str] = (), open_only: bool = False, limit: int = 200
) -> list[AlertOut]:
    with read_session() as session:
        rows = alerts.list_alerts(session, project_id, kinds=list(kinds) or None,
                                  open_only=open_only, limit=limit)  # fmt: skip
        return [AlertOut.model_validate(a) for a in rows]


def acknowledge(project_id: int, alert_id: int, actor: str) -> None:
    with make_session_factory(engine()).begin() as session:
        alerts.acknowledge(session, project_id, alert_id, actor)


def webhook_list(project_id: int) -> list[WebhookOut]:
    with read_session() as session:
        return [WebhookOut.of(w) for w in webhooks.list_webhooks(session, project_id)]


def add_webhook(project_id: int, data: WebhookIn) -> int:
    """Store a webhook; OutboundURLError (with its reason) when the URL is refused."""
    allow = get_settings().outbound_allow_loopback
    with make_session_factory(engine()).begin() as session:
        return webhooks.create_webhook(session, project_id, data, allow_loopback=allow).id


def set_webhook_enabled(project_id: int, webhook_id: int, enabled: bool) -> None:
    allow = get_settings().outbound_allow_loopback
    with make_session_factory(engine()).begin() as session:
        webhooks.set_enabled(session, project_id, webhook_id, enabled, allow_loopback=allow)


def delete_webhook(project_id: int, webhook_id: int) -> None:
    with make_session_factory(engine()).begin() as session:
        webhooks.delete_webhook(session, project_id, webhook_id)


def deliveries(project_id: int, webhook_id: int | None = None, limit: int = 100
               ) -> list[DeliveryOut]:  # fmt: skip
    with read_session() as session:
        rows = webhooks.list_deliveries(session, project_id, webhook_id=webhook_id, limit=limit)
        return [DeliveryOut.model_validate(d) for d in rows]
