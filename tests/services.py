"""Locating the real services tests need; missing ones fail under CI and skip elsewhere."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "TOKENTRAIL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TOKENTRAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def missing_service(what: str, error: Exception) -> None:
    """Fail under CI (a missing service is a broken machine), skip on a developer laptop."""
    message = f"{what} is not available: {error}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def url_for(database: str, base: str = ADMIN_URL) -> str:
    parts = urlsplit(base)
    return parts._replace(path="/" + database).geturl()


def admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


def create_database(name: str, template: str | None = None) -> None:
    with admin_connect() as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(query)


def drop_database(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def scratch_database(template: str | None = None) -> Iterator[str]:
    """A new, uniquely named database, dropped afterwards; yields its URL."""
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    create_database(name, template)
    try:
        yield url_for(name)
    finally:
        drop_database(name)


def redis_available() -> None:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            pass
    except OSError as exc:
        missing_service("Redis", exc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
