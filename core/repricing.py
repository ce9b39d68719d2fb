"""Re-pricing: recompute the computed cost of stored spans after a price change, with the
trace summaries and the hourly/daily rollups following exactly.

A job is a ``repricing_jobs`` row (project, range, optional model list). A worker claims it
with ``FOR UPDATE SKIP LOCKED`` for one *batch*: the next ``batch_size`` candidate spans after
the keyset cursor (start_time, trace_id, span_id) are locked, re-priced with the project's
current overrides and genai-prices (:func:`core.pricing.cost_for`, the function ingest uses),
and the changed ones are written back with one set-based ``UPDATE … FROM unnest(…)``; the
rollups and trace summaries get the cost difference as additive deltas; the cursor and
counters advance — all in one transaction. A killed worker loses only its uncommitted batch,
and whoever claims the job next resumes from the committed cursor.

Reported costs (``cost_source = 'reported'``, sent by the app) are never candidates, and
spans without usage stay unpriced, exactly as at ingest.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.errors import InvalidInputError, NotFoundError
from core.models import CostSource, UsageHourly, UsageSource
from core.models_finance import RepricingJob, RepricingStatus, UsageDaily
from core.prices import load_overrides
from core.pricing import COST_QUANTUM, OverridePrice, TokenUsage, cost_for
from core.rollups import DIMENSIONS, add_hourly_with_daily, empty_hist, floor_day
from core.timeutil import floor_hour

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 10_000
MAX_BATCH = 100_000
#: The span columns a batch reads: key, rollup cell, usage and money.
_COLUMNS = ("start_time", "trace_id", "span_id", "provider", "model", "team", "feature",
            "customer", "user_id", "environment", "service", "input_tokens", "output_tokens",
            "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "usage_source",
            "cost", "cost_source", "price_ref")  # fmt: skip
_MODEL_SQL = "coalesce(nullif(response_model, ''), nullif(request_model, ''))"
CANDIDATES_SQL = (
    "SELECT start_time, trace_id, span_id, provider, " + _MODEL_SQL + " AS model, team, "
    "feature, customer, user_id, environment, service, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, usage_source, cost, cost_source, "
    "price_ref FROM spans WHERE project_id = :project_id AND kind IN ('llm', 'embedding') "
    "AND cost_source <> 'reported' AND usage_source IS NOT NULL "
    "AND start_time >= :start AND (CAST(:end AS timestamptz) IS NULL OR start_time < :end) "
    "AND (CAST(:models AS text[]) IS NULL OR " + _MODEL_SQL + " = ANY(CAST(:models AS text[]))) "
)
_BATCH_SQL = (
    CANDIDATES_SQL
    # The plain bound lets the (project, start_time) index start at the cursor; the row
    # comparison alone would scan the whole range before it every batch.
    + "AND start_time >= :c_time "
    "AND (start_time, trace_id, span_id) > (:c_time, :c_trace, :c_span) "
    "ORDER BY start_time, trace_id, span_id LIMIT :limit FOR UPDATE"
)
_UPDATE_SQL = (
    "UPDATE spans AS s SET cost = v.cost, price_ref = v.price_ref, cost_source = v.cost_source "
    "FROM unnest(CAST(:trace_ids AS text[]), CAST(:span_ids AS text[]), "
    "CAST(:costs AS numeric[]), CAST(:refs AS text[]), CAST(:sources AS text[])) "
    "AS v(trace_id, span_id, cost, price_ref, cost_source) "
    "WHERE s.project_id = :project_id AND s.trace_id = v.trace_id AND s.span_id = v.span_id"
)
_TRACES_SQL = (
    "UPDATE traces AS t SET cost = t.cost + v.cost, unpriced_calls = t.unpriced_calls + v.u "
    "FROM unnest(CAST(:trace_ids AS text[]), CAST(:costs AS numeric[]), CAST(:u AS int[])) "
    "AS v(trace_id, cost, u) WHERE t.project_id = :project_id AND t.trace_id = v.trace_id"
)
#: The beginning of time for a cursor that has not moved yet.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Repriced:
    """A span's price under the current prices: cost, where it came from, which price."""

    cost: Decimal | None
    source: str
    ref: str | None


def price_span(row: Any, overrides: Sequence[OverridePrice]) -> Repriced:
    """What ingest would bill this (non-reported, usage-bearing) span with today's prices."""
    usage = TokenUsage(
        input_tokens=row.input_tokens or 0,
        output_tokens=row.output_tokens or 0,
        cache_read_tokens=row.cache_read_tokens or 0,
        cache_write_tokens=row.cache_write_tokens or 0,
        reasoning_tokens=row.reasoning_tokens or 0,
    )
    price = cost_for(row.provider, row.model, usage, row.start_time, overrides)
    if price.cost is None:
        return Repriced(None, CostSource.UNKNOWN.value, price.ref)
    estimated = row.usage_source == UsageSource.ESTIMATED.value
    source = CostSource.ESTIMATED if estimated else CostSource.COMPUTED
    return Repriced(price.cost.quantize(COST_QUANTUM), source.value, price.ref)


# --- jobs ------------------------------------------------------------------------------------


def models_matching(
    session: Session, project_id: int, patterns: Iterable[tuple[str, str | None]], since: datetime
) -> list[str]:
    """Model names seen in the daily rollups since ``since`` that a (glob, provider) matches."""
    query = (
        select(UsageDaily.provider, UsageDaily.model)
        .where(UsageDaily.project_id == project_id, UsageDaily.day >= floor_day(since))
        .distinct()
    )
    wanted = list(patterns)
    found = set()
    for provider, model in session.execute(query):
        for pattern, only_provider in wanted:
            if only_provider is not None and only_provider.lower() != provider.lower():
                continue
            if model and fnmatch.fnmatchcase(model.lower(), pattern.lower()):
                found.add(model)
    return sorted(found)


def create_job(
    session: Session,
    project_id: int,
    *,
    start: datetime,
    end: datetime | None = None,
    models: Sequence[str] | None = None,
    reason: str = "",
    actor: str = "",
) -> RepricingJob:
    """Queue a re-pricing of ``[start, end)`` (``end`` None: up to the newest span)."""
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise InvalidInputError("start and end need a time zone")
    if end is not None and end <= start:
        raise InvalidInputError("end must be after start")
    job = RepricingJob(
        project_id=project_id,
        range_start=start,
        range_end=end,
        models=None if models is None else sorted(set(models)),
        reason=reason[:500],
        created_by=actor,
    )
    session.add(job)
    session.flush()
    session.refresh(job)
    return job


def job_for_override_change(
    session: Session,
    project_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str,
) -> RepricingJob:
    """The job an override's creation, change or deletion calls for: from the earliest
    effective date involved, for the models either version matches."""
    versions = [v for v in (before, after) if v is not None]
    start = min(_as_time(v["effective_from"]) for v in versions)
    patterns = [(v["model_pattern"], v.get("provider")) for v in versions]
    models = models_matching(session, project_id, patterns, start)
    action = "created" if before is None else "deleted" if after is None else "changed"
    override_id = versions[0]["id"]
    return create_job(
        session, project_id, start=start, models=models, actor=actor,
        reason=f"price override {override_id} {action}",
    )  # fmt: skip


def _as_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def get_job(session: Session, project_id: int, job_id: int) -> RepricingJob:
    job = session.get(RepricingJob, (project_id, job_id))
    if job is None:
        raise NotFoundError(f"no re-pricing job {job_id}")
    return job


def list_jobs(session: Session, project_id: int, limit: int = 50) -> list[RepricingJob]:
    query = (
        select(RepricingJob)
        .where(RepricingJob.project_id == project_id)
        .order_by(RepricingJob.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def claim_job(session: Session, job_id: tuple[int, int] | None = None) -> RepricingJob | None:
    """Lock the oldest open job no other worker holds (or the given one); None if none."""
    query = select(RepricingJob).where(
        RepricingJob.status.in_((RepricingStatus.QUEUED.value, RepricingStatus.RUNNING.value))
    )
    if job_id is not None:
        query = query.where(RepricingJob.project_id == job_id[0], RepricingJob.id == job_id[1])
    query = query.order_by(RepricingJob.created_at, RepricingJob.id).limit(1)
    return session.scalars(query.with_for_update(skip_locked=True)).first()


# --- batches ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Changes:
    trace_ids: list[str] = field(default_factory=list)
    span_ids: list[str] = field(default_factory=list)
    costs: list[Decimal | None] = field(default_factory=list)
    refs: list[str | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)
    cells: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    traces: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, row: Any, new: Repriced) -> None:
        self.trace_ids.append(row.trace_id)
        self.span_ids.append(row.span_id)
        self.costs.append(new.cost)
        self.refs.append(new.ref)
        self.sources.append(new.source)
        old_cost, new_cost = row.cost or Decimal(0), new.cost or Decimal(0)
        self.before += old_cost
        self.after += new_cost
        unpriced = int(new.cost is None) - int(row.cost is None)
        key = (floor_hour(row.start_time.astimezone(UTC)),
               *((getattr(row, d) or "") for d in DIMENSIONS))  # fmt: skip
        cell = self.cells.setdefault(key, [Decimal(0), 0])
        cell[0] += new_cost - old_cost
        cell[1] += unpriced
        trace = self.traces.setdefault(row.trace_id, [Decimal(0), 0])
        trace[0] += new_cost - old_cost
        trace[1] += unpriced

    def rollup_deltas(self, project_id: int) -> list[dict[str, Any]]:
        rows = []
        for key in sorted(self.cells):
            cost, unpriced = self.cells[key]
            row: dict[str, Any] = {"project_id": project_id, "hour": key[0],
                                   **dict(zip(DIMENSIONS, key[1:], strict=True))}  # fmt: skip
            row.update({m: 0 for m in ("calls", "errors", "input_tokens", "output_tokens",
                                       "cache_read_tokens", "cache_write_tokens",
                                       "reasoning_tokens", "latency_ms_sum")})  # fmt: skip
            row.update(cost=cost, unpriced_calls=unpriced, latency_hist=empty_hist())
            rows.append(row)
        return rows


def _apply(session: Session, project_id: int, changes: _Changes) -> None:
    if not changes.trace_ids:
        return
    session.execute(
        text(_UPDATE_SQL),
        {"project_id": project_id, "trace_ids": changes.trace_ids,
         "span_ids": changes.span_ids, "costs": changes.costs, "refs": changes.refs,
         "sources": changes.sources},
    )  # fmt: skip
    add_hourly_with_daily(session, changes.rollup_deltas(project_id))
    trace_ids = sorted(changes.traces)
    session.execute(
        text(_TRACES_SQL),
        {"project_id": project_id, "trace_ids": trace_ids,
         "costs": [changes.traces[t][0] for t in trace_ids],
         "u": [changes.traces[t][1] for t in trace_ids]},
    )  # fmt: skip


def _scope(job: RepricingJob) -> dict[str, Any]:
    return {"project_id": job.project_id, "start": job.range_start, "end": job.range_end,
            "models": job.models}  # fmt: skip


def run_batch(session: Session, job: RepricingJob, batch_size: int = DEFAULT_BATCH) -> bool:
    """Re-price the next batch of a locked job; True when the job is finished."""
    now = datetime.now(UTC)
    if job.status == RepricingStatus.QUEUED.value:
        job.status, job.started_at = RepricingStatus.RUNNING.value, now
    overrides = load_overrides(session, job.project_id)
    params = _scope(job) | {
        "c_time": job.cursor_start_time or _EPOCH, "c_trace": job.cursor_trace_id or "",
        "c_span": job.cursor_span_id or "", "limit": batch_size,
    }  # fmt: skip
    # The batch's keys join the spans and traces primary keys: a nested loop over the index,
    # never a hash join that would scan the whole project for ten thousand rows.
    session.execute(text("SET LOCAL enable_hashjoin = off"))
    session.execute(text("SET LOCAL enable_mergejoin = off"))
    rows = session.execute(text(_BATCH_SQL), params).all()
    changes = _Changes()
    for row in rows:
        new = price_span(row, overrides)
        if (new.cost, new.source, new.ref) != (row.cost, row.cost_source, row.price_ref):
            changes.add(row, new)
    _apply(session, job.project_id, changes)
    if rows:
        last = rows[-1]
        job.cursor_start_time, job.cursor_trace_id, job.cursor_span_id = (
            last.start_time,
            last.trace_id,
            last.span_id,
        )
    job.spans_scanned += len(rows)
    job.spans_repriced += len(changes.trace_ids)
    job.cost_before += changes.before
    job.cost_after += changes.after
    job.batches += 1
    job.heartbeat_at = now
    finished = len(rows) < batch_size
    if finished:
        job.status, job.finished_at = RepricingStatus.DONE.value, now
    session.flush()
    return finished


def run_jobs(
    factory: sessionmaker[Session],
    *,
    batch_size: int = DEFAULT_BATCH,
    budget_s: float = 50.0,
    job_id: tuple[int, int] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Claim and run batches of open jobs until none is left or ``budget_s`` is spent.

    Each batch is its own transaction; a failing batch marks its job failed (with the error)
    and the others carry on. Returns the number of batches run.
    """
    deadline, batches = clock() + budget_s, 0
    while clock() < deadline:
        key: tuple[int, int] | None = None
        try:
            with factory.begin() as session:
                session.execute(text("SET LOCAL statement_timeout = '120s'"))
                job = claim_job(session, job_id)
                if job is None:
                    return batches
                key = (job.project_id, job.id)
                run_batch(session, job, batch_size)
            batches += 1
        except sa_exc.OperationalError:
            raise  # the database is away: the batch is retried from the cursor next time
        except Exception as exc:
            if key is None:
                raise
            logger.exception("re-pricing job %s of project %s failed", key[1], key[0])
            _fail(factory, key, exc)
    return batches


def _fail(factory: sessionmaker[Session], key: tuple[int, int], exc: Exception) -> None:
    with factory.begin() as session:
        job = session.get(RepricingJob, key)
        if job is not None:
            job.status, job.finished_at = RepricingStatus.FAILED.value, datetime.now(UTC)
            job.error = type(exc).__name__


def rollup_cost(session: Session, project_id: int) -> tuple[Decimal, Decimal]:
    """The project's total cost in the hourly and in the daily rollups (a quick self-check)."""
    hourly = session.scalar(
        select(func.coalesce(func.sum(UsageHourly.cost), 0)).where(
            UsageHourly.project_id == project_id
        )
    )
    daily = session.scalar(
        select(func.coalesce(func.sum(UsageDaily.cost), 0)).where(
            UsageDaily.project_id == project_id
        )
    )
    return Decimal(hourly or 0), Decimal(daily or 0)


__all__ = [
    "CANDIDATES_SQL",
    "Repriced",
    "claim_job",
    "create_job",
    "get_job",
    "job_for_override_change",
    "list_jobs",
    "models_matching",
    "price_span",
    "rollup_cost",
    "run_batch",
    "run_jobs",
]
