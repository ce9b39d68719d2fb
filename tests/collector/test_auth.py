"""Keys: Bearer, x-api-key and Basic; 401 without a valid key, 403 without the scope;
a revoked key stops working within the cache TTL."""

from __future__ import annotations

import base64
import time

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import keys
from core.models import Project
from core.settings import Settings
from tests.collector.conftest import PROTOBUF, export_request, make_span
from tests.conftest import PEPPER

BODY = export_request(make_span()).SerializeToString()


def _post(app: FastAPI, headers: dict[str, str], path: str = "/v1/traces") -> int:
    with TestClient(app) as client:
        return client.post(path, content=BODY, headers={**PROTOBUF, **headers}).status_code


def test_missing_key_is_401(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.post("/v1/traces", content=BODY, headers=PROTOBUF)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_key_is_401(app: FastAPI) -> None:
    assert _post(app, {"Authorization": "Bearer tt_not-a-key"}) == 401


def test_x_api_key_header_is_accepted(app: FastAPI, api_key: str) -> None:
    assert _post(app, {"x-api-key": api_key}) == 200


def test_langfuse_path_takes_basic_auth_with_the_key_as_password(
    app: FastAPI, api_key: str
) -> None:
    basic = base64.b64encode(f"pk-lf-anything:{api_key}".encode()).decode()
    assert _post(app, {"Authorization": f"Basic {basic}"}, "/api/public/otel/v1/traces") == 200


def test_key_without_ingest_scope_is_403(
    app: FastAPI, session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        reader = keys.create_key(session, project, ("read",), PEPPER).secret
    assert _post(app, {"Authorization": f"Bearer {reader}"}) == 403


def test_revoked_key_is_refused_within_the_cache_ttl(
    settings: Settings, session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        new = keys.create_key(session, project, ("ingest",), PEPPER)
    app = create_app(settings.model_copy(update={"key_cache_ttl_s": 0.3}))
    try:
        assert _post(app, {"Authorization": f"Bearer {new.secret}"}) == 200
        with session_factory.begin() as session:
            keys.revoke_key(session, project, new.id)
        time.sleep(0.4)
        assert _post(app, {"Authorization": f"Bearer {new.secret}"}) == 401
    finally:
        app.state.engine.dispose()
