"""Right-sizing and the LLM judge: task definitions, replay experiments, judge settings.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.

No secret is stored here: an endpoint's API key is named by ``*_api_key_env``, the name of an
environment variable of the worker process (``TOKENTRAIL_SECRET_*``), so a database dump or a
read-only role never reveals a provider key (see ``core.openai_compat.resolve_api_key``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
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
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import MONEY, Base


class RightsizingSettings(Base):
    """How a project defines its tasks and judges quality for right-sizing.

    ``task_key`` is ``feature`` (the feature tag), ``span_name`` (the name of the LLM call's
    parent span, or its own when it has none) or ``prompt`` (prompt name and version).
    """

    __tablename__ = "rightsizing_settings"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    task_key: Mapped[str] = mapped_column(String(16), server_default="feature")
    score_names: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    margin: Mapped[float] = mapped_column(Double, server_default="0.05")
    min_samples: Mapped[int] = mapped_column(Integer, server_default="30")
    replay_base_url: Mapped[str | None] = mapped_column(Text)
    replay_provider: Mapped[str | None] = mapped_column(Text)
    replay_api_key_env: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class JudgeSettings(Base):
    """A project's LLM judge: endpoint, model, rubric templates, sampling and progress.

    ``judged_through_*`` is the keyset position (ingested_at, trace, span) the judge job has
    passed; spans after it are sampled and judged, so each span is considered once.
    """

    __tablename__ = "judge_settings"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    base_url: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    api_key_env: Mapped[str | None] = mapped_column(Text)
    templates: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    custom_prompt: Mapped[str | None] = mapped_column(Text)
    sample_rate: Mapped[float] = mapped_column(Double, server_default="0.1")
    judged_through_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    judged_through_trace: Mapped[str | None] = mapped_column(String(32))
    judged_through_span: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Experiment(Base):
    """A replay: recent inputs of one task run through a candidate model, then scored."""

    __tablename__ = "experiments"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    task_kind: Mapped[str] = mapped_column(String(16))
    task_value: Mapped[str] = mapped_column(Text)
    baseline_model: Mapped[str] = mapped_column(Text)
    candidate_model: Mapped[str] = mapped_column(Text)
    candidate_provider: Mapped[str | None] = mapped_column(Text)
    sample_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    requested_by: Mapped[str] = mapped_column(Text, server_default="")
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_experiments_project_created", "project_id", "created_at"),
        Index("ix_experiments_project_status", "project_id", "status"),
    )


class ExperimentResult(Base):
    """One replayed input: the candidate's answer, its usage and cost, and both sides' scores."""

    __tablename__ = "experiment_results"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    experiment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    output_text: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost: Mapped[Decimal | None] = mapped_column(MONEY)
    latency_ms: Mapped[float | None] = mapped_column(Double)
    baseline_scores: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    candidate_scores: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    agrees: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "experiment_id"],
            ["experiments.project_id", "experiments.id"],
            name="fk_experiment_results_experiment_experiments",
            ondelete="CASCADE",
        ),
    )


__all__ = ["Experiment", "ExperimentResult", "JudgeSettings", "RightsizingSettings"]
