"""Drift tests: a project's synthetic traffic stored through the one write path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.ingest import store_spans
from core.models import Project
from tests.drift.synthetic import Shift, Traffic

#: Recent windows end on this hour in every synthetic test, so results never depend on "now".
RECENT_END = datetime(2026, 11, 20, 12, tzinfo=UTC)

Loader = Callable[..., Traffic]


@pytest.fixture
def load_traffic(session_factory: sessionmaker[Session], project: Project) -> Loader:
    """Store synthetic traffic for ``project``: ``load_traffic(seed, shift=Shift(...))``."""

    def load(seed: int = 1, shift: Shift | None = None, **options: object) -> Traffic:
        traffic = Traffic(seed, RECENT_END, shift=shift or Shift(), **options)  # type: ignore[arg-type]
        with session_factory.begin() as session:
            store_spans(session, project.id, traffic.records())
        return traffic

    return load
