"""Dashboard tests run the real Streamlit app (AppTest) against a per-test database."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.dashboard.demo import Demo, seed_demo


@pytest.fixture
def demo(session_factory: sessionmaker[Session], default_project: int) -> Demo:
    with session_factory.begin() as session:
        return seed_demo(session, default_project)
