"""Governance: alerts (shared by budgets, anomalies and drift), budgets and webhooks.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import MONEY, Base


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


class Budget(Base):
    """A spending limit for one UTC calendar period over the project or one dimension value.

    ``scope`` is ``project`` (``scope_value`` '') or a rollup dimension (team, feature,
    customer, model, user) with the value it limits. ``thresholds`` are percentages of the
    limit, each alerted once per period; a ``hard`` budget also answers ``budget_ok`` false
    once exhausted, so apps can refuse calls before spending.
    """

    __tablename__ = "budgets"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))
    scope_value: Mapped[str] = mapped_column(Text, server_default="")
    period: Mapped[str] = mapped_column(String(8))
    limit_usd: Mapped[Decimal] = mapped_column(MONEY)
    thresholds: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{50,80,100}")
    hard: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("limit_usd > 0", name="limit_positive"),
        CheckConstraint("period IN ('day', 'week', 'month')", name="period_known"),
        CheckConstraint(
            "scope IN ('project', 'team', 'feature', 'customer', 'model', 'user')",
            name="scope_known",
        ),
    )


class BudgetState(Base):
    """A budget's state as the worker last computed it from the rollups (one row per budget).

    ``settled_spent`` is the spend of the period's hours before ``settled_until`` (the hour the
    computation ran in), so the ``budget_ok`` check adds only the rollup rows from that hour
    on and sees new spend at once, without waiting for the next run.
    """

    __tablename__ = "budget_states"

    project_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    budget_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spent: Mapped[Decimal] = mapped_column(MONEY)
    settled_spent: Mapped[Decimal] = mapped_column(MONEY)
    settled_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expected_total: Mapped[Decimal] = mapped_column(MONEY)
    expected_low: Mapped[Decimal] = mapped_column(MONEY)
    expected_high: Mapped[Decimal] = mapped_column(MONEY)
    exhausts_on: Mapped[date | None] = mapped_column(Date)
    thresholds_crossed: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    exhausted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "budget_id"], ["budgets.project_id", "budgets.id"], ondelete="CASCADE"
        ),
    )


class Webhook(Base):
    """Where a project's alerts are POSTed (Slack-compatible JSON).

    ``secret``, when set, signs each body (HMAC-SHA256 in ``X-TokenTrail-Signature``); it is
    kept because signing needs it, and never returned by the API.
    """

    __tablename__ = "webhooks"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, server_default="")
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AlertDelivery(Base):
    """One alert on its way to one webhook: claimed with ``FOR UPDATE SKIP LOCKED``, retried
    with exponential backoff until delivered or out of attempts."""

    __tablename__ = "alert_deliveries"

    project_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "alert_id"], ["alerts.project_id", "alerts.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["project_id", "webhook_id"], ["webhooks.project_id", "webhooks.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
        Index("ix_alert_deliveries_project_pending", "project_id", "next_attempt_at",
              postgresql_where=text("status = 'pending'")),
        Index("ix_alert_deliveries_project_webhook", "project_id", "webhook_id", "created_at"),
    )  # fmt: skip


__all__ = ["Alert", "AlertDelivery", "Budget", "BudgetState", "Webhook"]
