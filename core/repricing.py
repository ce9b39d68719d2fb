"""Re-pricing: recompute the computed cost of stored spans after a price change, with the
trace summaries and the hourly, daily and monthly rollups following exactly.

A job is a ``repricing_jobs`` row (project, range, optional model list). A worker claims it
with ``FOR UPDATE SKIP LOCKED`` for one *batch*: the next ``batch_size`` candidate spans after
the keyset cursor (start_time, trace_id, span_id) are read into a temporary table, priced
set-based with the project's current overrides and genai-prices (:mod:`core.price_plans`: the
prices :func:`core.pricing.cost_for` would apply, per model, time piece and tier, joined to
the spans and computed on ``numeric``, identical to the Decimal; the few spans it cannot
express are priced by ``cost_for`` itself), and the changed ones are written back by one
``UPDATE … RETURNING`` (by ctid, only if the row is still the version read; if another
writer got there first the batch is redone with its rows locked) whose old and new costs feed
one grouped ``INSERT … ON CONFLICT DO UPDATE`` per rollup table and one ``UPDATE`` of the
trace summaries (additive deltas); the cursor and counters advance — all in one transaction.
A killed worker loses only its uncommitted batch, and whoever claims the job next resumes
from the committed cursor.

Reported costs (``cost_source = 'reported'``, sent by the app) are never candidates, and
spans without usage stay unpriced, exactly as at ingest.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core import price_plans
from core.errors import InvalidInputError, NotFoundError
from core.models import CostSource, UsageHourly, UsageSource
from core.models_finance import RepricingJob, RepricingStatus, UsageDaily
from core.prices import load_overrides
from core.pricing import COST_QUANTUM, OverridePrice, TokenUsage, cost_for
from core.rollups import DIMENSIONS, TABLES, empty_hist, floor_day

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 10_000
MAX_BATCH = 100_000
_MODEL_SQL = "coalesce(nullif(response_model, ''), nullif(request_model, ''))"
_CANDIDATE_COLUMNS = (
    "start_time, trace_id, span_id, provider, " + _MODEL_SQL + " AS model, team, "
    "feature, customer, user_id, environment, service, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, usage_source, cost, cost_source, "
    "price_ref"
)
CANDIDATES_SQL = (
    "SELECT " + _CANDIDATE_COLUMNS + " FROM spans WHERE project_id = :project_id "
    "AND kind IN ('llm', 'embedding') "
    "AND cost_source <> 'reported' AND usage_source IS NOT NULL "
    "AND start_time >= :start AND (CAST(:end AS timestamptz) IS NULL OR start_time < :end) "
    "AND (CAST(:models AS text[]) IS NULL OR " + _MODEL_SQL + " = ANY(CAST(:models AS text[]))) "
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

#: The rollup cell's dimensions of a priced span ``t`` ('' for missing, as ingest keys it).
_CELL_SQL = ", ".join(f"coalesce(t.{d}, '') AS {d}" for d in DIMENSIONS)
_DIM_LIST = ", ".join(DIMENSIONS)
#: The next batch of candidates after the cursor, into a table of this transaction, with the
#: ctid of the row version read: the update finds each span by it, without the index.
_BATCH_SQL = (
    "CREATE TEMP TABLE repricing_batch ON COMMIT DROP AS SELECT ctid AS span_ctid, "
    + CANDIDATES_SQL.removeprefix("SELECT ")
    # The plain bound lets the (project, start_time) index start at the cursor; the row
    # comparison alone would scan the whole range before it every batch.
    + "AND start_time >= :c_time "
    "AND (start_time, trace_id, span_id) > (:c_time, :c_trace, :c_span) "
    "ORDER BY start_time, trace_id, span_id LIMIT :limit"
)
_PAIRS_SQL = (
    "SELECT coalesce(provider, '') AS provider, coalesce(model, '') AS model, "
    "min(start_time) AS first, max(start_time) AS last, count(*) AS n "
    "FROM repricing_batch GROUP BY 1, 2 ORDER BY 1, 2"
)
_LAST_SQL = (
    "SELECT start_time, trace_id, span_id FROM repricing_batch "
    "ORDER BY start_time DESC, trace_id DESC, span_id DESC LIMIT 1"
)
_RATED = f"{price_plans.RATES_SQL} ON {price_plans.JOIN_SQL} AND {price_plans.FITS_SQL}"
#: Every span of the batch with its new price: from its rate, or from Python (``py_``).
_PRICED_SQL = (
    f"SELECT x.*, {price_plans.rounded_sql('x.exact')} AS new_cost FROM ("
    f"SELECT b.*, {price_plans.EXACT_SQL} AS exact, r.ref AS new_ref "
    f"FROM repricing_batch b JOIN {_RATED}) x "
    "UNION ALL SELECT b.*, NULL, p.ref, p.cost FROM repricing_batch b JOIN unnest("
    "CAST(:py_trace_ids AS text[]), CAST(:py_span_ids AS text[]), CAST(:py_costs AS numeric[]), "
    "CAST(:py_refs AS text[])) AS p(trace_id, span_id, cost, ref) "
    "ON b.trace_id = p.trace_id AND b.span_id = p.span_id"
)
#: The spans whose price changed, rewritten; what changed kept for the rollups and traces.
#: A span is only rewritten if the version read is still current (same ctid and key), so one
#: changed since by another transaction is left out, and ``repricing_todo`` tells.
_UPDATE_SQL = (
    "CREATE TEMP TABLE repricing_changed ON COMMIT DROP AS "
    "WITH priced AS (SELECT q.*, CASE WHEN q.new_cost IS NULL THEN 'unknown' "
    "WHEN q.usage_source = 'estimated' THEN 'estimated' ELSE 'computed' END AS new_source "
    "FROM (" + _PRICED_SQL + ") q), "
    "todo AS MATERIALIZED (SELECT * FROM priced p WHERE (p.cost, p.cost_source, p.price_ref) "
    "IS DISTINCT FROM (p.new_cost, p.new_source, p.new_ref)), "
    "counted AS (INSERT INTO repricing_todo SELECT count(*) FROM todo), "
    "changed AS (UPDATE spans AS s SET cost = t.new_cost, price_ref = t.new_ref, "
    "cost_source = t.new_source FROM todo t WHERE s.ctid = t.span_ctid "
    "AND s.project_id = :project_id AND s.trace_id = t.trace_id AND s.span_id = t.span_id "
    "RETURNING t.start_time, t.trace_id, " + _CELL_SQL + ", t.cost AS old_cost, t.new_cost) "
    "SELECT * FROM changed"
)
_MISSED_SQL = (
    "SELECT (SELECT n FROM repricing_todo) - (SELECT count(*) FROM repricing_changed) AS missed"
)
_TEMP_TABLES = "pg_temp.repricing_batch, pg_temp.repricing_changed, pg_temp.repricing_todo"


def _rollup_sql(grain: str, table: str) -> str:
    """The batch's cost deltas per cell of ``grain``, added in key order (the lock order)."""
    key = f"date_trunc('{grain}', start_time, 'UTC')"
    return (
        f"INSERT INTO {table} AS t (project_id, {grain}, {_DIM_LIST}, cost, unpriced_calls, "
        f"latency_hist) SELECT :project_id, {key}, {_DIM_LIST}, "
        "sum(coalesce(new_cost, 0) - coalesce(old_cost, 0)), "
        "sum((new_cost IS NULL)::int - (old_cost IS NULL)::int), CAST(:hist AS bigint[]) "
        f"FROM repricing_changed GROUP BY {key}, {_DIM_LIST} "
        "HAVING sum(coalesce(new_cost, 0) - coalesce(old_cost, 0)) <> 0 "
        "OR sum((new_cost IS NULL)::int - (old_cost IS NULL)::int) <> 0 "
        f"ORDER BY {key}, {_DIM_LIST} "
        f"ON CONFLICT (project_id, {grain}, {_DIM_LIST}) DO UPDATE SET "
        "cost = t.cost + excluded.cost, unpriced_calls = t.unpriced_calls + excluded.unpriced_calls"
    )


_TRACES_SQL = (
    "UPDATE traces AS t SET cost = t.cost + d.cost, unpriced_calls = t.unpriced_calls + d.u "
    "FROM (SELECT trace_id, sum(coalesce(new_cost, 0) - coalesce(old_cost, 0)) AS cost, "
    "sum((new_cost IS NULL)::int - (old_cost IS NULL)::int) AS u FROM repricing_changed "
    "GROUP BY trace_id) AS d "
    "WHERE t.project_id = :project_id AND t.trace_id = d.trace_id AND (d.cost <> 0 OR d.u <> 0)"
)
_TOTALS_SQL = (
    "SELECT count(*) AS n, coalesce(sum(old_cost), 0) AS before, "
    "coalesce(sum(new_cost), 0) AS after FROM repricing_changed"
)


@dataclass(frozen=True, slots=True)
class _Outcome:
    scanned: int
    repriced: int
    before: Decimal
    after: Decimal


def _python_prices(session: Session, plan: price_plans.Plan, overrides: Sequence[OverridePrice]
                   ) -> dict[str, list[Any]]:  # fmt: skip
    """``cost_for`` for the batch's spans SQL cannot price exactly (usually none)."""
    condition, params = price_plans.needs_python_sql(plan)
    out: dict[str, list[Any]] = {"py_trace_ids": [], "py_span_ids": [], "py_costs": [],
                                 "py_refs": []}  # fmt: skip
    rows = session.execute(text(f"SELECT * FROM repricing_batch b WHERE {condition}"), params)
    for row in rows:
        new = price_span(row, overrides)
        out["py_trace_ids"].append(row.trace_id)
        out["py_span_ids"].append(row.span_id)
        out["py_costs"].append(new.cost)
        out["py_refs"].append(new.ref)
    return out


#: Planner settings of a batch. Its read must walk the (project, start_time) index from the
#: cursor and stop after ``batch_size`` candidates: the planner, misjudging how few spans a
#: model filter keeps, otherwise reads and sorts every span after the cursor (seq or bitmap
#: scan) in every batch. Its spans are then found by their ctid, never by a scan of the whole
#: project. And the penalty that forbids those scans would make every statement look costly
#: enough to JIT-compile (seconds of compiling for a fraction of a second of work).
_BATCH_SETTINGS = {"enable_seqscan": "off", "enable_bitmapscan": "off",
                   "enable_mergejoin": "off", "max_parallel_workers_per_gather": "0",
                   "jit": "off", "work_mem": "'64MB'"}  # fmt: skip


def _reprice_batch(session: Session, job: RepricingJob, batch_size: int) -> tuple[_Outcome, Any]:
    """Price the next batch set-based and apply the differences; the outcome and the batch's
    last key (None when it was empty).

    Spans are read without a lock (locking every row would write each heap page twice) and
    rewritten only if unchanged since; if another transaction changed one meanwhile, the
    batch is undone to a savepoint and done again with the rows locked.
    """
    params = _scope(job) | {
        "c_time": job.cursor_start_time or _EPOCH, "c_trace": job.cursor_trace_id or "",
        "c_span": job.cursor_span_id or "", "limit": batch_size,
    }  # fmt: skip
    for name, value in _BATCH_SETTINGS.items():
        session.execute(text(f"SET LOCAL {name} = {value}"))
    savepoint = session.begin_nested()
    done = _apply_batch(session, job, params, _BATCH_SQL)
    if done is None:
        savepoint.rollback()
        done = _apply_batch(session, job, params, _BATCH_SQL + " FOR UPDATE")
        if done is None:  # cannot happen: locked rows do not change
            raise RuntimeError("a locked span changed during re-pricing")
    else:
        savepoint.commit()
    for name in _BATCH_SETTINGS:
        session.execute(text(f"RESET {name}"))
    return done


def _apply_batch(
    session: Session, job: RepricingJob, params: dict[str, Any], batch_sql: str
) -> tuple[_Outcome, Any] | None:
    """One try at a batch; None (and nothing applied) if a span changed under it."""
    session.execute(text(f"DROP TABLE IF EXISTS {_TEMP_TABLES}"))
    session.execute(text("CREATE TEMP TABLE repricing_todo (n bigint) ON COMMIT DROP"))
    session.execute(text(batch_sql), params)
    pairs = [price_plans.Pair(r.provider, r.model, r.first, r.last)
             for r in session.execute(text(_PAIRS_SQL))]  # fmt: skip
    overrides = load_overrides(session, job.project_id)
    plan = price_plans.plan(pairs, overrides)
    prices = price_plans.rate_params(plan.rates) | _python_prices(session, plan, overrides)
    session.execute(text(_UPDATE_SQL), prices | {"project_id": job.project_id})
    if session.execute(text(_MISSED_SQL)).scalar_one():
        return None
    deltas = {"project_id": job.project_id, "hist": empty_hist()}
    for grain, table in TABLES.items():  # hour, day, month: the lock order of ingest
        session.execute(text(_rollup_sql(grain, table.name)), deltas)
    session.execute(text(_TRACES_SQL), {"project_id": job.project_id})
    totals = session.execute(text(_TOTALS_SQL)).one()
    scanned = session.execute(text("SELECT count(*) FROM repricing_batch")).scalar_one()
    last = session.execute(text(_LAST_SQL)).first()
    session.execute(text(f"DROP TABLE {_TEMP_TABLES}"))
    return _Outcome(scanned, totals.n, totals.before, totals.after), last


def _scope(job: RepricingJob) -> dict[str, Any]:
    return {"project_id": job.project_id, "start": job.range_start, "end": job.range_end,
            "models": job.models}  # fmt: skip


def run_batch(session: Session, job: RepricingJob, batch_size: int = DEFAULT_BATCH) -> bool:
    """Re-price the next batch of a locked job; True when the job is finished."""
    now = datetime.now(UTC)
    if job.status == RepricingStatus.QUEUED.value:
        job.status, job.started_at = RepricingStatus.RUNNING.value, now
    outcome, last = _reprice_batch(session, job, batch_size)
    if last is not None:
        job.cursor_start_time, job.cursor_trace_id, job.cursor_span_id = last
    job.spans_scanned += outcome.scanned
    job.spans_repriced += outcome.repriced
    job.cost_before += outcome.before
    job.cost_after += outcome.after
    job.batches += 1
    job.heartbeat_at = now
    finished = outcome.scanned < batch_size
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
