"""Unknown query parameters on the REST API answer 422 instead of being ignored.

A misspelt filter (``GET /api/v1/traces?user=alice`` where the parameter is ``user_id``) would
otherwise return every trace, and the caller would read it as the filtered list. The names a
route takes are read from its dependency tree, so a new parameter is known the moment a route
declares it. The check is an app-wide dependency, so a route added later has it too; it
applies under ``/api/`` only (OTLP exporters and probes may add parameters of their own).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

REST_PREFIX = "/api/"


def query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter name (alias) the route's dependencies read, at any depth."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return frozenset(names)


async def reject_unknown_query(request: Request) -> None:
    """422 naming each query parameter the matched REST route does not take."""
    if not request.query_params or not request.url.path.startswith(REST_PREFIX):
        return
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter {name!r}; this route takes: {takes}",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )
