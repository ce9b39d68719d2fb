"""Quality: scorer settings, sampling, rescoring requests, dead letters and the scoring lag.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class ScoringQueue(Base):
    """Spans waiting to be scored: one narrow row per new span, written by the ingest
    transaction, claimed by workers with ``FOR UPDATE SKIP LOCKED`` and deleted once scored.

    Marking the (wide, trigram-indexed) span row itself would cost a non-HOT update that
    rewrites every index entry of the span, about a millisecond per span; a queue row costs
    a few microseconds to insert and delete.
    """

    __tablename__ = "scoring_queue"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (Index("ix_scoring_queue_project_ingested", "project_id", "ingested_at"),)


class ScorerSetting(Base):
    """A project's choice for one scorer: on or off, and the share of spans it scores.

    No row means "enabled, every span". Sampling is deterministic (a hash of the span's ids),
    so a re-run or a second worker picks the same spans.
    """

    __tablename__ = "scorer_settings"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    scorer: Mapped[str] = mapped_column(Text, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    sample_rate: Mapped[float] = mapped_column(Double, server_default=text("1.0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("sample_rate >= 0 AND sample_rate <= 1", name="rate"),)


class RescoreRequest(Base):
    """Re-run one scorer (at its current version) over the spans that started in a range.

    Workers claim open requests with ``FOR UPDATE SKIP LOCKED`` and keep a keyset cursor, so a
    killed worker's successor resumes where the last committed chunk ended; the scores' unique
    index makes any overlap harmless. New-version scores are stored beside the old ones.
    """

    __tablename__ = "rescore_requests"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scorer: Mapped[str] = mapped_column(Text)
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    scorer_version: Mapped[str | None] = mapped_column(Text)
    cursor_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cursor_trace_id: Mapped[str | None] = mapped_column(String(32))
    cursor_span_id: Mapped[str | None] = mapped_column(String(16))
    spans_done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    scores_written: Mapped[int] = mapped_column(BigInteger, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_rescore_requests_project_open",
            "project_id",
            "id",
            postgresql_where=text("status IN ('pending', 'running')"),
        ),
        CheckConstraint("end_time > start_time", name="range"),
    )


class DeadLetter(Base):
    """A span a scorer could not score (it raised): recorded once, skipped, never retried
    automatically; fix the scorer, bump its version and request a rescore."""

    __tablename__ = "dead_letters"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    scorer: Mapped[str] = mapped_column(Text)
    scorer_version: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "uq_dead_letters_span",
            "project_id",
            "trace_id",
            "span_id",
            "scorer",
            "scorer_version",
            unique=True,
        ),
        Index("ix_dead_letters_project_created", "project_id", "created_at"),
    )


class TaskAttempt(Base):
    """Deliveries of one Celery task id, counted before the task works.

    ``acks_late`` + ``reject_on_worker_lost`` redeliver a task whose worker died; a task that
    kills its worker every time would come back forever. Past the limit it is dead-lettered
    here (``dead_at``) and acknowledged without running. Tasks are not per project, so this
    small bookkeeping table is keyed by the task id alone (like ``api_keys.key_hash``).
    """

    __tablename__ = "task_attempts"

    task_id: Mapped[str] = mapped_column(Text, primary_key=True)
    task_name: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_task_attempts_last_seen", "last_seen_at"),)


class ScoringLag(Base):
    """Ingest-to-score lag as a histogram: spans and summed seconds per bucket (not cumulative).

    Each scoring batch adds its spans in one upsert; the worker's ``/metrics`` turns the rows
    into a Prometheus histogram, so the figure survives worker restarts and counts every
    worker process.
    """

    __tablename__ = "scoring_lag"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_le: Mapped[float] = mapped_column(Double, primary_key=True)
    spans: Mapped[int] = mapped_column(BigInteger, server_default="0")
    seconds_sum: Mapped[float] = mapped_column(Double, server_default="0")


__all__ = [
    "DeadLetter",
    "RescoreRequest",
    "ScorerSetting",
    "ScoringLag",
    "ScoringQueue",
    "TaskAttempt",
]
