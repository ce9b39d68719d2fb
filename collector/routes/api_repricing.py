"""``/api/v1/repricing``: re-pricing jobs (queue with ``admin``, read with ``read``) and a
preview of what a price change would do before it is saved.

A saved override change queues its own job (see ``/api/v1/prices``); a job queued here
re-prices a range with today's prices (after a price-table upgrade, say). A worker runs the
jobs; these routes only write and read rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from collector.deps import Admin, FactoryDep, requires
from core import repricing, repricing_preview
from core.keys import Principal
from core.prices import PriceOverrideIn

router = APIRouter(prefix="/api/v1/repricing", tags=["prices"])
RepricingReader = Annotated[Principal, Depends(requires("read", "admin"))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not in this project"}}
#: Most spans one preview prices (it says ``truncated`` past this).
PREVIEW_MAX_SPANS = 2_000_000


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JobIn(BaseModel):
    """Re-price ``[start, end)`` with today's prices (``end`` empty: up to the newest span)."""

    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime | None = None
    models: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=500, description="Only these models (default: all)"
    )

    @field_validator("start", "end")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is taken as UTC."""
        return _utc(value)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    reason: str
    created_by: str
    range_start: datetime
    range_end: datetime | None
    models: list[str] | None
    spans_scanned: int
    spans_repriced: int
    batches: int
    cost_before: Decimal
    cost_after: Decimal
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PreviewIn(BaseModel):
    """A change to preview: a new ``override``; ``override_id`` with the changed
    ``override``; ``override_id`` with ``delete``; or nothing but ``start`` for today's
    prices."""

    model_config = ConfigDict(extra="forbid")

    override: PriceOverrideIn | None = None
    override_id: int | None = Field(default=None, ge=1, le=2**62)
    delete: bool = False
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is taken as UTC."""
        return _utc(value)


class ModelImpactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider: str
    model: str
    spans: int
    cost_before: Decimal
    cost_after: Decimal


class PreviewOut(BaseModel):
    range_start: datetime
    range_end: datetime | None
    models_in_scope: list[str] | None
    spans_scanned: int
    spans_affected: int
    cost_before: Decimal
    cost_after: Decimal
    cost_change: Decimal
    truncated: bool
    models: list[ModelImpactOut]


def _actor(principal: Principal) -> str:
    return f"api-key:{principal.key_id}"


@router.post("/jobs", status_code=201, summary="Queue a re-pricing of a time range")
def create_job(data: JobIn, principal: Admin, factory: FactoryDep) -> JobOut:
    with factory.begin() as session:
        job = repricing.create_job(
            session, principal.project_id, start=data.start, end=data.end, models=data.models,
            reason="re-price requested", actor=_actor(principal),
        )  # fmt: skip
        return JobOut.model_validate(job)


@router.get("/jobs", summary="The project's re-pricing jobs, newest first")
def list_jobs(
    principal: RepricingReader,
    factory: FactoryDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    with factory() as session:
        return [JobOut.model_validate(j) for j in repricing.list_jobs(session, principal.project_id,
                                                                      limit)]  # fmt: skip


@router.get("/jobs/{job_id}", summary="One re-pricing job and its progress", responses=NOT_FOUND)
def get_job(job_id: int, principal: RepricingReader, factory: FactoryDep) -> JobOut:
    with factory() as session:
        return JobOut.model_validate(repricing.get_job(session, principal.project_id, job_id))


@router.post(
    "/preview",
    summary="What a price change would do to stored costs, per model (nothing is saved)",
    responses=NOT_FOUND,
)
def preview(data: PreviewIn, principal: RepricingReader, factory: FactoryDep) -> PreviewOut:
    with factory() as session:
        found = repricing_preview.preview_change(
            session, principal.project_id, override=data.override,
            override_id=data.override_id, delete=data.delete, start=data.start, end=data.end,
            max_spans=PREVIEW_MAX_SPANS,
        )  # fmt: skip
    result = found.result
    return PreviewOut(
        range_start=found.start, range_end=found.end, models_in_scope=found.models,
        spans_scanned=result.spans_scanned, spans_affected=result.spans_affected,
        cost_before=result.cost_before, cost_after=result.cost_after,
        cost_change=result.cost_after - result.cost_before, truncated=result.truncated,
        models=[ModelImpactOut.model_validate(m) for m in result.models],
    )  # fmt: skip
