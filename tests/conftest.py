"""Shared fixtures: a fresh PostgreSQL database per test, cloned from a migrated template."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

import psycopg
import pytest
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys
from core.db import make_engine, make_session_factory
from core.migrate import upgrade
from core.models import Project
from core.settings import Settings, get_settings
from tests.demo_history import DemoHistory, shared_demo_history
from tests.pages import APP
from tests.services import Clones, create_database, drop_database, missing_service, url_for
from tests.shared_databases import drop_the_runs_databases, name_the_run

PEPPER = "test-pepper"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        name_the_run()


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        # Without PostgreSQL there is nothing to drop; the tests that needed it have said so.
        with contextlib.suppress(psycopg.OperationalError):
            drop_the_runs_databases()


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """A database migrated once per test process; every test clones it (fast, isolated)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"tt_template_{worker}_{os.getpid()}"
    try:
        drop_database(name)
    except psycopg.OperationalError as exc:
        missing_service("PostgreSQL", exc)
    create_database(name)
    upgrade(url_for(name))
    # A template must have no open connections when it is cloned.
    yield name
    drop_database(name)


@pytest.fixture(scope="session")
def clones(template_database: str) -> Iterator[Clones]:
    clones = Clones(template_database)
    yield clones
    clones.close()


@pytest.fixture(scope="session")
def demo_history(template_database: str) -> DemoHistory:
    """The 30-day demo history, loaded once per run (see tests/demo_history.py)."""
    return shared_demo_history(template_database)


@pytest.fixture
def database_url(clones: Clones) -> Iterator[str]:
    """A fresh clone of the migrated template for this test alone."""
    with clones.fresh() as url:
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


@pytest.fixture(scope="module", autouse=True)
def _collect_all_garbage_between_modules() -> None:
    """A full collection before each module: garbage made outside a test (a module fixture's
    teardown, say) is collected too, and memory frozen below is returned."""
    gc.unfreeze()
    gc.collect()


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect after every test so a leaked socket or file fails the test that leaked it.

    Everything alive when the test starts is frozen first, so the collection afterwards walks
    only what the test made: a fraction of a second less per test than walking the whole heap
    of a worker that has imported the dashboard, pandas and the collector.
    """
    gc.collect()
    gc.freeze()
    yield
    gc.collect()


@pytest.fixture
def dashboard_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """Point the dashboard at this test's database; release its cached engine afterwards."""
    monkeypatch.setenv("TOKENTRAIL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    st.cache_resource.clear()  # disposes the engine (on_release) before the database is dropped
    get_settings.cache_clear()


@pytest.fixture
def default_project(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as session:
        return keys.ensure_project(session)[0].id


@pytest.fixture
def app(dashboard_env: None) -> AppTest:
    """The whole dashboard under AppTest (a page run may take a while on a busy machine)."""
    return AppTest.from_file(str(APP), default_timeout=60)
