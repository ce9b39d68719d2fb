"""Databases built once per test run and cloned by every test that reads them.

Loading the 30-day demo through the SDK and the collector takes minutes on a loaded 2-CPU
machine, so it is done at most once per ``pytest`` run however many modules or xdist workers
read it. The run's controller names the run (:func:`name_the_run`) before the workers start and
drops the run's databases once they have all finished (:func:`drop_the_runs_databases`); a
PostgreSQL advisory lock makes the one worker that builds a database its only builder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

from psycopg import Connection, sql

from tests.services import admin_connect, create_database, drop_database, url_for

RUN_VARIABLE = "TOKENTRAIL_TEST_RUN"
PREFIX = "tt_shared_"


def name_the_run() -> None:
    """Give this run a name its xdist workers inherit (they start after ``pytest_configure``)."""
    os.environ[RUN_VARIABLE] = uuid.uuid4().hex[:10]


def drop_the_runs_databases() -> None:
    run = os.environ.get(RUN_VARIABLE)
    if not run:
        return
    with admin_connect() as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{PREFIX}{run}_%",)
        ).fetchall()
    for (name,) in names:
        drop_database(str(name))


def shared_database(key: str, template: str, build: Callable[[str], str]) -> tuple[str, str]:
    """This run's database ``key``: a clone of ``template`` filled by ``build(url)``, built by
    whichever process asks first while the others wait. Yields its name and the note ``build``
    returned (kept as the database's comment, so every process reads the same one). Clone it,
    never connect to it: a template with a connection open cannot be cloned."""
    name = f"{PREFIX}{os.environ[RUN_VARIABLE]}_{key}"
    with admin_connect() as conn:
        # Session-level: released when this connection closes, even if the build dies.
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        if note := _comment(conn, name):
            return name, note
        # Built under another name and renamed once complete: a build that died half-way is
        # never cloned.
        building = f"{name}_building"
        drop_database(building)
        create_database(building, template)
        try:
            note = build(url_for(building))
        except BaseException:
            drop_database(building)
            raise
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(building), sql.Literal(note)
            )
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)
            )
        )
    return name, note


def _comment(conn: Connection[tuple[object, ...]], name: str) -> str | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])
