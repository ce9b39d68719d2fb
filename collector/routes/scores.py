"""``/api/v1/scores``: feedback and human scores from applications (the SDK's ``score``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from collector import scores
from collector.deps import FactoryDep, Reader, ScoreWriter
from collector.scores import ScoreIn, ScoreOut

router = APIRouter(prefix="/api/v1", tags=["scores"])


@router.post("/scores", status_code=201, summary="Record a score (idempotent by client_id)")
async def create_score(
    data: ScoreIn, principal: ScoreWriter, factory: FactoryDep, response: Response
) -> ScoreOut:
    def write() -> tuple[ScoreOut, bool]:
        with factory.begin() as session:
            row, created = scores.create_score(session, principal.project_id, data)
            return ScoreOut.model_validate(row), created

    out, created = await run_in_threadpool(write)
    if not created:
        response.status_code = 200
    return out


@router.get("/scores", summary="Scores of one trace")
async def list_scores(
    trace_id: Annotated[str, Query(pattern=r"^[0-9a-fA-F]{32}$")],
    principal: Reader,
    factory: FactoryDep,
) -> list[ScoreOut]:
    def read() -> list[ScoreOut]:
        with factory() as session:
            rows = scores.list_scores(session, principal.project_id, trace_id.lower())
            return [ScoreOut.model_validate(row) for row in rows]

    return await run_in_threadpool(read)
