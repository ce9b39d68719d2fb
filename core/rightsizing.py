"""Right-sizing: per task, the models in use and the cheapest one that is good enough.

A *task* is what a group of LLM calls is for, defined per project (``rightsizing_settings``):
the feature tag, the span name (the LLM call's parent span, since LLM spans are usually named
after their model) or the prompt name and version. Calls of one task are compared only with
each other.

For each task and model (provider + requested model) over a window: calls, errors, p50/p95
latency, observed cost per call, the 30-day run-rate, and quality — the mean and 95 % interval
of the chosen scores, joined to the call by (project, trace, span); a score on the call's
parent span (feedback given where the app's function ran) or without a span (trace-level
feedback) counts for the call too.

The **current** model is the one with the most calls (ties: the more expensive). A cheaper
model is **recommended** when both have at least ``min_samples`` scored calls and a one-sided
non-inferiority test (``core.rightsizing_stats``, α = 0.05) shows its quality is at most
``margin`` below the current's; of several, the cheapest. Savings:

    monthly_calls   = current calls in the window × 30 / window days
    monthly_savings = (current cost/call − candidate cost/call) × monthly_calls

The current cost per call is observed (what the calls cost). The candidate's is *computed*:
the current model's recent calls (their token buckets) priced at the candidate's prices
(project overrides first, then genai-prices) — the same work on the other model — or, when
the candidate has no known price, *observed* from its own calls. ``cost_basis`` says which.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from core.errors import InvalidInputError
from core.models import Score, Span, SpanKind
from core.prices import load_overrides
from core.pricing import TokenUsage, cost_for
from core.rightsizing_config import TASK_KINDS, rightsizing_settings
from core.rightsizing_stats import Interval, NonInferiority, Sample, confidence_interval
from core.rightsizing_stats import non_inferiority as ni_test

MONTH_DAYS = 30
CENT = Decimal("0.01")
#: Calls of the current model priced at a candidate's prices (the most recent ones).
MIX_SAMPLE = 5_000
EXAMPLES = 3
#: Sources in the order a default quality signal is preferred: people before heuristics.
SOURCE_RANK = {"human": 0, "feedback": 1, "judge": 2, "evaluation": 3}


@dataclass(frozen=True, slots=True)
class Quality:
    score_names: tuple[str, ...]
    sample: Sample
    interval: Interval | None


@dataclass(slots=True)
class ModelStats:
    """One model on one task over the window."""

    provider: str
    model: str
    response_models: list[str]
    calls: int
    errors: int
    priced_calls: int
    cost_total: Decimal
    p50_ms: float
    p95_ms: float
    window_days: int
    quality: Quality | None = None
    example_traces: list[str] = field(default_factory=list)

    @property
    def cost_per_call(self) -> Decimal | None:
        return self.cost_total / self.priced_calls if self.priced_calls else None

    @property
    def monthly_calls(self) -> Decimal:
        return Decimal(self.calls) * MONTH_DAYS / self.window_days

    @property
    def monthly_cost(self) -> Decimal | None:
        cpc = self.cost_per_call
        return None if cpc is None else cpc * self.monthly_calls

    @property
    def scored(self) -> int:
        return self.quality.sample.n if self.quality else 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """How one cheaper-looking model fared against the current one."""

    provider: str
    model: str
    verdict: str  # recommended | non_inferior | inferior | too_few | not_cheaper | no_price
    reason: str
    cost_per_call: Decimal | None
    cost_basis: str | None  # computed | observed
    monthly_savings: Decimal | None
    test: NonInferiority | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    current: str | None
    recommended: str | None
    monthly_savings: Decimal | None
    reason: str
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskReport:
    kind: str
    task: str
    score_names: tuple[str, ...]
    models: list[ModelStats]
    recommendation: Recommendation


@dataclass(frozen=True, slots=True)
class Options:
    """What the caller may set; None takes the project's setting (or its default)."""

    margin: float | None = None
    score_names: tuple[str, ...] = ()
    window_days: int = MONTH_DAYS
    task_kind: str | None = None
    task: str | None = None
    min_samples: int | None = None


def task_expression(kind: str) -> tuple[ColumnElement[Any], Any | None]:
    """The SQL expression naming a span's task, and the parent-span alias it needs."""
    if kind == "feature":
        return Span.feature.expression, None
    if kind == "span_name":
        parent = aliased(Span)
        return func.coalesce(parent.name, Span.name), parent
    if kind == "prompt":
        name = Span.details["prompt"]["name"].astext
        version = Span.details["prompt"]["version"].astext
        label = name + literal("@") + func.coalesce(version, literal("latest"))
        return case((name.is_not(None), label), else_=None), None
    raise InvalidInputError(f"task kind must be one of {', '.join(TASK_KINDS)}")


def task_spans(
    project_id: int, kind: str, start: datetime, end: datetime, task: str | None = None
) -> Select[Any]:
    """LLM calls of the project in [start, end) with their task, model and measures."""
    task_col, parent = task_expression(kind)
    model = func.coalesce(Span.request_model, Span.response_model)
    query = select(
        task_col.label("task"), func.coalesce(Span.provider, "").label("provider"),
        model.label("model"), Span.response_model, Span.trace_id, Span.span_id,
        Span.parent_span_id, Span.duration_ms, Span.cost, Span.status, Span.start_time,
    ).where(
        Span.project_id == project_id, Span.kind == SpanKind.LLM.value,
        Span.start_time >= start, Span.start_time < end, task_col.is_not(None),
        model.is_not(None),
    )  # fmt: skip
    if parent is not None:
        query = query.outerjoin(parent, and_(
            parent.project_id == Span.project_id, parent.trace_id == Span.trace_id,
            parent.span_id == Span.parent_span_id))  # fmt: skip
    if task is not None:
        query = query.where(task_col == task)
    return query


def _score_join(calls: Any, project_id: int) -> ColumnElement[bool]:
    return and_(
        Score.project_id == project_id,
        Score.trace_id == calls.c.trace_id,
        or_(
            Score.span_id == calls.c.span_id,
            Score.span_id.is_(None),
            Score.span_id == calls.c.parent_span_id,
        ),
        Score.value.is_not(None),
    )


def _model_rows(session: Session, calls: Any) -> list[Any]:
    c = calls.c
    query = select(
        c.task, c.provider, c.model, func.count().label("calls"),
        func.count().filter(c.status == "error").label("errors"),
        func.count(c.cost).label("priced"), func.coalesce(func.sum(c.cost), 0).label("cost"),
        func.percentile_cont(0.5).within_group(c.duration_ms).label("p50"),
        func.percentile_cont(0.95).within_group(c.duration_ms).label("p95"),
        func.array_agg(func.distinct(c.response_model)).label("response_models"),
    ).group_by(c.task, c.provider, c.model)  # fmt: skip
    return list(session.execute(query))


def _default_score_names(session: Session, calls: Any, project_id: int) -> dict[str, str]:
    """Per task, the score name most calls carry, people's scores preferred over heuristics."""
    rank = case(
        *((Score.source == source, literal(value)) for source, value in SOURCE_RANK.items()),
        else_=literal(9),
    )
    query = (
        select(calls.c.task, Score.name, func.min(rank).label("rank"), func.count().label("n"))
        .join(Score, _score_join(calls, project_id))
        .group_by(calls.c.task, Score.name)
    )
    best: dict[str, tuple[Any, ...]] = {}
    for row in session.execute(query):
        key = (row.rank, -row.n, row.name)
        if row.task not in best or key < best[row.task][0]:
            best[row.task] = (key, row.name)
    return {task: str(choice[1]) for task, choice in best.items()}


def _quality_rows(
    session: Session, calls: Any, project_id: int, names: dict[str, tuple[str, ...]]
) -> list[Any]:
    pairs = [(task, name) for task, task_names in names.items() for name in task_names]
    if not pairs:
        return []
    c = calls.c
    per_call = (
        select(c.task, c.provider, c.model, c.trace_id, c.start_time,
               func.avg(Score.value).label("v"))
        .join(Score, _score_join(calls, project_id))
        .where(tuple_(c.task, Score.name).in_(pairs))
        .group_by(c.task, c.provider, c.model, c.trace_id, c.span_id, c.start_time)
        .subquery()
    )  # fmt: skip
    p = per_call.c
    query = select(
        p.task, p.provider, p.model, func.count().label("n"), func.avg(p.v).label("mean"),
        func.coalesce(func.var_samp(p.v), 0).label("var"),
        func.bool_and(p.v.in_([0.0, 1.0])).label("binary"),
        func.array_agg(aggregate_order_by(p.trace_id, p.start_time.desc())).label("traces"),
    ).group_by(p.task, p.provider, p.model)  # fmt: skip
    return list(session.execute(query))


def _window(options: Options, now: datetime | None) -> tuple[datetime, datetime]:
    if not 1 <= options.window_days <= 365:
        raise InvalidInputError("window_days must be between 1 and 365")
    end = now or datetime.now(UTC)
    return end - timedelta(days=options.window_days), end


def task_reports(
    session: Session, project_id: int, options: Options = Options(), now: datetime | None = None
) -> list[TaskReport]:
    """Every task of the project with its models and recommendation: tasks with a saving
    first (largest first), then the costliest."""
    settings = rightsizing_settings(session, project_id)
    kind = options.task_kind or settings.task_key
    margin = options.margin if options.margin is not None else settings.margin
    min_samples = options.min_samples or settings.min_samples
    if not 0 < margin <= 1:
        raise InvalidInputError("margin must be above 0 and at most 1")
    start, end = _window(options, now)
    calls = task_spans(project_id, kind, start, end, options.task).subquery("calls")
    groups: dict[str, list[ModelStats]] = defaultdict(list)
    for row in _model_rows(session, calls):
        groups[row.task].append(ModelStats(
            provider=row.provider, model=row.model,
            response_models=sorted(m for m in row.response_models if m), calls=row.calls,
            errors=row.errors, priced_calls=row.priced, cost_total=Decimal(row.cost),
            p50_ms=float(row.p50 or 0.0), p95_ms=float(row.p95 or 0.0),
            window_days=options.window_days,
        ))  # fmt: skip
    explicit = tuple(options.score_names) or tuple(settings.score_names)
    if explicit:
        names = {task: explicit for task in groups}
    else:
        names = {t: (n,) for t, n in _default_score_names(session, calls, project_id).items()}
    for row in _quality_rows(session, calls, project_id, names):
        for stats in groups[row.task]:
            if (stats.provider, stats.model) == (row.provider, row.model):
                sample = Sample(row.n, float(row.mean), float(row.var), bool(row.binary))
                stats.quality = Quality(names[row.task], sample, confidence_interval(sample))
                stats.example_traces = list(dict.fromkeys(row.traces))[:EXAMPLES]
    reports = []
    for task, models in groups.items():
        models.sort(key=lambda m: (-m.calls, -(m.cost_per_call or 0), m.model))
        rec = recommend(session, project_id, calls, task, models, margin, min_samples, end)
        reports.append(TaskReport(kind, task, names.get(task, ()), models, rec))
    # Tasks with a recommendation first (largest saving first), then the costliest.
    reports.sort(key=lambda r: (-(r.recommendation.monthly_savings or -1),
                                -sum(m.monthly_cost or 0 for m in r.models), r.task))  # fmt: skip
    return reports


def _current(models: Sequence[ModelStats]) -> ModelStats:
    return max(models, key=lambda m: (m.calls, m.cost_per_call or 0))


def recommend(
    session: Session, project_id: int, calls: Any, task: str, models: Sequence[ModelStats],
    margin: float, min_samples: int, at: datetime,
) -> Recommendation:  # fmt: skip
    """The cheapest model non-inferior to the current one, or a plain reason why none is."""
    current = _current(models)
    if len(models) < 2:
        return Recommendation(current.model, None, None,
                              f"Only {current.model} serves this task; nothing to compare it "
                              "with (a replay can try another model).")  # fmt: skip
    current_cpc = current.cost_per_call
    if current_cpc is None:
        return Recommendation(
            current.model, None, None, f"No recommendation: {current.model} has no known price."
        )
    mix = _token_mix(session, project_id, calls, task, current)
    overrides = load_overrides(session, project_id)
    candidates = [
        _judge_candidate(current, other, mix, overrides, margin, min_samples, at)
        for other in models
        if other is not current
    ]
    winners = [c for c in candidates if c.verdict == "non_inferior"]
    if winners:
        best = min(winners, key=lambda c: (c.cost_per_call or 0, c.model))
        best = _replace_verdict(best, "recommended")
        candidates = [best if c.model == best.model and c.provider == best.provider else c
                      for c in candidates]  # fmt: skip
        reason = (
            f"Switch from {current.model} to {best.model}: quality is non-inferior within "
            f"{margin:g} and it saves ${best.monthly_savings:,.2f} a month."
        )
        return Recommendation(current.model, best.model, best.monthly_savings, reason,
                              tuple(candidates))  # fmt: skip
    return Recommendation(current.model, None, None, _no_winner_reason(current, candidates),
                          tuple(candidates))  # fmt: skip


def _replace_verdict(candidate: Candidate, verdict: str) -> Candidate:
    return Candidate(candidate.provider, candidate.model, verdict, candidate.reason,
                     candidate.cost_per_call, candidate.cost_basis, candidate.monthly_savings,
                     candidate.test)  # fmt: skip


def _no_winner_reason(current: ModelStats, candidates: Sequence[Candidate]) -> str:
    few = [c for c in candidates if c.verdict == "too_few"]
    if few:
        return "No recommendation: " + " ".join(c.reason for c in few)
    if any(c.verdict == "inferior" for c in candidates):
        return (f"No recommendation: no cheaper model is shown to be as good as "
                f"{current.model} within the margin.")  # fmt: skip
    return f"No recommendation: no other model is cheaper than {current.model} for this task."


def _token_mix(
    session: Session, project_id: int, calls: Any, task: str, current: ModelStats
) -> list[TokenUsage]:
    """The token buckets of the current model's most recent calls on this task."""
    query = (
        select(Span.input_tokens, Span.output_tokens, Span.cache_read_tokens,
               Span.cache_write_tokens, Span.reasoning_tokens)
        .join(calls, and_(Span.project_id == project_id, Span.trace_id == calls.c.trace_id,
                          Span.span_id == calls.c.span_id))
        .where(calls.c.task == task, calls.c.provider == current.provider,
               calls.c.model == current.model, Span.input_tokens.is_not(None))
        .order_by(calls.c.start_time.desc())
        .limit(MIX_SAMPLE)
    )  # fmt: skip
    return [
        TokenUsage(r[0] or 0, r[1] or 0, r[2] or 0, r[3] or 0, r[4] or 0)
        for r in session.execute(query)
    ]


def candidate_cost(
    candidate: ModelStats, mix: Sequence[TokenUsage], overrides: Any, at: datetime
) -> tuple[Decimal | None, str | None]:
    """The candidate's cost per call and its basis: ``computed`` on the current traffic's
    token mix at its prices, else ``observed`` from its own calls, else unknown."""
    if mix:
        total = Decimal(0)
        for usage in mix:
            price = cost_for(candidate.provider or None, candidate.model, usage, at, overrides)
            if price.cost is None:
                break
            total += price.cost
        else:
            return total / len(mix), "computed"
    observed = candidate.cost_per_call
    return (observed, "observed") if observed is not None else (None, None)


def monthly_savings(current: ModelStats, candidate_cpc: Decimal) -> Decimal:
    """(current cost/call − candidate cost/call) × current monthly calls, to the cent."""
    assert current.cost_per_call is not None
    return ((current.cost_per_call - candidate_cpc) * current.monthly_calls).quantize(CENT)


def _judge_candidate(
    current: ModelStats, other: ModelStats, mix: Sequence[TokenUsage], overrides: Any,
    margin: float, min_samples: int, at: datetime,
) -> Candidate:  # fmt: skip
    cpc, basis = candidate_cost(other, mix, overrides, at)

    def verdict(kind: str, reason: str, savings: Decimal | None = None,
                test: NonInferiority | None = None) -> Candidate:  # fmt: skip
        return Candidate(other.provider, other.model, kind, reason, cpc, basis, savings, test)

    if cpc is None:
        return verdict("no_price", f"{other.model} has no known price.")
    assert current.cost_per_call is not None
    if cpc >= current.cost_per_call:
        return verdict("not_cheaper", f"{other.model} is not cheaper per call.")
    savings = monthly_savings(current, cpc)
    if other.scored < min_samples or current.scored < min_samples:
        return verdict("too_few", (
            f"{other.model} has {other.scored} scored calls and {current.model} has "
            f"{current.scored}; at least {min_samples} each are needed to compare quality."
        ), savings)  # fmt: skip
    assert other.quality is not None
    assert current.quality is not None
    test = ni_test(other.quality.sample, current.quality.sample, margin)
    if test.non_inferior:
        return verdict(
            "non_inferior",
            (
                f"{other.model} is non-inferior (difference {test.difference:+.3f}, lower bound "
                f"{test.lower_bound:+.3f} > −{margin:g}, p = {test.p_value:.3g})."
            ),
            savings,
            test,
        )
    return verdict(
        "inferior",
        (
            f"{other.model} is not shown non-inferior (difference {test.difference:+.3f}, lower "
            f"bound {test.lower_bound:+.3f} ≤ −{margin:g}, p = {test.p_value:.3g})."
        ),
        savings,
        test,
    )


def score_names(session: Session, project_id: int, limit: int = 200) -> list[str]:
    """The names of the project's numeric scores, for choosing the quality signal."""
    query = (
        select(Score.name)
        .where(Score.project_id == project_id, Score.value.is_not(None))
        .group_by(Score.name)
        .order_by(Score.name)
        .limit(limit)
    )
    return list(session.scalars(query))


def savings_available(
    session: Session, project_id: int, now: datetime | None = None
) -> Decimal | None:
    """Monthly savings of every current recommendation (project settings, the 30 days before
    ``now``), or None when no task has one — the "savings available" line of the Spend page."""
    reports = task_reports(session, project_id, now=now)
    found = [r.recommendation.monthly_savings for r in reports]
    amounts = [s for s in found if s is not None]
    return sum(amounts, Decimal(0)) if amounts else None


__all__ = [
    "MONTH_DAYS",
    "Candidate",
    "ModelStats",
    "Options",
    "Quality",
    "Recommendation",
    "TaskReport",
    "candidate_cost",
    "monthly_savings",
    "recommend",
    "savings_available",
    "score_names",
    "task_expression",
    "task_reports",
    "task_spans",
]
