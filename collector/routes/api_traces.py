"""``/api/v1/traces``: the filtered trace list, one trace with its span tree, exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
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
from collector.routes.api_models import SpanOut, TraceDetailOut, TraceOut, TracePage
from collector.routes.api_params import Cursor, ExportFormat, Filters, Limit, SortParam, sort_key
from core import queries
from core.errors import NotFoundError
from core.queries import MAX_SPAN_WINDOW
from core.queries_spans import child_spans
from core.queries_views import Page, TraceSummary

router = APIRouter(prefix="/api/v1", tags=["traces"])
TraceId = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{32}$")]
SpanId = Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{16}$")]


@router.get("/traces", summary="Traces matching the filters, largest sort key first")
async def list_traces(
    principal: Reader, factory: FactoryDep, where: Filters, sort: SortParam = "time",
    limit: Limit = 50, cursor: Cursor = None,
) -> TracePage:  # fmt: skip
    def read() -> TracePage:
        with factory() as session:
            page = queries.list_traces(session, principal.project_id, where,
                                       sort=sort_key(sort), limit=limit, cursor=cursor)  # fmt: skip
        return TracePage.model_validate(page, from_attributes=True)

    return await run_in_threadpool(read)


@router.get(
    "/traces/export",
    summary="Every trace matching the filters as CSV, JSON Lines or Parquet (streamed)",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_traces(
    principal: Reader, factory: FactoryDep, where: Filters, fmt: ExportFormat = "csv",
    sort: SortParam = "time",
    max_rows: MaxRows = MAX_EXPORT_ROWS,
) -> StreamingResponse:  # fmt: skip
    def fetch(session: Session, cursor: str | None) -> Page[TraceSummary]:
        return queries.list_traces(session, principal.project_id, where, sort=sort_key(sort),
                                   limit=500, cursor=cursor)  # fmt: skip

    return export_response(fmt, "traces", factory, fetch, TraceOut, max_rows)


@router.get("/traces/{trace_id}", summary="One trace: a window of its spans, and its scores")
async def get_trace(
    trace_id: TraceId, principal: Reader, factory: FactoryDep,
    span_offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    span_limit: Annotated[int, Query(ge=1, le=MAX_SPAN_WINDOW)] = 1_000,
) -> TraceDetailOut:  # fmt: skip
    """Spans come in start-time order; a trace of 10,000 spans is read window by window
    (``next_span_offset``), or level by level with ``/traces/{trace_id}/spans``."""

    def read() -> TraceDetailOut:
        with factory() as session:
            detail = queries.get_trace(session, principal.project_id, trace_id.lower(),
                                       span_offset=span_offset, span_limit=span_limit)  # fmt: skip
        if detail is None:
            raise NotFoundError("no such trace in this project")
        total, end = detail.summary.span_count, span_offset + len(detail.spans)
        return TraceDetailOut.model_validate(
            {"trace": detail.summary, "spans": detail.spans, "span_offset": span_offset,
             "span_total": total, "next_span_offset": end if end < total else None,
             "scores": detail.scores}, from_attributes=True,
        )  # fmt: skip

    return await run_in_threadpool(read)


@router.get("/traces/{trace_id}/spans", summary="Direct children of a span (roots without one)")
async def get_children(
    trace_id: TraceId, principal: Reader, factory: FactoryDep, parent_span_id: SpanId = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0, limit: Limit = 100,
) -> list[SpanOut]:  # fmt: skip
    def read() -> list[Any]:
        with factory() as session:
            parent = parent_span_id.lower() if parent_span_id else None
            spans = child_spans(session, principal.project_id, trace_id.lower(), parent,
                                offset=offset, limit=limit)  # fmt: skip
        return [SpanOut.model_validate(s) for s in spans]

    return await run_in_threadpool(read)
