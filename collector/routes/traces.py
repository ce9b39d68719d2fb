"""``POST /v1/traces`` (OTLP/HTTP) and its Langfuse-compatible alias."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from collector import otlp
from collector.body import read_capped
from collector.deps import FactoryDep, Ingestor, MetricsDep, SettingsDep
from collector.ingest import ingest_export

logger = logging.getLogger(__name__)
router = APIRouter(tags=["otlp"])


@router.post("/v1/traces", summary="OTLP/HTTP trace export (protobuf or JSON, gzip/deflate)")
@router.post("/api/public/otel/v1/traces", summary="The same, for Langfuse SDKs (Basic auth)")
async def export_traces(
    request: Request,
    principal: Ingestor,
    settings: SettingsDep,
    factory: FactoryDep,
    metrics: MetricsDep,
) -> Response:
    encoding = otlp.encoding_of(request.headers.get("content-type"))
    body = await read_capped(request, settings.max_body_bytes)
    outcome = await run_in_threadpool(
        ingest_export,
        factory,
        principal.project_id,
        body,
        content_encoding=request.headers.get("content-encoding"),
        encoding=encoding,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        metrics=metrics,
        price_book=request.app.state.price_book,
        quota=request.app.state.quota,
        committer=request.app.state.committer,
        redaction=request.app.state.redaction,
    )
    if outcome.rejected:
        # OTLP clients never read partial success (Python ignores the body): log it here.
        logger.info("project %s: %s", principal.project_id, outcome.message())
    payload = otlp.encode_response(encoding, outcome.rejected_count, outcome.message())
    return Response(payload, 200, media_type=encoding.value)
