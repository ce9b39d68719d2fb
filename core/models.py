"""The relational schema. Every key and index leads with the project.

Migrations in ``migrations/`` create these tables; tests prove the two agree.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Money: 12 digits before the point covers any bill; 10 after keeps per-token prices exact.
MONEY = Numeric(22, 10)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SpanKind(enum.StrEnum):
    LLM = "llm"
    CHAIN = "chain"
    TOOL = "tool"
    RETRIEVER = "retriever"
    EMBEDDING = "embedding"
    AGENT = "agent"
    OTHER = "other"


class SpanStatus(enum.StrEnum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


class UsageSource(enum.StrEnum):
    REPORTED = "reported"
    ESTIMATED = "estimated"


class CostSource(enum.StrEnum):
    REPORTED = "reported"
    COMPUTED = "computed"
    ESTIMATED = "estimated"
    UNKNOWN = "unknown"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    """A project's API key, stored as HMAC-SHA256 of the secret with a server-side pepper.

    The lookup index on ``key_hash`` cannot lead with the project (the key is what tells us the
    project); this table is tiny and would be a reference table under Citus.
    """

    __tablename__ = "api_keys"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), server_default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


#: Storage of the tables whose rows are rewritten after insert without touching an indexed
#: column (re-priced spans, rollup cells): a fifth of each page stays free so the new version
#: fits beside the old one and no index is written (a HOT update; migration 0012).
ROOM_TO_UPDATE_IN_PLACE = {"fillfactor": 80}


class Span(Base):
    """One span in the one storage model every convention is normalised into."""

    __tablename__ = "spans"

    # identity
    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), server_default=SpanKind.OTHER.value)
    status: Mapped[str] = mapped_column(String(8), server_default=SpanStatus.UNSET.value)
    error_type: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    # time
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[float] = mapped_column(Double)
    # model
    provider: Mapped[str | None] = mapped_column(Text)
    request_model: Mapped[str | None] = mapped_column(Text)
    response_model: Mapped[str | None] = mapped_column(Text)
    operation: Mapped[str | None] = mapped_column(Text)
    finish_reasons: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # usage
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int | None] = mapped_column(BigInteger)
    total_tokens: Mapped[int | None] = mapped_column(BigInteger)
    usage_source: Mapped[str | None] = mapped_column(String(16))
    # money
    cost: Mapped[Decimal | None] = mapped_column(MONEY)
    cost_source: Mapped[str] = mapped_column(String(16), server_default=CostSource.UNKNOWN.value)
    price_ref: Mapped[str | None] = mapped_column(Text)
    # content
    input: Mapped[Any] = mapped_column(JSONB)
    output: Mapped[Any] = mapped_column(JSONB)
    input_text: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)
    documents: Mapped[Any] = mapped_column(JSONB)
    # attribution
    session_id: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    team: Mapped[str | None] = mapped_column(Text)
    feature: Mapped[str | None] = mapped_column(Text)
    customer: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(Text)
    # raw
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    resource: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    events: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    dropped_counts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # bookkeeping
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        Index("ix_spans_project_start", "project_id", text("start_time DESC")),
        # Search and filters of the read API (migration 0003): trigram GIN led by the project
        # (btree_gin), and (project, value, trace) for the span attributes the trace list filters.
        *(
            Index(f"ix_spans_project_{c}_trgm", "project_id", c, postgresql_using="gin",
                  postgresql_ops={c: "gin_trgm_ops"})
            for c in ("input_text", "output_text")
        ),
        *(
            Index(f"ix_spans_project_{c}_trace", "project_id", c, "trace_id")
            for c in ("team", "feature", "customer", "provider")
        ),
        {"postgresql_with": ROOM_TO_UPDATE_IN_PLACE},
    )  # fmt: skip


class Trace(Base):
    """A trace's summary, maintained from newly inserted spans so the list never scans spans."""

    __tablename__ = "traces"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    root_span_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    span_count: Mapped[int] = mapped_column(Integer)
    llm_calls: Mapped[int] = mapped_column(Integer, server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cost: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    unpriced_calls: Mapped[int] = mapped_column(Integer, server_default="0")
    error_count: Mapped[int] = mapped_column(Integer, server_default="0")
    models: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    service: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    #: Every distinct value the trace's spans carry (migration 0011), so the trace list filters
    #: by a span-level attribute without joining into spans.
    teams: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    features: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    customers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    providers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")

    __table_args__ = (
        # Covering the Overview's trace statistics (migration 0011).
        Index("ix_traces_project_start", "project_id", text("start_time DESC"),
              postgresql_include=["end_time", "error_count"]),
        # Read API filters and sorts (migration 0003).
        Index("ix_traces_project_user_start", "project_id", "user_id", "start_time"),
        Index("ix_traces_project_session_start", "project_id", "session_id", "start_time"),
        Index("ix_traces_project_name_start", "project_id", "name", "start_time"),
        Index("ix_traces_project_cost", "project_id", "cost"),
        Index("ix_traces_project_errors_start", "project_id", "start_time",
              postgresql_where=text("error_count > 0")),
        Index("ix_traces_project_models_tags", "project_id", "models", "tags",
              postgresql_using="gin"),
        Index("ix_traces_project_name_trgm", "project_id", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
        # Span-level filters and the sort by duration (migration 0011).
        Index("ix_traces_project_attribution", "project_id", "teams", "features", "customers",
              "providers", postgresql_using="gin"),
        Index("ix_traces_project_duration", "project_id", text("(end_time - start_time)"),
              "trace_id"),
    )  # fmt: skip


class Score(Base):
    """A quality score from a scorer, a human annotation, end-user feedback or an evaluation."""

    __tablename__ = "scores"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Double)
    label: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    scorer_version: Mapped[str] = mapped_column(Text, server_default="")
    client_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_scores_project_trace", "project_id", "trace_id"),
        Index(
            "uq_scores_scorer",
            "project_id",
            "trace_id",
            "span_id",
            "name",
            "scorer_version",
            unique=True,
            postgresql_where=text("source = 'scorer'"),
        ),
        Index(
            "uq_scores_client",
            "project_id",
            "client_id",
            unique=True,
            postgresql_where=text("client_id IS NOT NULL"),
        ),
    )


class UsageCell:
    """The columns every usage rollup shares: its attribution dimensions (missing ones are
    stored as '') and its measures. Each table adds its time key (hour, day or month), which
    sorts right after the project so the primary key reads (project, time, dimensions…)."""

    __table_args__: ClassVar[dict[str, Any]] = {"postgresql_with": ROOM_TO_UPDATE_IN_PLACE}

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, sort_order=-2
    )
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    team: Mapped[str] = mapped_column(Text, primary_key=True)
    feature: Mapped[str] = mapped_column(Text, primary_key=True)
    customer: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    environment: Mapped[str] = mapped_column(Text, primary_key=True)
    service: Mapped[str] = mapped_column(Text, primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, server_default="0")
    errors: Mapped[int] = mapped_column(BigInteger, server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cost: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    unpriced_calls: Mapped[int] = mapped_column(BigInteger, server_default="0")
    latency_ms_sum: Mapped[float] = mapped_column(Double, server_default="0")
    #: Calls per latency bucket (``core.rollups.LATENCY_EDGES_MS``, log-spaced): p50/p95
    #: estimates without scanning spans (migration 0005).
    latency_hist: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")


class UsageHourly(UsageCell, Base):
    """Hourly usage per attribution dimension."""

    __tablename__ = "usage_hourly"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, sort_order=-1)


class PriceOverride(Base):
    """A project's own price for models matching ``model_pattern`` from ``effective_from``.

    Prices are USD per million tokens per usage bucket; ``None`` for a cache or reasoning
    bucket means "bill it at the input (or output) price". ``tiers`` holds long-context tiers:
    ``[{"above_input_tokens": N, "input": p, "output": p, ...}, ...]``.
    """

    __tablename__ = "price_overrides"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider: Mapped[str | None] = mapped_column(Text)
    model_pattern: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    input_per_mtok: Mapped[Decimal] = mapped_column(MONEY)
    output_per_mtok: Mapped[Decimal] = mapped_column(MONEY)
    cache_read_per_mtok: Mapped[Decimal | None] = mapped_column(MONEY)
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(MONEY)
    reasoning_per_mtok: Mapped[Decimal | None] = mapped_column(MONEY)
    tiers: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_price_overrides_project_effective", "project_id", "effective_from"),
    )


class PriceChange(Base):
    """The audit trail of every price override change: who, when, before and after."""

    __tablename__ = "price_changes"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    override_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    """A dashboard user; the password is stored as a salted scrypt hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A user's role in one project: admin, engineer, finance or viewer."""

    __tablename__ = "memberships"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))


class PendingLog(Base):
    """GenAI content log records that arrived before their span (OTLP logs and traces travel
    separately); folded into the span when it is stored, then deleted."""

    __tablename__ = "pending_logs"

    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    records: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (Index("ix_pending_logs_project_received", "project_id", "received_at"),)


__all__ = [
    "ApiKey",
    "Base",
    "CostSource",
    "Membership",
    "PendingLog",
    "PriceChange",
    "PriceOverride",
    "Project",
    "Score",
    "Span",
    "SpanKind",
    "SpanStatus",
    "Trace",
    "UsageCell",
    "UsageHourly",
    "UsageSource",
    "User",
]
