"""``/api/v1/drift``: the latest drift run's results, one segment in detail, model changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from collector.deps import FactoryDep, Reader
from core.drift_read import latest_run, list_results, segment_history
from core.errors import NotFoundError
from core.model_changes import list_changes

router = APIRouter(prefix="/api/v1/drift", tags=["drift"])
SegmentKind = Literal["all", "feature", "model", "name", "prompt"]
Text = Annotated[str | None, Query(max_length=500)]


class DriftRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    as_of: datetime
    baseline_start: datetime
    baseline_end: datetime
    recent_start: datetime
    recent_end: datetime
    tests: int
    drifted: int
    sampled: bool


class DriftResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    segment_kind: str
    segment_value: str
    metric: str
    statistic: str
    stat_value: float
    p_value: float
    q_value: float
    effect_name: str
    effect: float
    baseline_n: int
    recent_n: int
    drifted: bool
    severity: str | None
    baseline: dict[str, Any]
    recent: dict[str, Any]


class DriftOut(BaseModel):
    run: DriftRunOut | None
    results: list[DriftResultOut]


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: int
    recent_end: datetime
    metric: str
    effect_name: str
    effect: float
    q_value: float
    drifted: bool


class SegmentOut(BaseModel):
    run: DriftRunOut
    results: list[DriftResultOut]
    history: list[HistoryOut]


class ModelChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider: str
    request_model: str
    attribute: str
    old_value: str
    new_value: str
    changed_at: datetime
    last_old_at: datetime
    old_count: int
    new_count: int
    detected_at: datetime


@router.get("", summary="The latest drift run and its results (drifted first)")
async def drift_results(
    principal: Reader, factory: FactoryDep, segment_kind: SegmentKind | None = None,
    segment_value: Text = None, metric: Text = None, drifted: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> DriftOut:  # fmt: skip
    def read() -> DriftOut:
        with factory() as session:
            run = latest_run(session, principal.project_id)
            if run is None:
                return DriftOut(run=None, results=[])
            rows = list_results(session, principal.project_id, run.id,
                                segment_kind=segment_kind, segment_value=segment_value,
                                metric=metric, drifted=drifted, limit=limit)  # fmt: skip
            return DriftOut.model_validate({"run": run, "results": rows}, from_attributes=True)

    return await run_in_threadpool(read)


@router.get("/model-changes", summary="Response models or fingerprints that changed silently")
async def model_changes(
    principal: Reader, factory: FactoryDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[ModelChangeOut]:
    def read() -> list[ModelChangeOut]:
        with factory() as session:
            rows = list_changes(session, principal.project_id, limit)
            return [ModelChangeOut.model_validate(r) for r in rows]

    return await run_in_threadpool(read)


@router.get(
    "/segments/{segment_kind}/{segment_value:path}",
    summary="One segment: its results in the latest run and every metric's recent history",
)
async def drift_segment(
    segment_kind: SegmentKind, segment_value: Annotated[str, Path(max_length=500)],
    principal: Reader, factory: FactoryDep,
) -> SegmentOut:  # fmt: skip
    """The whole project is ``/segments/all/-`` (any value after ``all`` is ignored)."""
    value = "" if segment_kind == "all" else segment_value

    def read() -> SegmentOut:
        with factory() as session:
            run = latest_run(session, principal.project_id)
            rows = [] if run is None else list_results(
                session, principal.project_id, run.id, segment_kind=segment_kind,
                segment_value=value)  # fmt: skip
            if run is None or not rows:
                raise NotFoundError("no drift results for this segment in the latest run")
            history = segment_history(session, principal.project_id, segment_kind, value)
            return SegmentOut.model_validate(
                {"run": run, "results": rows, "history": history}, from_attributes=True
            )

    return await run_in_threadpool(read)
