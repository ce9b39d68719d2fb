"""``/api/v1/drift``: the latest run's results, a segment in detail, model changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core.drift_job import run_drift
from core.models import Project
from core.settings import Settings
from tests.drift.conftest import RECENT_END, Loader
from tests.drift.synthetic import Shift


@pytest.fixture
def client(settings: Settings, api_key: str) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def drifted(load_traffic: Loader, session_factory: sessionmaker[Session], project: Project) -> None:
    load_traffic(seed=5, shift=Shift(length_sd=1.5))
    with session_factory.begin() as session:
        run_drift(session, project.id, as_of=RECENT_END)


def test_no_run_yet_answers_an_empty_result(client: TestClient) -> None:
    response = client.get("/api/v1/drift")
    assert response.status_code == 200
    assert response.json() == {"run": None, "results": []}


def test_latest_run_lists_drifted_results_first_and_filters(
    client: TestClient, drifted: None
) -> None:
    body = client.get("/api/v1/drift").json()
    assert body["run"]["recent_end"].startswith("2026-11-20T12:00:00")
    assert body["run"]["tests"] == len(body["results"]) > 150
    assert body["results"][0]["drifted"] is True
    only = client.get("/api/v1/drift", params={"drifted": "true", "segment_kind": "feature"})
    rows = only.json()["results"]
    assert {(r["segment_value"], r["metric"]) for r in rows} >= {("summary", "input_tokens")}
    assert all(r["drifted"] and r["segment_kind"] == "feature" for r in rows)
    metric = client.get("/api/v1/drift", params={"metric": "error_rate", "segment_kind": "all"})
    assert [r["metric"] for r in metric.json()["results"]] == ["error_rate"]


def test_a_segment_shows_its_results_and_history(client: TestClient, drifted: None) -> None:
    body = client.get("/api/v1/drift/segments/feature/summary").json()
    metrics = {r["metric"]: r for r in body["results"]}
    assert metrics["input_tokens"]["drifted"] is True
    assert len(metrics["input_tokens"]["recent"]["bins"]) == len(
        metrics["input_tokens"]["recent"]["edges"]) + 1  # fmt: skip
    assert {h["metric"] for h in body["history"]} == set(metrics)
    whole = client.get("/api/v1/drift/segments/all/-")
    assert whole.status_code == 200
    assert {r["segment_kind"] for r in whole.json()["results"]} == {"all"}


def test_unknown_segments_and_bad_filters_are_client_errors(
    client: TestClient, drifted: None
) -> None:
    assert client.get("/api/v1/drift/segments/feature/nope").status_code == 404
    assert client.get("/api/v1/drift/segments/colour/red").status_code == 422
    assert client.get("/api/v1/drift", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/drift", params={"drifted": "maybe"}).status_code == 422


def test_model_changes_are_listed(client: TestClient) -> None:
    response = client.get("/api/v1/drift/model-changes")
    assert response.status_code == 200
    assert response.json() == []
