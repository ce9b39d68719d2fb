"""Unknown query parameters on the REST API answer 422 naming them; known ones still work."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.routes.strict_query import query_names
from core.models import Project
from tests.collector.conftest import PROTOBUF, export_request, make_span
from tests.collector.test_api_isolation import walk
from tests.collector.test_api_seed import seed


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], project: Project) -> None:
    seed(session_factory, project)


def test_a_misspelt_filter_is_refused_not_ignored(client: TestClient, seeded: None) -> None:
    answer = client.get("/api/v1/traces", params={"user": "u2", "limit": 5})
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["query", "user"]
    assert "user_id" in problem["msg"]
    assert client.get("/api/v1/traces", params={"user_id": "u2"}).status_code == 200


def test_repeated_and_nested_parameters_are_known(client: TestClient, seeded: None) -> None:
    tags = client.get("/api/v1/traces", params={"tag": ["vip", "beta"], "sort": "cost"})
    assert tags.status_code == 200
    spans = client.get("/api/v1/spans", params={"q": "hello", "model": "gpt-4o", "limit": 3})
    assert spans.status_code == 200
    both = client.get("/api/v1/spans", params={"modle": "x", "limt": 3})
    assert [p["loc"][1] for p in both.json()["detail"]] == ["limt", "modle"]


def test_otlp_ingest_ignores_query_parameters(client: TestClient) -> None:
    body = export_request(make_span()).SerializeToString()
    assert client.post("/v1/traces?ts=1", content=body, headers=PROTOBUF).status_code == 200


def test_every_rest_read_refuses_an_unknown_parameter(client: TestClient, app: FastAPI) -> None:
    """Every GET under /api/v1 in the OpenAPI document, a path parameter filled with "1"."""
    paths = [p for p, ops in app.openapi()["paths"].items()
             if p.startswith("/api/v1") and "get" in ops]  # fmt: skip
    assert len(paths) > 20
    refused = {}
    for path in paths:
        url = re.sub(r"{[^}]+}", "1", path)
        answer = client.get(url, params={"bogus": "1"})
        refused[path] = answer.status_code == 422 and any(
            p["loc"] == ["query", "bogus"] for p in answer.json()["detail"]
        )
    assert [p for p, ok in refused.items() if not ok] == []


def test_the_names_of_a_route_include_its_nested_dependencies(app: FastAPI) -> None:
    traces = next(r for r in walk(app.routes) if getattr(r, "path", "") == "/api/v1/traces"
                  and "GET" in r.methods)  # fmt: skip
    assert {"user_id", "tag", "score", "q", "sort", "limit", "cursor"} <= query_names(
        traces.dependant
    )
