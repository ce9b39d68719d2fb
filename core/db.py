"""Engine and session factories. Nothing connects at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ConfigurationError
from core.settings import Settings, get_settings


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver whatever spelling of the PostgreSQL scheme was given."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"TokenTrail runs on PostgreSQL only, got {parsed.drivername!r}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def make_engine(settings: Settings, *, pool_size: int | None = None) -> Engine:
    """A pooled engine whose pool waits briefly, so overload is answered instead of queued."""
    if not settings.database_url:
        raise ConfigurationError(
            "TOKENTRAIL_DATABASE_URL is not set; start the platform with `tokentrail up` "
            "or point TOKENTRAIL_DATABASE_URL at a PostgreSQL server"
        )
    size = pool_size if pool_size is not None else settings.db_pool_size
    return create_engine(
        normalise_url(settings.database_url),
        pool_size=size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            "application_name": "tokentrail",
        },
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (they are handed to templates and JSON)."""
    return sessionmaker(engine, expire_on_commit=False)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine built from :func:`get_settings`."""
    return make_engine(get_settings())


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    maker = factory or make_session_factory(get_engine())
    with maker() as session, session.begin():
        yield session
