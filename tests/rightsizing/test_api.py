"""``/api/v1/recommendations`` and the right-sizing, judge and experiment routes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import keys
from core.models import Project
from core.settings import Settings
from tests.conftest import PEPPER
from tests.rightsizing.synthetic import add_calls, add_prices


@pytest.fixture
def empty_clients(
    settings: Settings, session_factory: sessionmaker[Session], project: Project
) -> Iterator[tuple[TestClient, TestClient]]:
    """A reader's and an admin's client of one project (stubs on loopback allowed)."""
    with session_factory.begin() as session:
        reader = keys.create_key(session, project, ("read",), PEPPER).secret
        admin = keys.create_key(session, project, ("admin",), PEPPER).secret
    app = create_app(settings.model_copy(update={"outbound_allow_loopback": True}))
    with (TestClient(app, headers={"Authorization": f"Bearer {reader}"}) as r,
          TestClient(app, headers={"Authorization": f"Bearer {admin}"}) as a):  # fmt: skip
        yield r, a
    app.state.engine.dispose()


@pytest.fixture
def clients(
    empty_clients: tuple[TestClient, TestClient],
    session_factory: sessionmaker[Session],
    project: Project,
) -> tuple[TestClient, TestClient]:
    """The same clients, the project holding synthetic classify traffic."""
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=300, quality=0.95, now=now)
        add_calls(session, project.id, model="small-model", count=120, quality=0.95, seed=2,
                  first=1000, now=now)  # fmt: skip
    return empty_clients


def test_recommendations_name_the_cheaper_model_with_savings_and_evidence(
    clients: tuple[TestClient, TestClient],
) -> None:
    reader, _ = clients
    response = reader.get("/api/v1/recommendations", params={"margin": 0.05})
    assert response.status_code == 200, response.text
    body = response.json()
    (task,) = body["tasks"]
    rec = task["recommendation"]
    assert (task["task"], rec["current_model"], rec["recommended_model"]) == (
        "classify", "big-model", "small-model")  # fmt: skip
    assert Decimal(rec["monthly_savings"]) == Decimal("3.51")
    assert task["score_names"] == ["label_correct"]
    big = task["models"][0]
    assert (big["calls"], big["scored_calls"]) == (300, 300)
    assert big["quality_interval"]["low"] < big["quality_mean"] < big["quality_interval"]["high"]
    assert len(big["example_trace_ids"]) == 3
    winner = next(c for c in rec["candidates"] if c["verdict"] == "recommended")
    assert winner["cost_basis"] == "computed"
    assert winner["test"]["non_inferior"] is True
    assert body["savings_formula"].endswith("× 30 / window days")


def test_a_score_that_no_call_carries_gives_no_recommendation(
    clients: tuple[TestClient, TestClient],
) -> None:
    reader, _ = clients
    body = reader.get("/api/v1/recommendations", params={"score": "nope"}).json()
    rec = body["tasks"][0]["recommendation"]
    assert rec["recommended_model"] is None
    assert "0 scored calls" in rec["reason"]


@pytest.mark.parametrize("params", [
    {"margin": 0}, {"margin": 1.5}, {"margin": "abc"}, {"margin": "nan"}, {"window_days": 0},
    {"window_days": 91}, {"task_kind": "model"}, {"task": "x" * 201},
    {"score": ["s"] * 11},
])  # fmt: skip
def test_bad_parameters_answer_422(
    empty_clients: tuple[TestClient, TestClient], params: dict[str, object]
) -> None:
    reader, _ = empty_clients
    response = reader.get("/api/v1/recommendations", params=params)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text


def test_settings_change_the_task_definition_and_need_admin(
    clients: tuple[TestClient, TestClient],
) -> None:
    reader, admin = clients
    body = {"task_key": "span_name", "margin": 0.1, "score_names": ["label_correct"]}
    assert reader.put("/api/v1/rightsizing/settings", json=body).status_code == 403
    assert admin.put("/api/v1/rightsizing/settings", json=body).status_code == 200
    assert reader.get("/api/v1/rightsizing/settings").json()["task_key"] == "span_name"
    tasks = reader.get("/api/v1/recommendations").json()["tasks"]
    # Span names are per model here ("chat big-model"), so each is a task of its own.
    assert sorted(t["task"] for t in tasks) == ["chat big-model", "chat small-model"]
    for bad in ({"task_key": "nope"}, {"margin": 0}, {"min_samples": 1},
                {"replay_api_key_env": "TOKENTRAIL_DATABASE_URL"}, {"extra": 1}):  # fmt: skip
        assert admin.put("/api/v1/rightsizing/settings", json=bad).status_code == 422, bad


@pytest.mark.parametrize("url", ["http://10.1.2.3/v1", "http://169.254.169.254/", "ftp://x/"])
def test_private_endpoints_are_refused_with_400(
    empty_clients: tuple[TestClient, TestClient], url: str
) -> None:
    _, admin = empty_clients
    judge = {"base_url": url, "model": "m", "templates": ["correctness"]}
    response = admin.put("/api/v1/judge/settings", json=judge)
    assert response.status_code == 400, response.text
    replay = admin.put("/api/v1/rightsizing/settings", json={"replay_base_url": url})
    assert replay.status_code == 400, replay.text


def test_judge_settings_round_trip_and_custom_needs_a_prompt(
    empty_clients: tuple[TestClient, TestClient],
) -> None:
    reader, admin = empty_clients
    assert reader.get("/api/v1/judge/settings").status_code == 404
    judge = {"base_url": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini",
             "templates": ["custom"], "sample_rate": 0.2}  # fmt: skip
    assert admin.put("/api/v1/judge/settings", json=judge).status_code == 400
    judge["custom_prompt"] = "Is the label one of the five intents?"
    assert admin.put("/api/v1/judge/settings", json=judge).status_code == 200
    got = reader.get("/api/v1/judge/settings").json()
    assert (got["model"], got["sample_rate"], got["templates"]) == ("gpt-4o-mini", 0.2, ["custom"])


def test_experiments_are_queued_by_admins_and_read_back(
    clients: tuple[TestClient, TestClient],
) -> None:
    reader, admin = clients
    request = {"task": "classify", "candidate_model": "tiny-model", "sample_size": 10}
    assert admin.post("/api/v1/experiments", json=request).status_code == 400  # no endpoint yet
    admin.put("/api/v1/rightsizing/settings", json={"replay_base_url": "http://127.0.0.1:9/v1"})
    assert reader.post("/api/v1/experiments", json=request).status_code == 403
    created = admin.post("/api/v1/experiments", json=request)
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert (experiment["status"], experiment["baseline_model"]) == ("pending", "big-model")
    detail = reader.get(f"/api/v1/experiments/{experiment['id']}").json()
    assert detail["experiment"]["id"] == experiment["id"]
    assert detail["results"] == []
    assert [e["id"] for e in reader.get("/api/v1/experiments").json()] == [experiment["id"]]
    assert reader.get("/api/v1/experiments/999999").status_code == 404
    assert admin.post("/api/v1/experiments", json=request | {"sample_size": 1}).status_code == 422
