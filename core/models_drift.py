"""Drift: drift runs, their per-segment results, pinned baselines and detected model changes.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class DriftRun(Base):
    """One comparison of a recent window with a baseline window for one project."""

    __tablename__ = "drift_runs"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default="done")
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    baseline_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    baseline_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recent_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recent_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tests: Mapped[int] = mapped_column(Integer, server_default="0")
    drifted: Mapped[int] = mapped_column(Integer, server_default="0")
    sampled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (Index("ix_drift_runs_project_started", "project_id", "started_at"),)


class DriftResult(Base):
    """One metric of one segment in one run: the test, its p and q values, the effect size,
    summaries of both windows and whether it counts as drift."""

    __tablename__ = "drift_results"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    segment_kind: Mapped[str] = mapped_column(String(16))
    segment_value: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(Text)
    statistic: Mapped[str] = mapped_column(String(32))
    stat_value: Mapped[float] = mapped_column(Double)
    p_value: Mapped[float] = mapped_column(Double)
    q_value: Mapped[float] = mapped_column(Double)
    effect_name: Mapped[str] = mapped_column(String(16))
    effect: Mapped[float] = mapped_column(Double)
    baseline_n: Mapped[int] = mapped_column(BigInteger)
    recent_n: Mapped[int] = mapped_column(BigInteger)
    baseline: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    recent: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    drifted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    severity: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["drift_runs.project_id", "drift_runs.id"],
            name="fk_drift_results_run_drift_runs",
            ondelete="CASCADE",
        ),
        Index("ix_drift_results_project_run_segment", "project_id", "run_id", "segment_kind",
              "segment_value"),
    )  # fmt: skip


class DriftBaseline(Base):
    """A pinned baseline range: for the whole project (kind and value '') or one segment."""

    __tablename__ = "drift_baselines"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    segment_kind: Mapped[str] = mapped_column(String(16), server_default="")
    segment_value: Mapped[str] = mapped_column(Text, server_default="")
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("uq_drift_baselines_project_segment", "project_id", "segment_kind",
              "segment_value", unique=True),
    )  # fmt: skip


class ModelChange(Base):
    """The response model (or system fingerprint) behind one requested model changed."""

    __tablename__ = "model_changes"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider: Mapped[str] = mapped_column(Text, server_default="")
    request_model: Mapped[str] = mapped_column(Text)
    attribute: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_old_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_count: Mapped[int] = mapped_column(BigInteger)
    new_count: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        Index("uq_model_changes_project_change", "project_id", "request_model", "attribute",
              "old_value", "new_value", unique=True),
        Index("ix_model_changes_project_changed", "project_id", "changed_at"),
    )  # fmt: skip


__all__ = ["Base", "DriftBaseline", "DriftResult", "DriftRun", "ModelChange"]
