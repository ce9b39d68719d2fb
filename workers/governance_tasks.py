"""Governance tasks: budget state every minute, alert delivery every few seconds.

Thin edges over :mod:`core.budget_state` and :mod:`core.alert_delivery`; beat schedules both
(see :mod:`workers.celery_app`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core import budgets
from core.alert_delivery import DeliveryPolicy, deliver_pending
from core.budget_state import refresh_budget
from core.db import get_engine, make_session_factory
from core.settings import get_settings

logger = logging.getLogger(__name__)

BUDGET_TASK = "governance.refresh_budgets"
DELIVERY_TASK = "governance.deliver_alerts"


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@shared_task(name=BUDGET_TASK, acks_late=True, reject_on_worker_lost=True)
def refresh_budgets() -> int:
    """Recompute every enabled budget's state; the number of threshold alerts raised.

    Each budget has its own transaction, so one that fails (logged) never holds up the rest.
    """
    now = datetime.now(UTC)
    with _sessions()() as session:
        keys = budgets.enabled_budget_keys(session)
    raised = 0
    for project_id, budget_id in keys:
        try:
            with _sessions().begin() as session:
                raised += len(refresh_budget(session, project_id, budget_id, now) or ())
        except Exception:
            logger.exception("budget %s of project %s could not be refreshed", budget_id,
                             project_id)  # fmt: skip
    return raised


@shared_task(name=DELIVERY_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver_alerts() -> dict[str, int]:
    """Send pending alerts to their webhooks (with retries and backoff)."""
    settings = get_settings()
    policy = DeliveryPolicy(
        timeout_s=settings.webhook_timeout_s,
        retry_base_s=settings.webhook_retry_base_s,
        max_attempts=settings.webhook_max_attempts,
        allow_loopback=settings.outbound_allow_loopback,
    )
    return deliver_pending(_sessions(), policy)
