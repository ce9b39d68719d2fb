"""Cross-project isolation on every route: project A's key never reads or changes project B.

``CASES`` must name every route of the app; a new route without a case fails
``test_every_route_has_an_isolation_case``, so isolation is decided when a route is added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.alerts import raise_alert
from core.ingest import store_spans
from core.models import Score, Span, Trace, UsageHourly
from core.models_drift import DriftResult, DriftRun, ModelChange
from core.models_finance import RepricingJob, UsageDaily
from core.models_governance import Alert, Budget, Webhook
from core.models_rightsizing import Experiment
from core.timeutil import floor_hour
from tests.collector.test_api_seed import seed, trace
from tests.conftest import PEPPER

B_TRACE, B_SPAN = f"{3:032x}", f"{3:015x}b"
MARK = "b-secret-marker"
PRICE = {"model_pattern": "gpt-4o*", "effective_from": "2026-01-01T00:00:00Z",
         "input_per_mtok": "1", "output_per_mtok": "2"}  # fmt: skip


@dataclass
class World:
    a: TestClient
    b: TestClient
    factory: sessionmaker[Session]
    b_project: int
    b_price: int
    b_budget: int = 0
    b_webhook: int = 0
    b_alert: int = 0

    def b_state(self) -> tuple[Any, ...]:
        """Everything of project B a foreign write could touch."""
        with self.factory() as session:
            trace = session.get_one(Trace, (self.b_project, B_TRACE))
            span = session.get_one(Span, (self.b_project, B_TRACE, B_SPAN))
            scores = session.scalars(select(Score.name).where(Score.project_id == self.b_project))
            governance = self.b_governance(session)
            return (trace.span_count, str(trace.cost), span.input, span.output, sorted(scores),
                    governance)  # fmt: skip

    def b_governance(self, session: Session) -> tuple[Any, ...]:
        budget = session.get(Budget, (self.b_project, self.b_budget))
        hook = session.get(Webhook, (self.b_project, self.b_webhook))
        alert = session.get(Alert, (self.b_project, self.b_alert))
        return (
            budget and (budget.name, str(budget.limit_usd), budget.enabled),
            hook and (hook.url, hook.enabled),
            alert and alert.acknowledged_at,
        )


def walk(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from walk(included.routes)
        else:
            yield route


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(m, r.path) for r in walk(app.routes) for m in getattr(r, "methods", ()) if m != "HEAD"}


def _no_marker(w: World, response: Any) -> None:
    assert response.status_code < 500
    assert MARK not in response.text
    assert B_TRACE not in response.text


def _not_found(w: World, response: Any) -> None:
    assert response.status_code == 404, response.text
    assert MARK not in response.text


def _lists_nothing_of_b(w: World, response: Any) -> None:
    assert response.status_code == 200, response.text
    _no_marker(w, response)


def _unchanged(before: tuple[Any, ...]) -> Callable[[World, Any], None]:
    def check(w: World, response: Any) -> None:
        assert response.status_code < 500
        assert w.b_state() == before

    return check


def _otlp_span() -> dict[str, Any]:
    span = {
        "traceId": B_TRACE, "spanId": "9" * 16, "name": "intruder", "kind": 3,
        "startTimeUnixNano": "1792056600000000000", "endTimeUnixNano": "1792056601000000000",
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "99"}}],
    }  # fmt: skip
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def _otlp_log() -> dict[str, Any]:
    record = {"traceId": B_TRACE, "spanId": B_SPAN, "body": {"stringValue": "overwrite"},
              "attributes": [{"key": "event.name",
                              "value": {"stringValue": "gen_ai.user.message"}}]}  # fmt: skip
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}


JSON = {"Content-Type": "application/json"}
Request = Callable[[World], Any]


def _b_ids(w: World) -> dict[str, Any]:
    return {"t": B_TRACE, "p": w.b_price, "b": w.b_budget, "w": w.b_webhook, "al": w.b_alert}


def get(path: str, **params: Any) -> Request:
    """GET with A's key; ``{t}`` is B's trace id, ``{p}`` B's price override id, ``{b}``,
    ``{w}`` and ``{al}`` B's budget, webhook and alert ids."""
    return lambda w: w.a.get(path.format(**_b_ids(w)), params=params)


def send(method: str, path: str, body: Any, raw: bool = False) -> Request:
    def request(w: World) -> Any:
        url = path.format(**_b_ids(w))
        if raw:
            return w.a.request(method, url, content=json.dumps(body), headers=JSON)
        return w.a.request(method, url, json=body)

    return request


def _b_experiment(then: Callable[[World, int], Any]) -> Request:
    """Give B an experiment (its task carries the marker), then make A's request about it."""

    def request(w: World) -> Any:
        with w.factory.begin() as session:
            row = Experiment(project_id=w.b_project, task_kind="feature", task_value=MARK,
                             baseline_model="gpt-4o", candidate_model="m",
                             sample_size=2)  # fmt: skip
            session.add(row)
            session.flush()
            experiment_id = row.id
        return then(w, experiment_id)

    return request


def _b_finance(then: Callable[[World, int], Any]) -> Request:
    """Give B this month's daily spend and a re-pricing job, both carrying the marker, then
    make A's request (about B's job id)."""

    def request(w: World) -> Any:
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        with w.factory.begin() as session:
            session.add(
                UsageDaily(
                    project_id=w.b_project,
                    day=day,
                    provider="",
                    model=MARK,
                    team=MARK,
                    feature="",
                    customer=MARK,
                    user_id="",
                    environment="",
                    service="",
                    calls=1,
                    cost=Decimal(1),
                )
            )
            job = RepricingJob(project_id=w.b_project, range_start=day, models=[MARK],
                               reason=MARK)  # fmt: skip
            session.add(job)
            session.flush()
            job_id = job.id
        return then(w, job_id)

    return request


def _b_spend(then: Request) -> Request:
    """Give B a spend anomaly alert (carrying the marker, on B's marked team's spend), then
    make A's request: A's forecast of that team is empty, A lists no anomaly of B."""

    def request(w: World) -> Any:
        details = {"day": datetime.now(UTC).date().isoformat(), "dimension": "team",
                   "value": MARK, "hours": 24, "actual": "1", "expected": "0.1",
                   "upper": "0.2", "excess": "0.9", "contributors": []}  # fmt: skip
        with w.factory.begin() as session:
            raise_alert(session, project_id=w.b_project, kind="spend_anomaly",
                        severity="warning", title=MARK, body=MARK,
                        dedup_key=f"spend_anomaly:{MARK}", details=details)  # fmt: skip
        response = then(w)
        if response.request.url.path.endswith("/forecast"):
            assert response.json()["spent"] == "0", "A's forecast must not see B's spend"
        return response

    return request


def _b_drift(then: Callable[[World], Any]) -> Request:
    """Give B a drift run with a drifted result and a model change (both carrying the
    marker), then make A's request."""

    def request(w: World) -> Any:
        now = datetime.now(UTC)
        with w.factory.begin() as session:
            run = DriftRun(project_id=w.b_project, as_of=now, baseline_start=now,
                           baseline_end=now, recent_start=now, recent_end=now, tests=1,
                           drifted=1)  # fmt: skip
            session.add(run)
            session.flush()
            session.add(DriftResult(project_id=w.b_project, run_id=run.id,
                                    segment_kind="feature", segment_value=MARK, metric=MARK,
                                    statistic="ks", stat_value=1, p_value=0, q_value=0,
                                    effect_name="psi", effect=1, baseline_n=1, recent_n=1,
                                    drifted=True))  # fmt: skip
            session.add(ModelChange(project_id=w.b_project, request_model=MARK,
                                    attribute="response_model", old_value=MARK, new_value=MARK,
                                    changed_at=now, last_old_at=now, old_count=1,
                                    new_count=1))  # fmt: skip
        return then(w)

    return request


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


SCORE = {"trace_id": B_TRACE, "name": "x", "value": 1}
RIGHTSIZING = {"task_key": "span_name", "score_names": ["a-only"]}
JUDGE = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "templates": ["correctness"]}
EXPERIMENT = {"task": MARK, "candidate_model": "gpt-4o-mini"}
BUDGET = {"name": "a-only", "limit_usd": "5", "period": "day"}
HOOK = {"url": "https://93.184.215.14/hook", "name": "a-only"}
#: (request made with project A's key against B's ids, what must hold afterwards).
CASES: dict[tuple[str, str], tuple[Request, str]] = {
    ("GET", "/api/v1/traces"): (get("/api/v1/traces", user_id="u2"), "lists"),
    ("GET", "/api/v1/traces/export"): (get("/api/v1/traces/export", format="jsonl"), "lists"),
    ("GET", "/api/v1/traces/{trace_id}"): (get("/api/v1/traces/{t}"), "404"),
    ("GET", "/api/v1/traces/{trace_id}/spans"): (get("/api/v1/traces/{t}/spans"), "404"),
    ("GET", "/api/v1/spans"): (get("/api/v1/spans", q=MARK), "lists"),
    ("GET", "/api/v1/spans/export"): (get("/api/v1/spans/export", format="csv"), "lists"),
    ("GET", "/api/v1/sessions"): (get("/api/v1/sessions"), "lists"),
    ("GET", "/api/v1/sessions/{session_id}"): (get("/api/v1/sessions/s2"), "404"),
    ("GET", "/api/v1/users"): (get("/api/v1/users"), "lists"),
    ("GET", "/api/v1/scores"): (get("/api/v1/scores", trace_id=B_TRACE), "404"),
    ("POST", "/api/v1/scores"): (send("POST", "/api/v1/scores", SCORE), "404+unchanged"),
    ("GET", "/api/v1/prices"): (get("/api/v1/prices"), "lists"),
    ("GET", "/api/v1/prices/changes"): (get("/api/v1/prices/changes"), "lists"),
    ("GET", "/api/v1/prices/{override_id}"): (get("/api/v1/prices/{p}"), "404"),
    ("POST", "/api/v1/prices"): (
        send("POST", "/api/v1/prices", PRICE | {"model_pattern": "a-only"}), "unchanged"),
    ("PUT", "/api/v1/prices/{override_id}"): (
        send("PUT", "/api/v1/prices/{p}", PRICE), "404+unchanged"),
    ("DELETE", "/api/v1/prices/{override_id}"): (
        send("DELETE", "/api/v1/prices/{p}", None), "404+unchanged"),
    ("POST", "/v1/traces"): (send("POST", "/v1/traces", _otlp_span(), raw=True), "unchanged"),
    ("POST", "/api/public/otel/v1/traces"): (
        send("POST", "/api/public/otel/v1/traces", _otlp_span(), raw=True), "unchanged"),
    ("POST", "/v1/logs"): (send("POST", "/v1/logs", _otlp_log(), raw=True), "unchanged"),
    ("GET", "/api/v1/budgets"): (get("/api/v1/budgets"), "lists"),
    ("POST", "/api/v1/budgets"): (send("POST", "/api/v1/budgets", BUDGET), "unchanged"),
    ("GET", "/api/v1/budgets/check"): (get("/api/v1/budgets/check", team=MARK), "lists"),
    ("GET", "/api/v1/budgets/{budget_id}"): (get("/api/v1/budgets/{b}"), "404"),
    ("GET", "/api/v1/budgets/{budget_id}/status"): (get("/api/v1/budgets/{b}/status"), "404"),
    ("PUT", "/api/v1/budgets/{budget_id}"): (
        send("PUT", "/api/v1/budgets/{b}", BUDGET), "404+unchanged"),
    ("DELETE", "/api/v1/budgets/{budget_id}"): (
        send("DELETE", "/api/v1/budgets/{b}", None), "404+unchanged"),
    ("GET", "/api/v1/alerts"): (get("/api/v1/alerts"), "lists"),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): (
        send("POST", "/api/v1/alerts/{al}/ack", None), "404+unchanged"),
    ("GET", "/api/v1/webhooks"): (get("/api/v1/webhooks"), "lists"),
    ("POST", "/api/v1/webhooks"): (send("POST", "/api/v1/webhooks", HOOK), "unchanged"),
    ("GET", "/api/v1/webhooks/{webhook_id}"): (get("/api/v1/webhooks/{w}"), "404"),
    ("PUT", "/api/v1/webhooks/{webhook_id}"): (
        send("PUT", "/api/v1/webhooks/{w}", HOOK), "404+unchanged"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): (
        send("DELETE", "/api/v1/webhooks/{w}", None), "404+unchanged"),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): (
        get("/api/v1/webhooks/{w}/deliveries"), "404"),
    ("GET", "/api/v1/recommendations"): (get("/api/v1/recommendations"), "lists"),
    ("GET", "/api/v1/rightsizing/settings"): (get("/api/v1/rightsizing/settings"), "lists"),
    ("PUT", "/api/v1/rightsizing/settings"): (
        send("PUT", "/api/v1/rightsizing/settings", RIGHTSIZING), "unchanged"),
    ("GET", "/api/v1/judge/settings"): (get("/api/v1/judge/settings"), "404"),
    ("PUT", "/api/v1/judge/settings"): (send("PUT", "/api/v1/judge/settings", JUDGE), "unchanged"),
    ("GET", "/api/v1/experiments"): (
        _b_experiment(lambda w, _: w.a.get("/api/v1/experiments")), "lists"),
    ("POST", "/api/v1/experiments"): (
        send("POST", "/api/v1/experiments", EXPERIMENT), "unchanged"),
    ("GET", "/api/v1/experiments/{experiment_id}"): (
        _b_experiment(lambda w, i: w.a.get(f"/api/v1/experiments/{i}")), "404"),
    ("GET", "/api/v1/costs"): (
        _b_finance(lambda w, _: w.a.get("/api/v1/costs", params={
            "granularity": "hour", "group_by": ["team", "model"]})), "lists"),
    ("GET", "/api/v1/chargeback"): (
        _b_finance(lambda w, _: w.a.get("/api/v1/chargeback", params={
            "month": _this_month(), "by": "customer"})), "lists"),
    ("GET", "/api/v1/repricing/jobs"): (
        _b_finance(lambda w, _: w.a.get("/api/v1/repricing/jobs")), "lists"),
    ("GET", "/api/v1/repricing/jobs/{job_id}"): (
        _b_finance(lambda w, i: w.a.get(f"/api/v1/repricing/jobs/{i}")), "404"),
    ("POST", "/api/v1/repricing/jobs"): (
        send("POST", "/api/v1/repricing/jobs", {"start": "2026-01-01T00:00:00Z"}), "unchanged"),
    ("POST", "/api/v1/repricing/preview"): (
        lambda w: w.a.post("/api/v1/repricing/preview",
                           json={"override_id": w.b_price, "delete": True}), "404+unchanged"),
    ("GET", "/api/v1/forecast"): (
        _b_spend(lambda w: w.a.get("/api/v1/forecast", params={"team": MARK})), "lists"),
    ("GET", "/api/v1/anomalies"): (_b_spend(lambda w: w.a.get("/api/v1/anomalies")), "lists"),
    ("GET", "/api/v1/drift"): (_b_drift(lambda w: w.a.get("/api/v1/drift")), "lists"),
    ("GET", "/api/v1/drift/model-changes"): (
        _b_drift(lambda w: w.a.get("/api/v1/drift/model-changes")), "lists"),
    ("GET", "/api/v1/drift/segments/{segment_kind}/{segment_value:path}"): (
        _b_drift(lambda w: w.a.get(f"/api/v1/drift/segments/feature/{MARK}")), "404"),
    ("GET", "/healthz"): (get("/healthz"), "no-marker"),
    ("GET", "/readyz"): (get("/readyz"), "no-marker"),
    ("GET", "/metrics"): (get("/metrics"), "no-marker"),
    ("GET", "/openapi.json"): (get("/openapi.json"), "no-marker"),
    ("GET", "/docs"): (get("/docs"), "no-marker"),
    ("GET", "/docs/oauth2-redirect"): (get("/docs/oauth2-redirect"), "no-marker"),
    ("GET", "/redoc"): (get("/redoc"), "no-marker"),
}  # fmt: skip


def test_every_route_has_an_isolation_case(app: FastAPI) -> None:
    assert app_routes(app) == set(CASES), "add a case to CASES for each new route"


@pytest.fixture
def world(app: FastAPI, session_factory: sessionmaker[Session]) -> Iterator[World]:
    with session_factory.begin() as session:
        a, b = keys.create_project(session, "a"), keys.create_project(session, "b")
        scopes = ("ingest", "read", "admin")
        a_key = keys.create_key(session, a, scopes, PEPPER).secret
        b_key = keys.create_key(session, b, scopes, PEPPER).secret
    seed(session_factory, b)
    with session_factory.begin() as session:  # A has data of its own: lists are not empty
        store_spans(session, a.id, trace(50, user_id="u2", session_id="s-a"))
    with session_factory.begin() as session:  # B's content carries the marker
        span = session.get_one(Span, (b.id, B_TRACE, B_SPAN))
        span.input_text, span.output = f"{MARK} prompt", [{"role": "assistant", "content": MARK}]
    with (TestClient(app, headers={"Authorization": f"Bearer {a_key}"}) as client_a,
          TestClient(app, headers={"Authorization": f"Bearer {b_key}"}) as client_b):  # fmt: skip
        price = client_b.post("/api/v1/prices", json=PRICE | {"model_pattern": MARK})
        assert price.status_code == 201, price.text
        world = World(client_a, client_b, session_factory, b.id, price.json()["id"])
        _b_governance(world, client_b)
        yield world


def _b_governance(world: World, client_b: TestClient) -> None:
    """B's exhausted hard team budget, a webhook and an alert, each carrying the marker."""
    budget = client_b.post(
        "/api/v1/budgets",
        json={"name": MARK, "scope": "team", "value": MARK, "limit_usd": "0.01", "hard": True},
    )
    hook = client_b.post("/api/v1/webhooks", json={"url": f"https://93.184.215.14/{MARK}",
                                                   "name": MARK})  # fmt: skip
    assert budget.status_code == 201, budget.text
    assert hook.status_code == 201, hook.text
    world.b_budget, world.b_webhook = budget.json()["id"], hook.json()["id"]
    with world.factory.begin() as session:
        alert = raise_alert(session, project_id=world.b_project, kind="budget", severity="info",
                            title=MARK, dedup_key=MARK)  # fmt: skip
        hour = floor_hour(datetime.now(UTC))
        cell = {"project_id": world.b_project, "provider": "", "model": "", "team": MARK,
                "feature": "", "customer": "", "user_id": "", "environment": "", "service": "",
                "cost": Decimal(1)}  # fmt: skip
        session.add(UsageHourly(hour=hour, **cell))
        session.add(UsageDaily(day=hour.replace(hour=0), **cell))
    assert alert is not None
    world.b_alert = alert
    check = client_b.get("/api/v1/budgets/check", params={"team": MARK})
    assert check.json()["ok"] is False, "B's own check sees its exhausted budget"


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_project_a_cannot_read_or_change_project_b(world: World, route: tuple[str, str]) -> None:
    request, expect = CASES[route]
    before = world.b_state()
    response = request(world)
    if expect == "404":
        _not_found(world, response)
    elif expect == "lists":
        _lists_nothing_of_b(world, response)
    elif expect == "no-marker":
        _no_marker(world, response)
    else:
        if expect.startswith("404"):
            _not_found(world, response)
        _unchanged(before)(world, response)
    assert world.b.get(f"/api/v1/prices/{world.b_price}").json()["model_pattern"] == MARK
    assert world.b.get(f"/api/v1/budgets/{world.b_budget}").json()["name"] == MARK
