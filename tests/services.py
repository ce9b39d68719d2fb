"""Locating the real services tests need; missing ones fail under CI and skip elsewhere."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


#: Drops one test process keeps in flight at once (each holds a connection while it waits).
DROPS_IN_FLIGHT = 8


class Clones:
    """Fresh clones of one template, made one test ahead and dropped behind, on threads.

    A clone takes a tenth of a second or more to make, and a drop waits for a checkpoint
    (PostgreSQL 15 forces one per DROP DATABASE): a second or two while other work is writing.
    Made ahead and dropped behind, they overlap the tests instead of adding to them; drops
    in flight together share a checkpoint, so a few run at once and keep up with the tests.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        self._creator = ThreadPoolExecutor(1, thread_name_prefix="clone")
        self._dropper = ThreadPoolExecutor(DROPS_IN_FLIGHT, thread_name_prefix="drop")
        self._next = self._clone()
        self._drops: list[Future[None]] = []

    def _clone(self) -> Future[str]:
        return self._creator.submit(self._create, f"tt_test_{uuid.uuid4().hex[:12]}")

    def _create(self, name: str) -> str:
        create_database(name, self.template)
        return name

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A clone no test has used; yields its URL and drops it afterwards."""
        self._raise_failed_drops()
        ready, self._next = self._next, self._clone()
        name = ready.result()
        try:
            yield url_for(name)
        finally:
            self._drops.append(self._dropper.submit(drop_database, name))

    def _raise_failed_drops(self) -> None:
        done = [d for d in self._drops if d.done()]
        self._drops = [d for d in self._drops if not d.done()]
        for drop in done:
            drop.result()  # a failed drop fails the next test to ask, rather than nobody

    def close(self) -> None:
        """Wait for the pending drops and drop the clone made ahead."""
        self._creator.shutdown(wait=True)
        self._dropper.shutdown(wait=True)
        for drop in self._drops:
            drop.result()
        if self._next.exception() is None:
            drop_database(self._next.result())


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
