"""``/api/v1/spans``: the span list with the trace list's filters, and its exports."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from collector.deps import FactoryDep, Reader
from collector.routes.api_export import (
    EXPORT_RESPONSES,
    MAX_EXPORT_ROWS,
    MaxRows,
    export_response,
)
from collector.routes.api_models import SpanOut, SpanPage
from collector.routes.api_params import Cursor, ExportFormat, Filters, Limit, SortParam, sort_key
from core.queries_spans import list_spans
from core.queries_views import Page, SpanView

router = APIRouter(prefix="/api/v1", tags=["spans"])


@router.get("/spans", summary="Spans matching the filters, largest sort key first")
async def spans(
    principal: Reader, factory: FactoryDep, where: Filters, sort: SortParam = "time",
    limit: Limit = 50, cursor: Cursor = None,
) -> SpanPage:  # fmt: skip
    """The filters apply to each span's own columns (``q`` to its input and output text)."""

    def read() -> SpanPage:
        with factory() as session:
            page = list_spans(session, principal.project_id, where, sort=sort_key(sort),
                              limit=limit, cursor=cursor)  # fmt: skip
        return SpanPage.model_validate(page, from_attributes=True)

    return await run_in_threadpool(read)


@router.get(
    "/spans/export",
    summary="Every span matching the filters as CSV, JSON Lines or Parquet (streamed)",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_spans(
    principal: Reader, factory: FactoryDep, where: Filters, fmt: ExportFormat = "csv",
    sort: SortParam = "time",
    max_rows: MaxRows = MAX_EXPORT_ROWS,
) -> StreamingResponse:  # fmt: skip
    def fetch(session: Session, cursor: str | None) -> Page[SpanView]:
        return list_spans(session, principal.project_id, where, sort=sort_key(sort),
                          limit=500, cursor=cursor)  # fmt: skip

    return export_response(fmt, "spans", factory, fetch, SpanOut, max_rows)
