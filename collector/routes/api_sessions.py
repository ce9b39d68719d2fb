"""``/api/v1/sessions`` (conversations) and ``/api/v1/users`` (end users' usage)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from collector.deps import FactoryDep, Reader
from collector.routes.api_models import EndUserPage, SessionDetailOut, SessionPage
from collector.routes.api_params import Cursor, Limit, Text
from core.errors import NotFoundError
from core.queries_sessions import get_session, list_end_users, list_sessions

router = APIRouter(prefix="/api/v1", tags=["sessions and users"])
Start = Annotated[datetime | None, Query(description="Traces started at or after (ISO 8601)")]
End = Annotated[datetime | None, Query(description="Traces started before (ISO 8601)")]


@router.get("/sessions", summary="Conversations, most recently active first")
async def sessions(
    principal: Reader, factory: FactoryDep, start: Start = None, end: End = None,
    user_id: Text = None, limit: Limit = 50, cursor: Cursor = None,
) -> SessionPage:  # fmt: skip
    def read() -> SessionPage:
        with factory() as session:
            page = list_sessions(session, principal.project_id, start=start, end=end,
                                 user_id=user_id or None, limit=limit, cursor=cursor)  # fmt: skip
        return SessionPage.model_validate(page, from_attributes=True)

    return await run_in_threadpool(read)


@router.get("/sessions/{session_id}", summary="One conversation: its traces and LLM calls in order")
async def session_detail(
    session_id: Annotated[str, Path(max_length=200)], principal: Reader, factory: FactoryDep
) -> SessionDetailOut:
    def read() -> SessionDetailOut:
        with factory() as session:
            detail = get_session(session, principal.project_id, session_id)
        if detail is None:
            raise NotFoundError("no such session in this project")
        return SessionDetailOut.model_validate(
            {"session": detail.summary, "traces": detail.traces, "turns": detail.turns},
            from_attributes=True,
        )

    return await run_in_threadpool(read)


@router.get("/users", summary="End users: traces, calls, tokens, cost, errors, first/last seen")
async def end_users(
    principal: Reader, factory: FactoryDep, start: Start = None, end: End = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> EndUserPage:  # fmt: skip
    def read() -> EndUserPage:
        with factory() as session:
            page = list_end_users(session, principal.project_id, start=start, end=end,
                                  limit=limit, cursor=cursor)  # fmt: skip
        return EndUserPage.model_validate(page, from_attributes=True)

    return await run_in_threadpool(read)
