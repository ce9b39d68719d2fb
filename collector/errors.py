"""Every error the collector answers, mapped to an HTTP status in this one module.

Domain errors come from ``core.errors``; database trouble (unreachable, pool exhausted,
statement timeout) is transient and answered 503 with ``Retry-After``. OTLP routes answer
with a ``google.rpc.Status`` in the request's encoding, the REST API with ``{"detail"}``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.responses import Response

from collector import otlp
from core import errors

logger = logging.getLogger(__name__)

OTLP_PATHS = frozenset({"/v1/traces", "/api/public/otel/v1/traces", "/v1/logs"})


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    grpc_code: int
    message: str
    retry: bool = False
    headers: dict[str, str] = field(default_factory=dict)


#: (error type, HTTP status, gRPC code) — the first matching row wins, so subclasses go first.
DOMAIN_ERRORS: tuple[tuple[type[errors.TokenTrailError], int, int], ...] = (
    (errors.PayloadTooLargeError, 413, 8),
    (errors.UnsupportedMediaTypeError, 415, 3),
    (errors.InvalidInputError, 400, 3),
    (errors.AuthenticationError, 401, 16),
    (errors.PermissionDeniedError, 403, 7),
    (errors.NotFoundError, 404, 5),
    (errors.UnavailableError, 503, 14),
)
UNAVAILABLE = "the database is unavailable; retry later"
OVERLOADED = "the collector is over its in-flight limit; retry later"


def problem_for(exc: Exception) -> Problem:
    """The answer to ``exc``; unknown errors are ours (500), never a client's fault."""
    if isinstance(exc, errors.RateLimitedError):
        retry_after = str(max(1, math.ceil(exc.retry_after_s)))
        return Problem(429, 8, str(exc), headers={"Retry-After": retry_after})
    for error_type, status, code in DOMAIN_ERRORS:
        if isinstance(exc, error_type):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            return Problem(status, code, str(exc), retry=status == 503, headers=headers)
    if isinstance(exc, sa_exc.DataError):
        return Problem(400, 3, "a value in the request cannot be stored")
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return Problem(503, 14, UNAVAILABLE, retry=True)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return Problem(503, 14, UNAVAILABLE, retry=True)
    return Problem(500, 13, "internal error")


def db_error_kind(exc: Exception) -> str | None:
    """A short label for database errors (metrics and logs never carry statement text)."""
    if isinstance(exc, sa_exc.TimeoutError):
        return "pool_timeout"
    if isinstance(exc, sa_exc.DBAPIError):
        return type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
    return None


def render(request: Request, problem: Problem, retry_after_s: int) -> Response:
    headers = dict(problem.headers)
    if problem.retry:
        headers["Retry-After"] = str(retry_after_s)
    if request.url.path in OTLP_PATHS:
        try:
            encoding = otlp.encoding_of(request.headers.get("content-type"))
        except errors.UnsupportedMediaTypeError:
            encoding = otlp.Encoding.JSON
        body = otlp.encode_status(encoding, problem.grpc_code, problem.message)
        return Response(body, problem.status, headers, media_type=encoding.value)
    return JSONResponse({"detail": problem.message}, problem.status, headers)


async def handle_error(request: Request, exc: Exception) -> Response:
    problem = problem_for(exc)
    kind = db_error_kind(exc)
    if kind and problem.status == 503:
        request.app.state.metrics.db_errors.labels(kind=kind).inc()
        logger.warning("database unavailable (%s) on %s", kind, request.url.path)
    elif problem.status >= 500 and isinstance(exc, sa_exc.SQLAlchemyError):
        # Never with the traceback: SQLAlchemy messages carry statement parameters (prompts).
        logger.error("unexpected database error %s on %s", kind, request.url.path)
    elif problem.status >= 500:
        logger.error("unexpected %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
    return render(request, problem, request.app.state.settings.retry_after_s)


def install(app: FastAPI) -> None:
    """Route domain and database errors through :func:`handle_error`."""
    for error_type in (errors.TokenTrailError, sa_exc.SQLAlchemyError):
        app.add_exception_handler(error_type, handle_error)
