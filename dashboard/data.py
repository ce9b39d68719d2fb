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

from core import keys, queries, users
from core.db import make_engine, make_session_factory
from core.queries import Overview, Page, ScoreMean, TraceDetail, TraceSummary
from core.queries_annotations import add_human_score
from core.queries_sessions import get_session, list_end_users, list_sessions
from core.queries_views import EndUser, SessionDetail, SessionSummary
from core.settings import Settings, get_settings
from core.users import SignedIn

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


def trace_page(
    project_id: int, cursor: str | None, content: bool = True, **filters: Any
) -> Page[TraceSummary]:
    """One page of the trace list; ``filters`` are :func:`core.queries.list_traces` keywords.

    Without ``content`` (the finance role) the read layer refuses text search.
    """
    with read_session() as session:
        return queries.list_traces(
            session, project_id, limit=PAGE_SIZE, cursor=cursor, content=content, **filters
        )


def facets(project_id: int, start: datetime | None) -> dict[str, list[str]]:
    with read_session() as session:
        return queries.trace_facets(session, project_id, start=start)


def trace(
    project_id: int, trace_id: str, content: bool = True, span_limit: int = 2_000
) -> TraceDetail | None:
    """The trace with its first ``span_limit`` spans; prompts and completions only with
    ``content`` (the read layer leaves them out otherwise)."""
    with read_session() as session:
        return queries.get_trace(
            session, project_id, trace_id, span_limit=span_limit, content=content
        )


def overview(project_id: int, start: datetime, end: datetime) -> Overview:
    with read_session() as session:
        return queries.overview(session, project_id, start, end)


def score_means(project_id: int, start: datetime, end: datetime) -> list[ScoreMean]:
    with read_session() as session:
        return queries.score_means(session, project_id, start, end)


def sessions(
    project_id: int, start: datetime | None, user_id: str | None, cursor: str | None
) -> Page[SessionSummary]:
    with read_session() as session:
        return list_sessions(session, project_id, start=start, user_id=user_id,
                             limit=PAGE_SIZE, cursor=cursor)  # fmt: skip


def conversation(project_id: int, session_id: str, content: bool = True) -> SessionDetail | None:
    with read_session() as session:
        return get_session(session, project_id, session_id, content=content)


def end_users(project_id: int, start: datetime | None, cursor: str | None) -> Page[EndUser]:
    with read_session() as session:
        return list_end_users(session, project_id, start=start, limit=PAGE_SIZE, cursor=cursor)


def add_score(project_id: int, trace_id: str, **score: Any) -> None:
    """Store a reviewer's score (``core.queries_annotations.add_human_score`` keywords)."""
    with make_session_factory(engine()).begin() as session:
        add_human_score(session, project_id, trace_id, **score)


def sign_in_required() -> bool:
    """Whether any dashboard user exists (else the dashboard runs open, in laptop mode)."""
    with read_session() as session:
        return users.any_users(session)


def sign_in(email: str, password: str) -> SignedIn | None:
    with read_session() as session:
        return users.sign_in(session, email, password)
