"""A price override change and the re-pricing job it calls for, saved in one transaction.

The REST API and the dashboard both change prices through these functions, so every create,
change or delete is audited (``core.prices``) and queues its job (``core.repricing``) the same
way; a worker runs the job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core import prices, repricing
from core.models import PriceOverride
from core.models_finance import RepricingJob
from core.prices import PriceOverrideIn, PriceOverrideOut


def snapshot(row: PriceOverride) -> dict[str, Any]:
    """The override as the audit trail and the job scope see it."""
    return PriceOverrideOut.model_validate(row).model_dump(mode="json")


def create_with_job(
    session: Session, project_id: int, data: PriceOverrideIn, actor: str
) -> tuple[PriceOverride, RepricingJob]:
    row = prices.create_override(session, project_id, data, actor)
    job = repricing.job_for_override_change(session, project_id, None, snapshot(row), actor)
    return row, job


def update_with_job(
    session: Session, project_id: int, override_id: int, data: PriceOverrideIn, actor: str
) -> tuple[PriceOverride, RepricingJob]:
    before = snapshot(prices.get_override(session, project_id, override_id))
    row = prices.update_override(session, project_id, override_id, data, actor)
    job = repricing.job_for_override_change(session, project_id, before, snapshot(row), actor)
    return row, job


def delete_with_job(
    session: Session, project_id: int, override_id: int, actor: str
) -> RepricingJob:
    before = snapshot(prices.get_override(session, project_id, override_id))
    prices.delete_override(session, project_id, override_id, actor)
    return repricing.job_for_override_change(session, project_id, before, None, actor)


__all__ = ["create_with_job", "delete_with_job", "snapshot", "update_with_job"]
