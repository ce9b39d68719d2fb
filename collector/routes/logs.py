"""``POST /v1/logs`` (OTLP/HTTP): GenAI prompt and completion log records, joined to spans.

Same contract as ``/v1/traces``: protobuf or JSON, gzip/deflate, the same limits and keys,
200 only after the commit, partial success for records that cannot be attached.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from collector import otlp
from collector.body import read_capped
from collector.deps import FactoryDep, Ingestor, SettingsDep
from collector.logs import ingest_logs
from collector.redaction import RedactionPolicy

logger = logging.getLogger(__name__)
router = APIRouter(tags=["otlp"])


@router.post("/v1/logs", summary="OTLP/HTTP log export: GenAI content events for spans")
async def export_logs(
    request: Request, principal: Ingestor, settings: SettingsDep, factory: FactoryDep
) -> Response:
    encoding = otlp.encoding_of(request.headers.get("content-type"))
    body = await read_capped(request, settings.max_body_bytes)
    policy: RedactionPolicy = request.app.state.redaction
    outcome = await run_in_threadpool(
        ingest_logs,
        factory,
        principal.project_id,
        body,
        content_encoding=request.headers.get("content-encoding"),
        encoding=encoding,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        redact=policy.enabled(principal.project_id),
    )
    if outcome.rejected:
        logger.info("project %s: %s", principal.project_id, outcome.message())
    payload = otlp.encode_logs_response(encoding, outcome.rejected_count, outcome.message())
    return Response(payload, 200, media_type=encoding.value)
