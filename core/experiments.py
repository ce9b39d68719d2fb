"""Replay experiments: recent inputs of a task run through a candidate model, then scored.

Where a candidate model has no production traffic on a task, a replay gives it some: the
``sample_size`` most recent calls of the task's current model that carry input messages are
sent to the candidate through the project's OpenAI-compatible endpoint
(``rightsizing_settings.replay_base_url``; its key is the worker's environment variable named by
``replay_api_key_env``). Each answer is scored by the same scorers as the original answer (the
worker hands in a scoring function, since the scorers live in the worker), and the results are
stored per input, idempotently, with a summary: paired non-inferiority per scorer, agreement
with the original answer, the candidate's cost per call (its usage at its prices) and the
projected monthly savings on the task's current traffic.

A request is a row (status ``pending``) that a worker claims with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.models import Span, SpanKind
from core.models_rightsizing import Experiment, ExperimentResult
from core.openai_compat import ChatError, Endpoint, chat_with_retries, resolve_api_key
from core.outbound import OutboundURLError
from core.prices import load_overrides
from core.pricing import TokenUsage, cost_for
from core.rightsizing import MONTH_DAYS, Options, task_reports, task_spans
from core.rightsizing_config import TaskKind, rightsizing_settings
from core.rightsizing_stats import paired_non_inferiority

logger = logging.getLogger(__name__)

#: (input text, output text, finish reasons) → {scorer name: value}.
ScoreOutput = Callable[[str | None, str | None, tuple[str, ...]], dict[str, float]]
MAX_SAMPLE = 200
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class ExperimentIn(BaseModel):
    """Replay ``sample_size`` recent inputs of ``task`` through ``candidate_model``."""

    model_config = ConfigDict(extra="forbid")

    task: Name
    task_kind: TaskKind | None = None
    candidate_model: Name
    candidate_provider: Name | None = None
    sample_size: int = Field(default=50, ge=2, le=MAX_SAMPLE)


class ExperimentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_kind: str
    task_value: str
    baseline_model: str
    candidate_model: str
    candidate_provider: str | None
    sample_size: int
    status: str
    requested_by: str
    error: str | None
    summary: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ExperimentResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    trace_id: str
    span_id: str
    output_text: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost: Decimal | None
    latency_ms: float | None
    baseline_scores: dict[str, Any]
    candidate_scores: dict[str, Any]
    agrees: bool | None
    error: str | None


def create_experiment(
    session: Session, project_id: int, data: ExperimentIn, requested_by: str
) -> Experiment:
    """Queue a replay; 400 when no replay endpoint is set or the task has no traffic."""
    settings = rightsizing_settings(session, project_id)
    if not settings.replay_base_url:
        raise InvalidInputError("set a replay endpoint (replay_base_url) in the settings first")
    kind = data.task_kind or settings.task_key
    reports = task_reports(session, project_id, Options(task_kind=kind, task=data.task))
    if not reports:
        raise InvalidInputError("this task has no LLM calls in the last 30 days")
    baseline = reports[0].recommendation.current or reports[0].models[0].model
    if data.candidate_model == baseline:
        raise InvalidInputError("the candidate is the task's current model")
    row = Experiment(project_id=project_id, task_kind=kind, task_value=data.task,
                     baseline_model=baseline, candidate_model=data.candidate_model,
                     candidate_provider=data.candidate_provider or settings.replay_provider,
                     sample_size=data.sample_size, requested_by=requested_by)  # fmt: skip
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def list_experiments(session: Session, project_id: int, limit: int = 50) -> list[Experiment]:
    query = (
        select(Experiment)
        .where(Experiment.project_id == project_id)
        .order_by(Experiment.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def get_experiment(session: Session, project_id: int, experiment_id: int) -> Experiment:
    row = session.get(Experiment, (project_id, experiment_id))
    if row is None:
        raise NotFoundError(f"no experiment {experiment_id}")
    return row


def experiment_results(
    session: Session, project_id: int, experiment_id: int, limit: int = MAX_SAMPLE
) -> list[ExperimentResult]:
    query = (
        select(ExperimentResult)
        .where(ExperimentResult.project_id == project_id,
               ExperimentResult.experiment_id == experiment_id)
        .order_by(ExperimentResult.created_at, ExperimentResult.trace_id)
        .limit(limit)
    )  # fmt: skip
    return list(session.scalars(query))


def claim_experiment(session: Session) -> tuple[int, int] | None:
    """Mark the oldest pending experiment running; its (project, id), or None."""
    row = session.scalars(
        select(Experiment)
        .where(Experiment.status == "pending")
        .order_by(Experiment.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    row.status, row.started_at = "running", datetime.now(UTC)
    session.flush()
    return row.project_id, row.id


def to_chat_messages(value: Any) -> list[dict[str, str]]:
    """OpenAI chat messages from a stored input (canonical ``parts`` messages); text only."""
    if not isinstance(value, list):
        return []
    out = []
    for message in value:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            continue
        parts = message.get("parts")
        if isinstance(parts, list):
            text = "".join(
                str(p.get("content", "")) for p in parts
                if isinstance(p, dict) and p.get("type") == "text"
            )  # fmt: skip
        else:
            content = message.get("content")
            text = content if isinstance(content, str) else ""
        if text:
            out.append({"role": message["role"], "content": text})
    return out


@dataclass(frozen=True, slots=True)
class _Input:
    trace_id: str
    span_id: str
    messages: list[dict[str, str]]
    input_text: str | None
    output_text: str | None
    finish_reasons: tuple[str, ...]
    cost: Decimal | None


def _sample(session: Session, exp: Experiment) -> list[_Input]:
    end = datetime.now(UTC)
    calls = task_spans(exp.project_id, exp.task_kind, end - timedelta(days=MONTH_DAYS), end,
                       exp.task_value).subquery()  # fmt: skip
    query = (
        select(Span.trace_id, Span.span_id, Span.input, Span.input_text, Span.output_text,
               Span.finish_reasons, Span.cost)
        .join(calls, (Span.trace_id == calls.c.trace_id) & (Span.span_id == calls.c.span_id))
        .where(Span.project_id == exp.project_id, Span.kind == SpanKind.LLM.value,
               calls.c.model == exp.baseline_model, Span.input.is_not(None),
               Span.status != "error")
        .order_by(Span.start_time.desc())
        .limit(exp.sample_size)
    )  # fmt: skip
    found = []
    for row in session.execute(query):
        messages = to_chat_messages(row.input)
        if messages:
            reasons = tuple(row.finish_reasons or ())
            found.append(_Input(row.trace_id, row.span_id, messages, row.input_text,
                                row.output_text, reasons, row.cost))  # fmt: skip
    return found


def _normalise(text: str | None) -> str:
    return " ".join((text or "").lower().split()).strip(" .!\"'")


def run_experiment(
    session: Session, project_id: int, experiment_id: int, score_output: ScoreOutput,
    *, allow_loopback: bool, deadline_s: float = 240.0,
) -> Experiment:  # fmt: skip
    """Replay the experiment's inputs (already-stored ones are skipped) and summarise it."""
    exp = get_experiment(session, project_id, experiment_id)
    settings = rightsizing_settings(session, project_id)
    try:
        if not settings.replay_base_url:
            raise InvalidInputError("no replay endpoint is set")
        key = resolve_api_key(settings.replay_api_key_env)
        endpoint = Endpoint(settings.replay_base_url, key, allow_loopback)
        done = set(session.scalars(select(ExperimentResult.span_id).where(
            ExperimentResult.project_id == project_id,
            ExperimentResult.experiment_id == experiment_id)))  # fmt: skip
        overrides = load_overrides(session, project_id)
        stop_at = datetime.now(UTC) + timedelta(seconds=deadline_s)
        for item in _sample(session, exp):
            if item.span_id in done:
                continue
            if datetime.now(UTC) >= stop_at:
                raise ChatError("the experiment ran out of time", retryable=False)
            row = _replay_one(exp, endpoint, item, score_output, overrides)
            session.execute(pg_insert(ExperimentResult).values(**row).on_conflict_do_nothing())
        exp.summary = summarise(session, exp)
        exp.status, exp.error = "done", None
    except (ChatError, OutboundURLError, InvalidInputError) as exc:
        exp.status, exp.error = "failed", str(exc)
    exp.finished_at = datetime.now(UTC)
    session.flush()
    return exp


def _replay_one(
    exp: Experiment, endpoint: Endpoint, item: _Input, score_output: ScoreOutput, overrides: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {"project_id": exp.project_id, "experiment_id": exp.id,
                           "trace_id": item.trace_id, "span_id": item.span_id}  # fmt: skip
    try:
        result = chat_with_retries(endpoint, exp.candidate_model, item.messages, deadline_s=60)
    except ChatError as exc:
        row["error"] = str(exc)
        return row
    usage = TokenUsage(result.input_tokens or 0, result.output_tokens or 0,
                       cache_read_tokens=result.cache_read_tokens or 0)  # fmt: skip
    price = cost_for(exp.candidate_provider, exp.candidate_model, usage, datetime.now(UTC),
                     overrides)  # fmt: skip
    finish = (result.finish_reason,) if result.finish_reason else ()
    row.update(
        output_text=result.text, input_tokens=result.input_tokens,
        output_tokens=result.output_tokens, cost=price.cost, latency_ms=result.latency_ms,
        baseline_scores=score_output(item.input_text, item.output_text, item.finish_reasons),
        candidate_scores=score_output(item.input_text, result.text, finish),
        agrees=_normalise(result.text) == _normalise(item.output_text),
    )  # fmt: skip
    return row


def _mean(values: Iterable[Decimal]) -> Decimal | None:
    items = list(values)
    return sum(items, Decimal(0)) / len(items) if items else None


def summarise(session: Session, exp: Experiment) -> dict[str, Any]:
    """Per-scorer paired comparison, agreement, cost per call and projected monthly savings."""
    results = experiment_results(session, exp.project_id, exp.id)
    ok = [r for r in results if r.error is None]
    settings = rightsizing_settings(session, exp.project_id)
    scorers: dict[str, Any] = {}
    names = sorted({n for r in ok for n in r.candidate_scores if n in r.baseline_scores})
    for name in names:
        pairs = [(r.candidate_scores[name], r.baseline_scores[name]) for r in ok
                 if name in r.candidate_scores and name in r.baseline_scores]  # fmt: skip
        entry: dict[str, Any] = {
            "n": len(pairs), "candidate_mean": sum(c for c, _ in pairs) / len(pairs),
            "baseline_mean": sum(b for _, b in pairs) / len(pairs),
        }  # fmt: skip
        if len(pairs) >= 2:
            test = paired_non_inferiority([c - b for c, b in pairs], settings.margin)
            entry.update(lower_bound=test.lower_bound, p_value=test.p_value,
                         non_inferior=test.non_inferior)  # fmt: skip
        scorers[name] = entry
    candidate_cpc = _mean(r.cost for r in ok if r.cost is not None)
    summary: dict[str, Any] = {
        "replayed": len(ok), "errors": len(results) - len(ok), "scorers": scorers,
        "agreement": (sum(1 for r in ok if r.agrees) / len(ok)) if ok else None,
        "candidate_cost_per_call": str(candidate_cpc) if candidate_cpc is not None else None,
        "margin": settings.margin,
    }  # fmt: skip
    summary.update(_projected_savings(session, exp, candidate_cpc))
    checks = [s.get("non_inferior") for s in scorers.values()]
    summary["non_inferior"] = bool(checks) and all(checks) and len(ok) >= 2
    return summary


def _projected_savings(
    session: Session, exp: Experiment, candidate_cpc: Decimal | None
) -> dict[str, Any]:
    """(baseline cost/call − candidate cost/call) × the baseline's monthly calls on the task."""
    reports = task_reports(session, exp.project_id,
                           Options(task_kind=exp.task_kind, task=exp.task_value))  # fmt: skip
    baseline = next((m for r in reports for m in r.models if m.model == exp.baseline_model), None)
    if baseline is None or baseline.cost_per_call is None or candidate_cpc is None:
        return {"monthly_savings": None}
    savings = ((baseline.cost_per_call - candidate_cpc) * baseline.monthly_calls).quantize(
        Decimal("0.01")
    )
    return {
        "baseline_cost_per_call": str(baseline.cost_per_call),
        "monthly_calls": str(baseline.monthly_calls),
        "monthly_savings": str(savings),
    }


def mark_stale_running(session: Session, older_than: timedelta) -> int:
    """Put experiments whose worker died back to pending (results so far are kept)."""
    cutoff = datetime.now(UTC) - older_than
    result = session.execute(
        update(Experiment)
        .where(Experiment.status == "running", Experiment.started_at < cutoff)
        .values(status="pending")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = [
    "ExperimentIn",
    "ExperimentOut",
    "ExperimentResultOut",
    "ScoreOutput",
    "claim_experiment",
    "create_experiment",
    "experiment_results",
    "get_experiment",
    "list_experiments",
    "mark_stale_running",
    "run_experiment",
    "summarise",
    "to_chat_messages",
]
