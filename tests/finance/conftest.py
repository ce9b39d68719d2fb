"""Finance fixtures: a collector app with an admin client and a read-only client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import keys
from core.models import Project
from core.settings import Settings
from tests.conftest import PEPPER


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


def _client(app: FastAPI, factory: sessionmaker[Session], project: Project,
            scopes: tuple[str, ...]) -> TestClient:  # fmt: skip
    with factory.begin() as session:
        secret = keys.create_key(session, project, scopes, PEPPER).secret
    return TestClient(app, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def admin(
    app: FastAPI, session_factory: sessionmaker[Session], project: Project
) -> Iterator[TestClient]:
    with _client(app, session_factory, project, ("read", "admin")) as client:
        yield client


@pytest.fixture
def reader(
    app: FastAPI, session_factory: sessionmaker[Session], project: Project
) -> Iterator[TestClient]:
    with _client(app, session_factory, project, ("read",)) as client:
        yield client
