"""Price overrides over REST: scopes, project walls, audit, and the price ingestion uses."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.models import PriceChange, Project, Span
from tests.collector.conftest import PROTOBUF, T0_NS, export_request, llm_attributes, make_span
from tests.conftest import PEPPER

NEW_PRICE: dict[str, Any] = {
    "model_pattern": "gpt-4o*",
    "provider": "openai",
    "effective_from": "2026-10-15T09:30:00Z",
    "input_per_mtok": "2",
    "output_per_mtok": "8",
}


def _key(factory: sessionmaker[Session], project: Project, *scopes: str) -> dict[str, str]:
    with factory.begin() as session:
        secret = keys.create_key(session, project, scopes, PEPPER).secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(
    app: FastAPI, session_factory: sessionmaker[Session], project: Project
) -> Iterator[TestClient]:
    with TestClient(app, headers=_key(session_factory, project, "admin", "ingest")) as client:
        yield client


def test_admin_creates_lists_updates_and_deletes_with_an_audit_trail(
    admin: TestClient, session_factory: sessionmaker[Session]
) -> None:
    created = admin.post("/api/v1/prices", json=NEW_PRICE)
    assert created.status_code == 201, created.text
    override_id = created.json()["id"]
    assert Decimal(created.json()["input_per_mtok"]) == 2
    changed = admin.put(f"/api/v1/prices/{override_id}", json={**NEW_PRICE, "input_per_mtok": 3})
    assert Decimal(changed.json()["input_per_mtok"]) == 3
    assert [p["id"] for p in admin.get("/api/v1/prices").json()] == [override_id]
    assert admin.delete(f"/api/v1/prices/{override_id}").status_code == 204
    assert admin.get("/api/v1/prices").json() == []
    assert admin.get(f"/api/v1/prices/{override_id}").status_code == 404
    with session_factory() as session:
        trail = session.scalars(select(PriceChange).order_by(PriceChange.id)).all()
    assert [c.action for c in trail] == ["create", "update", "delete"]
    before, after = trail[1].before or {}, trail[1].after or {}
    assert Decimal(before["input_per_mtok"]) == 2
    assert Decimal(after["input_per_mtok"]) == 3
    assert trail[2].after is None
    assert {c.actor for c in trail} == {trail[0].actor}
    assert trail[0].actor.startswith("api-key:")
    assert len(admin.get("/api/v1/prices/changes").json()) == 3


def test_read_scope_reads_but_cannot_write(admin: TestClient, client: TestClient) -> None:
    admin.post("/api/v1/prices", json=NEW_PRICE)
    assert len(client.get("/api/v1/prices").json()) == 1
    assert client.post("/api/v1/prices", json=NEW_PRICE).status_code == 403


def test_another_projects_override_answers_404(
    app: FastAPI, admin: TestClient, session_factory: sessionmaker[Session]
) -> None:
    override_id = admin.post("/api/v1/prices", json=NEW_PRICE).json()["id"]
    with session_factory.begin() as session:
        other = keys.create_project(session, "other")
    with TestClient(app, headers=_key(session_factory, other, "admin", "read")) as stranger:
        assert stranger.get(f"/api/v1/prices/{override_id}").status_code == 404
        assert stranger.put(f"/api/v1/prices/{override_id}", json=NEW_PRICE).status_code == 404
        assert stranger.delete(f"/api/v1/prices/{override_id}").status_code == 404
        assert stranger.get("/api/v1/prices").json() == []
        assert stranger.get("/api/v1/prices/changes").json() == []
    assert admin.get(f"/api/v1/prices/{override_id}").status_code == 200


INVALID = [
    {"model_pattern": " "},
    {"input_per_mtok": "-1"},
    {"tiers": [{"above_input_tokens": 0}]},
    {"surprise": 1},
]


@pytest.mark.parametrize("change", INVALID)
def test_invalid_override_is_422(admin: TestClient, change: dict[str, Any]) -> None:
    assert admin.post("/api/v1/prices", json={**NEW_PRICE, **change}).status_code == 422


def test_ingested_spans_use_the_override_from_its_effective_date(
    admin: TestClient, session_factory: sessionmaker[Session]
) -> None:
    override_id = admin.post("/api/v1/prices", json=NEW_PRICE).json()["id"]
    attributes = llm_attributes(**{"gen_ai.usage.input_tokens": 1_000})
    before = make_span("1" * 16, attributes=attributes, start_ns=T0_NS - 10**9)
    after = make_span("2" * 16, attributes=attributes, start_ns=T0_NS)
    body = export_request(before, after).SerializeToString()
    assert admin.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
    with session_factory() as session:
        spans = {s.span_id: s for s in session.scalars(select(Span))}
    assert spans["2" * 16].price_ref == f"override:{override_id}"
    assert spans["2" * 16].cost == (1_000 * Decimal(2) + 20 * Decimal(8)) / Decimal(10**6)
    assert (spans["1" * 16].price_ref or "").startswith("genai-prices")


def test_prices_api_is_documented_in_openapi(admin: TestClient) -> None:
    paths = admin.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/prices"]) == {"get", "post"}
    assert set(paths["/api/v1/prices/{override_id}"]) == {"get", "put", "delete"}
    body = paths["/api/v1/prices"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/PriceOverrideIn")


def test_cli_sets_lists_and_deletes_overrides(
    database_url: str, project: Project, session_factory: sessionmaker[Session]
) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    runner = CliRunner(env={"TOKENTRAIL_DATABASE_URL": database_url})
    scope = ["--project", project.name]
    made = runner.invoke(cli, ["prices", "set", "claude-*", "--input", "3", "--output", "15",
                               "--tier", "200000:6:22.5", "--effective-from",
                               "2026-01-01T00:00:00Z", *scope])  # fmt: skip
    assert made.exit_code == 0, made.output
    override_id = made.output.split()[-1]
    listed = runner.invoke(cli, ["prices", "list", *scope])
    assert f"{override_id}\t*\tclaude-*\t2026-01-01T00:00:00+00:00\t3\t15" in listed.output
    bad = runner.invoke(cli, ["prices", "set", "x", "--input", "-1", "--output", "1", *scope])
    assert bad.exit_code != 0
    assert runner.invoke(cli, ["prices", "delete", override_id, *scope]).exit_code == 0
    with session_factory() as session:
        actions = session.scalars(select(PriceChange.action).order_by(PriceChange.id)).all()
        actors = set(session.scalars(select(PriceChange.actor)))
    assert actions == ["create", "delete"]
    assert all(a.startswith("cli:") for a in actors)
