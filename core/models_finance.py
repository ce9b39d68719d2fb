"""Finance: daily rollups, the latency distribution of the rollups, and re-pricing jobs.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema. The hourly rollup (``usage_hourly``) lives in
:mod:`core.models`; its latency histogram column and this module's tables come from migration
0005.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.models import MONEY, Base, UsageCell


class UsageDaily(UsageCell, Base):
    """Daily usage per attribution dimension (UTC days); the same cells as ``usage_hourly``.

    Maintained at ingest in the same transaction as the hourly rows (from inserted spans
    only), adjusted by re-pricing and re-checked by reconciliation, exactly like the hourly
    table; missing dimensions are stored as ''.
    """

    __tablename__ = "usage_daily"

    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, sort_order=-1)


class UsageMonthly(UsageCell, Base):
    """Monthly usage per attribution dimension (UTC calendar months); the cells of
    ``usage_daily`` folded per month, maintained the same way (at ingest, by re-pricing deltas,
    checked against the daily rows). A month's report reads ~30 times fewer rows."""

    __tablename__ = "usage_monthly"

    month: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, sort_order=-1
    )


class RepricingStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RepricingJob(Base):
    """Re-compute computed costs of a project's spans over ``[range_start, range_end)``.

    A worker claims the row (``FOR UPDATE SKIP LOCKED``) for one batch at a time; each batch
    updates spans, rollups and the keyset cursor (start_time, trace_id, span_id) in one
    transaction, so a killed worker's successor resumes exactly where the last commit left
    off. ``models`` limits the job to those model names (None: every model).
    """

    __tablename__ = "repricing_jobs"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default=RepricingStatus.QUEUED.value)
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created_by: Mapped[str] = mapped_column(Text, server_default="")
    range_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    range_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    models: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    cursor_start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cursor_trace_id: Mapped[str | None] = mapped_column(String(32))
    cursor_span_id: Mapped[str | None] = mapped_column(String(16))
    spans_scanned: Mapped[int] = mapped_column(BigInteger, server_default="0")
    spans_repriced: Mapped[int] = mapped_column(BigInteger, server_default="0")
    batches: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cost_before: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    cost_after: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_repricing_jobs_project_open",
            "project_id",
            "id",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )


__all__ = ["RepricingJob", "RepricingStatus", "UsageDaily", "UsageMonthly"]
