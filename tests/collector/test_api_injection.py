"""SQL injection payloads in every filter, sort, cursor and search parameter: a 4xx or an
empty answer, never a 500, and the data is still there afterwards."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Project, Span
from tests.collector.test_api_seed import seed

PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE spans; --",
    "1) OR (1=1",
    '" OR ""="',
    "x' UNION SELECT key_hash FROM api_keys --",
    "%' AND pg_sleep(5) --",
    "\\'; SELECT 1; --",
    "\x00",
    "ä' OR 1=1 /*",
]
#: Every query parameter of the read routes (the list routes share their filters).
LIST_PARAMS = ["start", "end", "service", "environment", "name", "model", "provider", "user_id",
               "session_id", "tag", "team", "feature", "customer", "status", "min_latency_ms",
               "max_latency_ms", "min_cost", "max_cost", "min_tokens", "max_tokens", "score",
               "q", "sort", "limit", "cursor"]  # fmt: skip
ROUTES = {
    "/api/v1/traces": LIST_PARAMS,
    "/api/v1/spans": LIST_PARAMS,
    "/api/v1/traces/export": [*LIST_PARAMS[:-2], "format", "max_rows"],
    "/api/v1/spans/export": [*LIST_PARAMS[:-2], "format", "max_rows"],
    "/api/v1/sessions": ["start", "end", "user_id", "limit", "cursor"],
    "/api/v1/users": ["start", "end", "limit", "cursor"],
    "/api/v1/traces/{trace_id}": ["span_offset", "span_limit"],
    "/api/v1/traces/{trace_id}/spans": ["parent_span_id", "offset", "limit"],
}
PATHS = ["/api/v1/traces/{p}", "/api/v1/traces/{p}/spans", "/api/v1/sessions/{p}",
         "/api/v1/scores?trace_id={p}"]  # fmt: skip


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], project: Project) -> None:
    seed(session_factory, project)


def _empty_or_refused(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 200 and response.headers["content-type"] == "application/json":
        body = response.json()
        items = body.get("items", body.get("spans", [])) if isinstance(body, dict) else body
        assert items == [], body


def _span_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Span)) or 0)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("route", "param"), [(r, p) for r, ps in ROUTES.items() for p in ps])
def test_injection_in_a_parameter_is_refused_or_matches_nothing(
    client: TestClient, session_factory: sessionmaker[Session], route: str, param: str
) -> None:
    before = _span_count(session_factory)
    path = route.format(trace_id=f"{0:032x}")
    for payload in PAYLOADS:
        response = client.get(path, params={param: payload})
        if route.endswith("{trace_id}"):
            assert response.status_code in {400, 422}, response.text
        else:
            _empty_or_refused(response)
    assert _span_count(session_factory) == before


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("path", PATHS)
def test_injection_in_a_path_is_refused_or_not_found(
    client: TestClient, session_factory: sessionmaker[Session], path: str
) -> None:
    before = _span_count(session_factory)
    for payload in PAYLOADS:
        response = client.get(path.format(p=quote(payload, safe="")))
        assert response.status_code in {400, 404, 422}, (payload, response.text)
    assert _span_count(session_factory) == before
