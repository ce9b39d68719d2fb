"""Data access for the pages: one cached engine, a short session per call, core.queries inside.

Pages never build queries; they call these functions and render what comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import keys, queries
from core.db import make_engine, make_session_factory
from core.queries import Overview, Page, TraceDetail, TraceSummary
from core.settings import Settings, get_settings

PAGE_SIZE = 50


def _dispose(engine: Engine) -> None:
    engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_dispose)
def _engine_for(database_url: str, _settings: Settings) -> Engine:
    # Keyed by URL (``_settings`` is not hashed), so pointing the process at another database
    # builds a new engine instead of reusing a pool connected to the old one.
    return make_engine(_settings, pool_size=5)


def engine() -> Engine:
    """The process-wide engine for ``TOKENTRAIL_DATABASE_URL`` (raises ConfigurationError)."""
    settings = get_settings()
    return _engine_for(settings.database_url or "", settings)


@contextmanager
def read_session() -> Iterator[Session]:
    """A short session for reads; it is closed (rolled back) on exit, never committed."""
    with make_session_factory(engine())() as session:
        yield session


def projects() -> list[tuple[int, str]]:
    """Every project as ``(id, name)``, oldest first."""
    with read_session() as session:
        return [(p.id, p.name) for p in keys.list_projects(session)]


def trace_page(project_id: int, cursor: str | None, **filters: Any) -> Page[TraceSummary]:
    """One page of the trace list; ``filters`` are :func:`core.queries.list_traces` keywords."""
    with read_session() as session:
        return queries.list_traces(session, project_id, limit=PAGE_SIZE, cursor=cursor, **filters)


def facets(project_id: int, start: datetime | None) -> dict[str, list[str]]:
    with read_session() as session:
        return queries.trace_facets(session, project_id, start=start)


def trace(project_id: int, trace_id: str) -> TraceDetail | None:
    with read_session() as session:
        return queries.get_trace(session, project_id, trace_id)


def overview(project_id: int, start: datetime, end: datetime) -> Overview:
    with read_session() as session:
        return queries.overview(session, project_id, start, end)
