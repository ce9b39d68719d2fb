"""Governance: alerts (shared by budgets, anomalies and drift), budgets and webhooks.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class Alert(Base):
    """Something a person should look at: a budget threshold, a spend anomaly, drift.

    ``dedup_key`` makes raising idempotent: a threshold for one period, an anomaly for one day
    or a drift finding for one window is stored once however often its job runs.
    """

    __tablename__ = "alerts"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, server_default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    dedup_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("uq_alerts_project_dedup", "project_id", "dedup_key", unique=True),
        Index("ix_alerts_project_created", "project_id", "created_at"),
        Index("ix_alerts_project_open", "project_id", "created_at",
              postgresql_where=text("acknowledged_at IS NULL")),
    )  # fmt: skip


__all__ = ["Alert"]
