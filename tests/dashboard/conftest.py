"""Dashboard tests run the real Streamlit app (AppTest) against a per-test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys
from core.settings import get_settings
from tests.dashboard.demo import Demo, seed_demo

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


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
def demo(session_factory: sessionmaker[Session], default_project: int) -> Demo:
    with session_factory.begin() as session:
        return seed_demo(session, default_project)


@pytest.fixture
def app(dashboard_env: None) -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)
