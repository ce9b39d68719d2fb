"""Probes and metrics: ``/healthz`` (alive), ``/readyz`` (database reachable), ``/metrics``."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from collector.deps import FactoryDep, MetricsDep, SettingsDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers")
async def readyz(factory: FactoryDep, settings: SettingsDep) -> Response:
    def ping() -> None:
        with factory() as session:
            session.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except SQLAlchemyError as exc:
        logger.warning("not ready: database unreachable (%s)", type(exc).__name__)
        headers = {"Retry-After": str(settings.retry_after_s)}
        return JSONResponse({"status": "unavailable"}, 503, headers)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(collector_metrics: MetricsDep) -> Response:
    return Response(generate_latest(collector_metrics.registry), media_type=CONTENT_TYPE_LATEST)
