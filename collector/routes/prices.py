"""``/api/v1/prices``: the project's price overrides (read with ``read``, write with ``admin``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from collector.deps import Admin, FactoryDep, requires
from core import price_jobs, prices
from core.keys import Principal
from core.prices import PriceBook, PriceChangeOut, PriceOverrideIn, PriceOverrideOut

router = APIRouter(prefix="/api/v1/prices", tags=["prices"])
PriceReader = Annotated[Principal, Depends(requires("read", "admin"))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such override in this project"}
}


def _actor(principal: Principal) -> str:
    return f"api-key:{principal.key_id}"


#: Response header naming the re-pricing job a change queued (``/api/v1/repricing/jobs/{id}``).
JOB_HEADER = "X-Repricing-Job"


class PriceOverrideSaved(PriceOverrideOut):
    """A stored override and the re-pricing job its change queued."""

    repricing_job_id: int


def _invalidate(request: Request, project_id: int) -> None:
    book: PriceBook = request.app.state.price_book
    book.invalidate(project_id)


@router.get("", summary="The project's price overrides")
async def list_prices(principal: PriceReader, factory: FactoryDep) -> list[PriceOverrideOut]:
    def read() -> list[PriceOverrideOut]:
        with factory() as session:
            rows = prices.list_overrides(session, principal.project_id)
            return [PriceOverrideOut.model_validate(row) for row in rows]

    return await run_in_threadpool(read)


@router.get("/changes", summary="The audit trail of price changes, newest first")
async def list_price_changes(
    principal: PriceReader,
    factory: FactoryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PriceChangeOut]:
    def read() -> list[PriceChangeOut]:
        with factory() as session:
            rows = prices.list_changes(session, principal.project_id, limit)
            return [PriceChangeOut.model_validate(row) for row in rows]

    return await run_in_threadpool(read)


@router.get("/{override_id}", summary="One price override", responses=NOT_FOUND)
async def get_price(
    override_id: int, principal: PriceReader, factory: FactoryDep
) -> PriceOverrideOut:
    def read() -> PriceOverrideOut:
        with factory() as session:
            row = prices.get_override(session, principal.project_id, override_id)
            return PriceOverrideOut.model_validate(row)

    return await run_in_threadpool(read)


@router.post("", status_code=201, summary="Add a price override (queues a re-pricing job)")
async def create_price(
    data: PriceOverrideIn,
    principal: Admin,
    factory: FactoryDep,
    request: Request,
    response: Response,
) -> PriceOverrideSaved:
    def write() -> PriceOverrideSaved:
        with factory.begin() as session:
            row, job = price_jobs.create_with_job(
                session, principal.project_id, data, _actor(principal)
            )
            return PriceOverrideSaved(**price_jobs.snapshot(row), repricing_job_id=job.id)

    out = await run_in_threadpool(write)
    _invalidate(request, principal.project_id)
    response.headers[JOB_HEADER] = str(out.repricing_job_id)
    return out


@router.put(
    "/{override_id}",
    summary="Replace a price override (queues a re-pricing job)",
    responses=NOT_FOUND,
)
async def update_price(
    override_id: int,
    data: PriceOverrideIn,
    principal: Admin,
    factory: FactoryDep,
    request: Request,
    response: Response,
) -> PriceOverrideSaved:
    def write() -> PriceOverrideSaved:
        with factory.begin() as session:
            row, job = price_jobs.update_with_job(
                session, principal.project_id, override_id, data, _actor(principal)
            )
            return PriceOverrideSaved(**price_jobs.snapshot(row), repricing_job_id=job.id)

    out = await run_in_threadpool(write)
    _invalidate(request, principal.project_id)
    response.headers[JOB_HEADER] = str(out.repricing_job_id)
    return out


@router.delete(
    "/{override_id}",
    status_code=204,
    summary="Retire a price override (queues a re-pricing job)",
    responses=NOT_FOUND,
)
async def delete_price(
    override_id: int, principal: Admin, factory: FactoryDep, request: Request
) -> Response:
    def write() -> int:
        with factory.begin() as session:
            job = price_jobs.delete_with_job(
                session, principal.project_id, override_id, _actor(principal)
            )
            return job.id

    job_id = await run_in_threadpool(write)
    _invalidate(request, principal.project_id)
    return Response(status_code=204, headers={JOB_HEADER: str(job_id)})
