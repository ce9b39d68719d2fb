"""``/api/v1/recommendations`` (right-sizing), its settings, the judge's settings and replay
experiments. Reads need the ``read`` scope, changes ``admin``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from collector.deps import Admin, FactoryDep, Reader, SettingsDep
from core import experiments, rightsizing
from core.errors import InvalidInputError, NotFoundError
from core.experiments import ExperimentIn, ExperimentOut, ExperimentResultOut
from core.keys import Principal
from core.rightsizing_config import (
    JudgeSettingsIn,
    JudgeSettingsOut,
    RightsizingSettingsIn,
    RightsizingSettingsOut,
    judge_settings,
    rightsizing_settings,
    save_judge_settings,
    save_rightsizing_settings,
)

router = APIRouter(prefix="/api/v1", tags=["right-sizing"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not in this project"}}


class IntervalOut(BaseModel):
    low: float
    high: float


class ModelOut(BaseModel):
    provider: str
    model: str
    response_models: list[str]
    calls: int
    errors: int
    scored_calls: int
    quality_mean: float | None
    quality_interval: IntervalOut | None
    p50_latency_ms: float
    p95_latency_ms: float
    cost_per_call: Decimal | None
    monthly_calls: Decimal
    monthly_cost: Decimal | None
    example_trace_ids: list[str]


class TestOut(BaseModel):
    method: str
    difference: float
    lower_bound: float
    p_value: float
    margin: float
    non_inferior: bool


class CandidateOut(BaseModel):
    provider: str
    model: str
    verdict: str
    reason: str
    cost_per_call: Decimal | None
    cost_basis: str | None
    monthly_savings: Decimal | None
    test: TestOut | None


class RecommendationOut(BaseModel):
    current_model: str | None
    recommended_model: str | None
    monthly_savings: Decimal | None
    reason: str
    candidates: list[CandidateOut]


class TaskOut(BaseModel):
    task_kind: str
    task: str
    score_names: list[str]
    models: list[ModelOut]
    recommendation: RecommendationOut


class RecommendationsOut(BaseModel):
    window_days: int
    margin: float
    savings_formula: str
    tasks: list[TaskOut]


FORMULA = ("(current cost per call − candidate cost per call) × current calls in the window "
           "× 30 / window days")  # fmt: skip


def _model(m: rightsizing.ModelStats) -> ModelOut:
    q = m.quality
    interval = q.interval if q else None
    return ModelOut(
        provider=m.provider, model=m.model, response_models=m.response_models, calls=m.calls,
        errors=m.errors, scored_calls=m.scored, quality_mean=q.sample.mean if q else None,
        quality_interval=IntervalOut(low=interval.low, high=interval.high) if interval else None,
        p50_latency_ms=m.p50_ms, p95_latency_ms=m.p95_ms, cost_per_call=m.cost_per_call,
        monthly_calls=m.monthly_calls, monthly_cost=m.monthly_cost,
        example_trace_ids=m.example_traces,
    )  # fmt: skip


def _candidate(c: rightsizing.Candidate) -> CandidateOut:
    test = None
    if c.test is not None:
        t = c.test
        test = TestOut(method=t.method, difference=t.difference, lower_bound=t.lower_bound,
                       p_value=t.p_value, margin=t.margin, non_inferior=t.non_inferior)  # fmt: skip
    return CandidateOut(provider=c.provider, model=c.model, verdict=c.verdict, reason=c.reason,
                        cost_per_call=c.cost_per_call, cost_basis=c.cost_basis,
                        monthly_savings=c.monthly_savings, test=test)  # fmt: skip


def task_out(report: rightsizing.TaskReport) -> TaskOut:
    rec = report.recommendation
    return TaskOut(
        task_kind=report.kind, task=report.task, score_names=list(report.score_names),
        models=[_model(m) for m in report.models],
        recommendation=RecommendationOut(
            current_model=rec.current, recommended_model=rec.recommended,
            monthly_savings=rec.monthly_savings, reason=rec.reason,
            candidates=[_candidate(c) for c in rec.candidates]),
    )  # fmt: skip


Margin = Annotated[
    float | None,
    Query(
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="Largest acceptable drop in mean score (default: the setting)",
    ),
]
ScoreParam = Annotated[list[str] | None, Query(max_length=10, description="Score names")]
Window = Annotated[int, Query(ge=1, le=90, description="Days of traffic to compare")]
TaskKindParam = Annotated[Literal["feature", "span_name", "prompt"] | None, Query()]
TaskParam = Annotated[str | None, Query(max_length=200, description="Only this task")]


@router.get("/recommendations", summary="Per task: models in use and the cheapest good one")
async def recommendations(
    principal: Reader, factory: FactoryDep, margin: Margin = None, score: ScoreParam = None,
    window_days: Window = 30, task_kind: TaskKindParam = None, task: TaskParam = None,
) -> RecommendationsOut:  # fmt: skip
    names = tuple(s.strip() for s in score or () if s.strip())
    if any(len(s) > 200 for s in names):
        raise InvalidInputError("a score name is at most 200 characters")
    options = rightsizing.Options(margin=margin, score_names=names, window_days=window_days,
                                  task_kind=task_kind, task=task or None)  # fmt: skip

    def read() -> RecommendationsOut:
        with factory() as session:
            reports = rightsizing.task_reports(session, principal.project_id, options)
            used = margin if margin is not None else rightsizing_settings(
                session, principal.project_id).margin  # fmt: skip
        return RecommendationsOut(window_days=window_days, margin=used, savings_formula=FORMULA,
                                  tasks=[task_out(r) for r in reports])  # fmt: skip

    return await run_in_threadpool(read)


@router.get("/rightsizing/settings", summary="How tasks are defined and compared")
async def get_rightsizing_settings(
    principal: Reader, factory: FactoryDep
) -> RightsizingSettingsOut:
    def read() -> RightsizingSettingsOut:
        with factory() as session:
            return rightsizing_settings(session, principal.project_id)

    return await run_in_threadpool(read)


@router.put("/rightsizing/settings", summary="Set task definition, scores, margin, replay endpoint")
async def put_rightsizing_settings(
    data: RightsizingSettingsIn, principal: Admin, factory: FactoryDep, settings: SettingsDep
) -> RightsizingSettingsOut:
    def write() -> RightsizingSettingsOut:
        with factory.begin() as session:
            loopback = settings.outbound_allow_loopback
            return save_rightsizing_settings(
                session, principal.project_id, data, allow_loopback=loopback
            )

    return await run_in_threadpool(write)


@router.get("/judge/settings", summary="The project's LLM judge", responses=NOT_FOUND)
async def get_judge_settings(principal: Reader, factory: FactoryDep) -> JudgeSettingsOut:
    def read() -> JudgeSettingsOut:
        with factory() as session:
            found = judge_settings(session, principal.project_id)
        if found is None:
            raise NotFoundError("no judge is configured for this project")
        return found

    return await run_in_threadpool(read)


@router.put("/judge/settings", summary="Configure the LLM judge (endpoint, model, rubrics)")
async def put_judge_settings(
    data: JudgeSettingsIn, principal: Admin, factory: FactoryDep, settings: SettingsDep
) -> JudgeSettingsOut:
    def write() -> JudgeSettingsOut:
        with factory.begin() as session:
            return save_judge_settings(session, principal.project_id, data,
                                       allow_loopback=settings.outbound_allow_loopback)  # fmt: skip

    return await run_in_threadpool(write)


@router.get("/experiments", summary="Replay experiments, newest first")
async def list_experiments(
    principal: Reader, factory: FactoryDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[ExperimentOut]:
    def read() -> list[ExperimentOut]:
        with factory() as session:
            rows = experiments.list_experiments(session, principal.project_id, limit)
            return [ExperimentOut.model_validate(r) for r in rows]

    return await run_in_threadpool(read)


def _actor(principal: Principal) -> str:
    return f"api-key:{principal.key_id}"


@router.post("/experiments", status_code=201, summary="Queue a replay of a task on a candidate")
async def create_experiment(
    data: ExperimentIn, principal: Admin, factory: FactoryDep
) -> ExperimentOut:
    def write() -> ExperimentOut:
        with factory.begin() as session:
            row = experiments.create_experiment(session, principal.project_id, data,
                                                _actor(principal))  # fmt: skip
            return ExperimentOut.model_validate(row)

    return await run_in_threadpool(write)


class ExperimentDetailOut(BaseModel):
    experiment: ExperimentOut
    results: list[ExperimentResultOut]


@router.get("/experiments/{experiment_id}", summary="One experiment and its results",
            responses=NOT_FOUND)  # fmt: skip
async def get_experiment(
    experiment_id: int, principal: Reader, factory: FactoryDep
) -> ExperimentDetailOut:
    def read() -> ExperimentDetailOut:
        with factory() as session:
            row = experiments.get_experiment(session, principal.project_id, experiment_id)
            results = experiments.experiment_results(session, principal.project_id, row.id)
            return ExperimentDetailOut(
                experiment=ExperimentOut.model_validate(row),
                results=[ExperimentResultOut.model_validate(r) for r in results],
            )

    return await run_in_threadpool(read)


__all__ = ["router", "task_out"]
