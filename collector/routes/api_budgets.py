"""``/api/v1/budgets``: budgets (read with ``read``, write with ``admin``), their live status,
and the check behind the SDK's ``budget_ok`` (any key of the project, ``ingest`` included).

The check takes the ``ingest`` key apps already hold: handing every app a ``read`` key (which
reads prompts and completions) just to ask "may I spend?" would widen what a leaked app key
exposes. The answer only names exhausted hard budgets and when they reset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from collector.deps import Admin, FactoryDep, requires
from core import budgets
from core.budget_state import BudgetStatus, budget_status, exhausted_hard_budgets
from core.budgets import MAX_VALUE_CHARS, BudgetIn, BudgetOut
from core.keys import Principal

router = APIRouter(prefix="/api/v1/budgets", tags=["budgets"])
BudgetReader = Annotated[Principal, Depends(requires("read", "admin"))]
BudgetChecker = Annotated[Principal, Depends(requires("ingest", "read", "admin"))]
BudgetId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Value = Annotated[str | None, Query(max_length=MAX_VALUE_CHARS)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such budget here"}}
#: How long an app may reuse a check's answer (the SDK caches for about as long).
CHECK_MAX_AGE_S = 15


class ExhaustedOut(BaseModel):
    id: int
    name: str
    scope: str
    value: str
    period: str
    resets_at: datetime


class BudgetCheckOut(BaseModel):
    """``ok`` is false when an enabled hard budget limiting this call is exhausted."""

    ok: bool
    exhausted: list[ExhaustedOut]


@router.get("", summary="The project's budgets")
async def list_budgets(principal: BudgetReader, factory: FactoryDep) -> list[BudgetOut]:
    def read() -> list[BudgetOut]:
        with factory() as session:
            return [BudgetOut.of(b) for b in budgets.list_budgets(session, principal.project_id)]

    return await run_in_threadpool(read)


@router.get("/check", summary="Whether a call may spend: no exhausted hard budget limits it")
async def check_budgets(
    principal: BudgetChecker,
    factory: FactoryDep,
    response: Response,
    team: Value = None,
    feature: Value = None,
    customer: Value = None,
    model: Value = None,
    user: Value = None,
) -> BudgetCheckOut:
    """Project-wide hard budgets limit every call; a team, feature, customer, model or user
    budget limits calls that name its value here."""
    given = {"team": team, "feature": feature, "customer": customer, "model": model,
             "user": user}  # fmt: skip
    dimensions = {k: v for k, v in given.items() if v}

    def read() -> BudgetCheckOut:
        with factory() as session:
            found = exhausted_hard_budgets(
                session, principal.project_id, dimensions, datetime.now(UTC)
            )
        exhausted = [ExhaustedOut(**vars(b)) for b in found]
        return BudgetCheckOut(ok=not exhausted, exhausted=exhausted)

    response.headers["Cache-Control"] = f"private, max-age={CHECK_MAX_AGE_S}"
    return await run_in_threadpool(read)


@router.get("/{budget_id}", summary="One budget", responses=NOT_FOUND)
async def get_budget(budget_id: BudgetId, principal: BudgetReader, factory: FactoryDep
                     ) -> BudgetOut:  # fmt: skip
    def read() -> BudgetOut:
        with factory() as session:
            return BudgetOut.of(budgets.get_budget(session, principal.project_id, budget_id))

    return await run_in_threadpool(read)


@router.get(
    "/{budget_id}/status",
    summary="Spend, forecast and projected exhaustion of the current period",
    responses=NOT_FOUND,
)
async def get_budget_status(budget_id: BudgetId, principal: BudgetReader, factory: FactoryDep
                            ) -> BudgetStatus:  # fmt: skip
    """Computed now from the rollups: ``spent``, ``fraction`` of the limit, the forecast's
    ``expected_total`` with its 80 % interval, the day the limit is (or is expected to be)
    reached, the thresholds crossed, and whether it is exhausted."""

    def read() -> BudgetStatus:
        with factory() as session:
            return budget_status(session, principal.project_id, budget_id, datetime.now(UTC))

    return await run_in_threadpool(read)


@router.post("", status_code=201, summary="Create a budget")
async def create_budget(data: BudgetIn, principal: Admin, factory: FactoryDep) -> BudgetOut:
    def write() -> BudgetOut:
        with factory.begin() as session:
            return BudgetOut.of(budgets.create_budget(session, principal.project_id, data))

    return await run_in_threadpool(write)


@router.put("/{budget_id}", summary="Replace a budget", responses=NOT_FOUND)
async def update_budget(
    budget_id: BudgetId, data: BudgetIn, principal: Admin, factory: FactoryDep
) -> BudgetOut:
    def write() -> BudgetOut:
        with factory.begin() as session:
            row = budgets.update_budget(session, principal.project_id, budget_id, data)
            return BudgetOut.of(row)

    return await run_in_threadpool(write)


@router.delete("/{budget_id}", status_code=204, summary="Delete a budget", responses=NOT_FOUND)
async def delete_budget(budget_id: BudgetId, principal: Admin, factory: FactoryDep) -> Response:
    def write() -> None:
        with factory.begin() as session:
            budgets.delete_budget(session, principal.project_id, budget_id)

    await run_in_threadpool(write)
    return Response(status_code=204)
