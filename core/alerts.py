"""Raising, listing and acknowledging alerts; every producer (budgets, anomalies, drift) uses
:func:`raise_alert`, so an alert is stored once per ``dedup_key`` however often a job runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models_governance import Alert

Severity = Literal["info", "warning", "critical"]


class AlertOut(BaseModel):
    """An alert as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    severity: str
    title: str
    body: str
    details: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def raise_alert(
    session: Session,
    *,
    project_id: int,
    kind: str,
    severity: Severity,
    title: str,
    dedup_key: str,
    body: str = "",
    details: dict[str, Any] | None = None,
) -> int | None:
    """Store an alert unless one with the same ``dedup_key`` exists; its id, or None if it did."""
    new_id = session.execute(
        pg_insert(Alert)
        .values(
            project_id=project_id,
            kind=kind,
            severity=severity,
            title=title,
            body=body,
            details=details or {},
            dedup_key=dedup_key,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "dedup_key"])
        .returning(Alert.id)
    ).scalar_one_or_none()
    return new_id


def list_alerts(
    session: Session,
    project_id: int,
    *,
    kinds: Sequence[str] | None = None,
    open_only: bool = False,
    limit: int = 100,
) -> list[Alert]:
    """The project's alerts, newest first."""
    query = select(Alert).where(Alert.project_id == project_id)
    if kinds:
        query = query.where(Alert.kind.in_(kinds))
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    return list(session.scalars(query))


def acknowledge(session: Session, project_id: int, alert_id: int, actor: str) -> Alert:
    """Mark an alert acknowledged (the first acknowledgement wins); NotFoundError elsewhere."""
    session.execute(
        update(Alert)
        .where(Alert.project_id == project_id, Alert.id == alert_id)
        .where(Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=datetime.now(UTC), acknowledged_by=actor)
    )
    alert = session.get(Alert, (project_id, alert_id))
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found")
    return alert
