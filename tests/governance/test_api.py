"""REST for budgets, alerts and webhooks: scopes, validation (4xx, never 5xx), the round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import keys
from core.alerts import raise_alert
from core.models import Project
from core.settings import Settings
from tests.conftest import PEPPER
from tests.governance.conftest import earlier_today, spend

BUDGET = {"name": "Search, monthly", "scope": "team", "value": "search", "limit_usd": "10",
          "thresholds": [100, 50], "hard": True}  # fmt: skip


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"outbound_allow_loopback": True}))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def clients(
    app: FastAPI, session_factory: sessionmaker[Session], project: Project
) -> Iterator[dict[str, TestClient]]:
    out: dict[str, TestClient] = {}
    with session_factory.begin() as session:
        secrets = {s: keys.create_key(session, project, (s,), PEPPER).secret
                   for s in ("ingest", "read", "admin")}  # fmt: skip
    for scope, secret in secrets.items():
        out[scope] = TestClient(app, headers={"Authorization": f"Bearer {secret}"}).__enter__()
    yield out
    for client in out.values():
        client.__exit__(None, None, None)


def test_budget_round_trip(clients: dict[str, TestClient]) -> None:
    admin, read = clients["admin"], clients["read"]
    created = admin.post("/api/v1/budgets", json=BUDGET)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["thresholds"] == [50, 100]
    assert body["limit_usd"] == "10"
    budget_id = body["id"]
    assert [b["id"] for b in read.get("/api/v1/budgets").json()] == [budget_id]
    changed = admin.put(f"/api/v1/budgets/{budget_id}", json=BUDGET | {"enabled": False})
    assert changed.json()["enabled"] is False
    assert read.get(f"/api/v1/budgets/{budget_id}").json()["enabled"] is False
    assert admin.delete(f"/api/v1/budgets/{budget_id}").status_code == 204
    assert read.get(f"/api/v1/budgets/{budget_id}").status_code == 404


def test_scopes_read_write_and_check(clients: dict[str, TestClient]) -> None:
    assert clients["read"].post("/api/v1/budgets", json=BUDGET).status_code == 403
    assert clients["ingest"].get("/api/v1/budgets").status_code == 403
    assert clients["ingest"].get("/api/v1/alerts").status_code == 403
    assert clients["read"].get("/api/v1/webhooks").status_code == 403
    assert clients["read"].post("/api/v1/alerts/1/ack").status_code == 403
    check = clients["ingest"].get("/api/v1/budgets/check", params={"team": "search"})
    assert check.status_code == 200
    assert check.json() == {"ok": True, "exhausted": []}
    assert "max-age" in check.headers["cache-control"]
    assert TestClient(clients["read"].app).get("/api/v1/budgets/check").status_code == 401


def test_status_and_check_follow_spend(
    clients: dict[str, TestClient], session_factory: sessionmaker[Session], project: Project
) -> None:
    budget_id = clients["admin"].post("/api/v1/budgets", json=BUDGET).json()["id"]
    now = earlier_today()
    spend(session_factory, project.id, now, "6", team="search")
    status = clients["read"].get(f"/api/v1/budgets/{budget_id}/status").json()
    assert (status["spent"], status["fraction"], status["exhausted"]) == ("6", "0.6000", False)
    assert status["thresholds_crossed"] == [50]
    assert {"expected_total", "expected_low", "expected_high", "exhausts_on"} <= set(status)
    spend(session_factory, project.id, now, "4", team="search")
    check = clients["ingest"].get("/api/v1/budgets/check", params={"team": "search"}).json()
    assert check["ok"] is False
    assert check["exhausted"][0]["id"] == budget_id
    assert clients["ingest"].get("/api/v1/budgets/check", params={"team": "ads"}).json()["ok"]


@pytest.mark.parametrize(
    "change",
    [{"limit_usd": "0"}, {"limit_usd": "-5"}, {"limit_usd": "1e13"}, {"limit_usd": "NaN"},
     {"limit_usd": "abc"}, {"scope": "galaxy"}, {"period": "year"}, {"value": ""},
     {"scope": "project", "value": "x"}, {"thresholds": []}, {"thresholds": [50, 50]},
     {"thresholds": [0]}, {"thresholds": [1001]}, {"thresholds": list(range(1, 13))},
     {"name": "  "}, {"name": "x" * 201}, {"value": "v" * 201}, {"extra": 1},
     {"limit_usd": "0.00000000001"}],
)  # fmt: skip
def test_invalid_budgets_answer_422(clients: dict[str, TestClient], change: dict[str, Any]) -> None:
    response = clients["admin"].post("/api/v1/budgets", json=BUDGET | change)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/budgets/0"), ("GET", "/api/v1/budgets/abc"),
     ("GET", f"/api/v1/budgets/{2**63}"), ("GET", "/api/v1/budgets/-1/status"),
     ("POST", "/api/v1/alerts/0/ack"), ("GET", "/api/v1/webhooks/9223372036854775808"),
     ("GET", "/api/v1/alerts?limit=0"), ("GET", "/api/v1/alerts?open=maybe"),
     ("GET", "/api/v1/budgets/check?team=" + "t" * 201)],
)  # fmt: skip
def test_bad_ids_and_parameters_answer_4xx(
    clients: dict[str, TestClient], method: str, path: str
) -> None:
    assert 400 <= clients["admin"].request(method, path).status_code < 500


def test_unknown_ids_answer_404(clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    assert admin.get("/api/v1/budgets/77/status").status_code == 404
    assert admin.put("/api/v1/budgets/77", json=BUDGET).status_code == 404
    assert admin.post("/api/v1/alerts/77/ack").status_code == 404
    assert admin.delete("/api/v1/webhooks/77").status_code == 404
    assert admin.get("/api/v1/webhooks/77/deliveries").status_code == 404


def test_alerts_filter_by_kind_and_open_and_acknowledge_once(
    clients: dict[str, TestClient], session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        ids = [
            raise_alert(session, project_id=project.id, kind=kind, severity="warning",
                        title=kind, dedup_key=kind)
            for kind in ("budget", "anomaly", "drift")
        ]  # fmt: skip
    read, admin = clients["read"], clients["admin"]
    assert [a["kind"] for a in read.get("/api/v1/alerts").json()] == ["drift", "anomaly", "budget"]
    kinds = read.get("/api/v1/alerts", params={"kind": ["budget", "drift"]}).json()
    assert sorted(a["kind"] for a in kinds) == ["budget", "drift"]
    first = admin.post(f"/api/v1/alerts/{ids[0]}/ack").json()
    assert first["acknowledged_by"].startswith("api-key:")
    again = admin.post(f"/api/v1/alerts/{ids[0]}/ack").json()
    assert again["acknowledged_at"] == first["acknowledged_at"]
    open_now = read.get("/api/v1/alerts", params={"open": "true"}).json()
    assert sorted(a["kind"] for a in open_now) == ["anomaly", "drift"]


def test_webhook_secrets_are_never_shown(clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    body = {"url": "http://127.0.0.1:9/hook", "name": "#alerts", "secret": "s" * 20}
    created = admin.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201, created.text
    hook_id = created.json()["id"]
    assert "s" * 20 not in created.text
    assert created.json()["has_secret"] is True
    kept = admin.put(f"/api/v1/webhooks/{hook_id}", json={"url": body["url"], "enabled": False})
    assert (kept.json()["has_secret"], kept.json()["enabled"]) == (True, False)
    assert "s" * 20 not in admin.get("/api/v1/webhooks").text
    assert admin.get(f"/api/v1/webhooks/{hook_id}/deliveries").json() == []
    short = admin.post("/api/v1/webhooks", json=body | {"secret": "short"})
    assert short.status_code == 422
    assert admin.post("/api/v1/webhooks", json={"url": "x" * 2001}).status_code == 422
