"""Shared fixtures: a fresh PostgreSQL database per test, cloned from a migrated template."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.db import make_engine, make_session_factory
from core.migrate import upgrade
from core.models import Project
from core.settings import Settings
from tests.services import drop_database, missing_service, scratch_database, url_for

PEPPER = "test-pepper"


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """A database migrated once per test process; every test clones it (fast, isolated)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"tt_template_{worker}_{os.getpid()}"
    try:
        drop_database(name)
    except psycopg.OperationalError as exc:
        missing_service("PostgreSQL", exc)
    from tests.services import create_database

    create_database(name)
    upgrade(url_for(name))
    # A template must have no open connections when it is cloned.
    yield name
    drop_database(name)


@pytest.fixture
def database_url(template_database: str) -> Iterator[str]:
    with scratch_database(template=template_database) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, key_pepper=PEPPER, db_pool_size=4)  # type: ignore[arg-type]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def project(session_factory: sessionmaker[Session]) -> Project:
    with session_factory.begin() as session:
        return keys.create_project(session, "test-project")


@pytest.fixture
def api_key(session_factory: sessionmaker[Session], project: Project) -> str:
    with session_factory.begin() as session:
        return keys.create_key(session, project, ("ingest", "read"), PEPPER).secret


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect after every test so a leaked socket or file fails the test that leaked it."""
    yield
    import gc

    gc.collect()
