"""``/api/v1/scores``: scores on the caller's traces only, idempotent by client id."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.models import Project, Score
from tests.collector.conftest import PROTOBUF, export_request, llm_attributes, make_span
from tests.conftest import PEPPER

TRACE = "a" * 32


def _ingest(client: TestClient, trace_id: str = TRACE) -> None:
    span = make_span(trace_id=trace_id, attributes=llm_attributes())
    body = export_request(span).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200


def test_feedback_score_is_stored(client: TestClient) -> None:
    _ingest(client)
    response = client.post("/api/v1/scores", json={"trace_id": TRACE, "name": "thumbs", "value": 1})
    assert response.status_code == 201
    assert response.json()["source"] == "feedback"
    listed = client.get("/api/v1/scores", params={"trace_id": TRACE}).json()
    assert [(s["name"], s["value"]) for s in listed] == [("thumbs", 1.0)]


def test_same_client_id_twice_stores_one_score(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _ingest(client)
    payload = {"trace_id": TRACE, "span_id": "1" * 16, "name": "rating", "label": "good",
               "client_id": "fb-1", "source": "human"}  # fmt: skip
    first = client.post("/api/v1/scores", json=payload)
    again = client.post("/api/v1/scores", json={**payload, "label": "bad"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == 1


def test_unknown_trace_or_span_is_404(client: TestClient) -> None:
    _ingest(client)
    assert (
        client.post(
            "/api/v1/scores", json={"trace_id": "b" * 32, "name": "x", "value": 1}
        ).status_code
        == 404
    )
    span_payload = {"trace_id": TRACE, "span_id": "9" * 16, "name": "x", "value": 1}
    assert client.post("/api/v1/scores", json=span_payload).status_code == 404


def test_key_of_project_a_cannot_score_or_list_project_b_traces(
    client: TestClient, session_factory: sessionmaker[Session], project: Project
) -> None:
    _ingest(client, TRACE)  # project A (the fixture's project) owns TRACE
    with session_factory.begin() as session:
        other = keys.create_project(session, "project-b")
        other_key = keys.create_key(session, other, ("ingest", "read"), PEPPER).secret
    headers = {"Authorization": f"Bearer {other_key}"}
    payload = {"trace_id": TRACE, "name": "x", "value": 1}
    assert client.post("/api/v1/scores", json=payload, headers=headers).status_code == 404
    listed = client.get("/api/v1/scores", params={"trace_id": TRACE}, headers=headers)
    assert listed.status_code == 404


def test_score_needs_a_value_or_a_label(client: TestClient) -> None:
    _ingest(client)
    response = client.post("/api/v1/scores", json={"trace_id": TRACE, "name": "x"})
    assert response.status_code == 400


def test_invalid_score_fields_are_422(client: TestClient) -> None:
    for payload in (
        {"trace_id": "short", "name": "x", "value": 1},
        {"trace_id": TRACE, "name": "x", "value": 1, "source": "scorer"},
        {"trace_id": TRACE, "name": "", "value": 1},
    ):
        assert client.post("/api/v1/scores", json=payload).status_code == 422


def test_ingest_only_key_may_score_but_not_list(
    client: TestClient, session_factory: sessionmaker[Session], project: Project
) -> None:
    _ingest(client)
    with session_factory.begin() as session:
        ingest_only = keys.create_key(session, project, ("ingest",), PEPPER).secret
    headers = {"Authorization": f"Bearer {ingest_only}"}
    payload = {"trace_id": TRACE, "name": "x", "value": 0.5}
    assert client.post("/api/v1/scores", json=payload, headers=headers).status_code == 201
    assert (
        client.get("/api/v1/scores", params={"trace_id": TRACE}, headers=headers).status_code == 403
    )
