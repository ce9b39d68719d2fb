"""Replay experiments against a stub OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import experiments
from core.errors import InvalidInputError
from core.experiments import ExperimentIn
from core.models import Project
from core.models_rightsizing import Experiment
from core.rightsizing_config import RightsizingSettingsIn, save_rightsizing_settings
from tests.rightsizing.stub import completion, stub_endpoint
from tests.rightsizing.synthetic import add_calls, add_prices, call_cost
from workers.rightsizing_tasks import run_one


def _seed(factory: sessionmaker[Session], project_id: int, url: str | None, **kw: Any) -> None:
    with factory.begin() as session:
        add_prices(session, project_id)
        add_calls(session, project_id, model="big-model", count=60, quality=0.9,
                  now=datetime.now(UTC))  # fmt: skip
        save_rightsizing_settings(session, project_id, RightsizingSettingsIn(
            replay_base_url=url, replay_provider="openai", **kw), allow_loopback=True)  # fmt: skip


def _start(factory: sessionmaker[Session], project_id: int, size: int = 20) -> int:
    with factory.begin() as session:
        row = experiments.create_experiment(session, project_id, ExperimentIn(
            task="classify", candidate_model="small-model", sample_size=size), "test")  # fmt: skip
        assert (row.status, row.baseline_model) == ("pending", "big-model")
        return row.id


def _finished(factory: sessionmaker[Session], project_id: int, experiment_id: int) -> Experiment:
    with factory() as session:
        return session.get_one(Experiment, (project_id, experiment_id))


def test_a_replay_scores_the_candidate_and_projects_the_savings(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    reply = completion("cancellation", model="small-model", prompt_tokens=120,
                       completion_tokens=20)  # fmt: skip
    with stub_endpoint(lambda body: (200, reply)) as stub:
        _seed(session_factory, project.id, stub.url)
        experiment_id = _start(session_factory, project.id)
        assert run_one(session_factory, allow_loopback=True) == experiment_id
        assert run_one(session_factory, allow_loopback=True) is None  # nothing else pending
    exp = _finished(session_factory, project.id, experiment_id)
    assert exp.status == "done", exp.error
    assert len(stub.requests) == 20
    assert stub.requests[0]["model"] == "small-model"
    assert stub.requests[0]["messages"] == [{"role": "user", "content": "Cancel my plan"}]
    s = exp.summary
    assert (s["replayed"], s["errors"], s["agreement"]) == (20, 0, 1.0)
    # 120 input and 20 output tokens at 1 and 3 USD per million.
    candidate = (120 * Decimal(1) + 20 * Decimal(3)) / 1_000_000
    assert Decimal(s["candidate_cost_per_call"]) == candidate
    assert Decimal(s["baseline_cost_per_call"]) == call_cost("big-model")
    # 60 calls of the baseline in the last 30 days: 60 a month.
    assert Decimal(s["monthly_savings"]) == ((call_cost("big-model") - candidate) * 60).quantize(
        Decimal("0.01"))  # fmt: skip
    assert s["scorers"]["no_refusal"]["non_inferior"] is True
    assert s["non_inferior"] is True
    with session_factory() as session:
        results = experiments.experiment_results(session, project.id, experiment_id)
    assert len(results) == 20
    assert all(r.candidate_scores["no_refusal"] == 1.0 for r in results)


def test_a_candidate_that_refuses_is_not_non_inferior(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    refusal = completion("I'm sorry, I can't help with that request.")
    with stub_endpoint(lambda body: (200, refusal)) as stub:
        _seed(session_factory, project.id, stub.url)
        experiment_id = _start(session_factory, project.id)
        run_one(session_factory, allow_loopback=True)
    s = _finished(session_factory, project.id, experiment_id).summary
    assert s["scorers"]["no_refusal"]["candidate_mean"] == 0.0
    assert s["scorers"]["no_refusal"]["non_inferior"] is False
    assert s["non_inferior"] is False
    assert s["agreement"] == 0.0


def test_the_key_comes_from_the_workers_environment(
    session_factory: sessionmaker[Session], project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stub_endpoint(lambda body: (200, completion("cancellation"))) as stub:
        _seed(session_factory, project.id, stub.url, replay_api_key_env="TOKENTRAIL_SECRET_REPLAY")
        first = _start(session_factory, project.id, size=2)
        run_one(session_factory, allow_loopback=True)  # the variable is not set yet
        monkeypatch.setenv("TOKENTRAIL_SECRET_REPLAY", "sk-test-123")
        second = _start(session_factory, project.id, size=2)
        run_one(session_factory, allow_loopback=True)
    failed = _finished(session_factory, project.id, first)
    assert failed.status == "failed"
    assert failed.error == "the worker has no environment variable TOKENTRAIL_SECRET_REPLAY"
    assert _finished(session_factory, project.id, second).status == "done"
    assert {h["Authorization"] for h in stub.headers} == {"Bearer sk-test-123"}


def test_a_replay_needs_an_endpoint_and_a_task_with_traffic(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _seed(session_factory, project.id, None)
    with session_factory.begin() as session, pytest.raises(InvalidInputError, match="replay"):
        experiments.create_experiment(session, project.id, ExperimentIn(
            task="classify", candidate_model="small-model"), "test")  # fmt: skip
    with session_factory.begin() as session:
        save_rightsizing_settings(session, project.id, RightsizingSettingsIn(
            replay_base_url="http://127.0.0.1:9/v1"), allow_loopback=True)  # fmt: skip
    with session_factory.begin() as session, pytest.raises(InvalidInputError, match="no LLM"):
        experiments.create_experiment(session, project.id, ExperimentIn(
            task="no-such-task", candidate_model="small-model"), "test")  # fmt: skip
    with session_factory.begin() as session, pytest.raises(InvalidInputError, match="current"):
        experiments.create_experiment(session, project.id, ExperimentIn(
            task="classify", candidate_model="big-model"), "test")  # fmt: skip


def test_loopback_refused_at_connect_time_fails_the_experiment_without_a_call(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with stub_endpoint(lambda body: (200, completion("cancellation"))) as stub:
        _seed(session_factory, project.id, stub.url)
        experiment_id = _start(session_factory, project.id, size=2)
        run_one(session_factory, allow_loopback=False)
    exp = _finished(session_factory, project.id, experiment_id)
    assert exp.status == "failed"
    assert "loopback" in (exp.error or "")
    assert stub.requests == []
