"""The bulk half of the write path: binary COPY into a staging table, then one
``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` into ``spans``.

COPY is PostgreSQL's fastest way in (no per-row statement, binary values), but it cannot skip
duplicates; the staging table takes the rows as they come and the single INSERT applies the
conflict rule. The staging table is a per-connection temporary table (no WAL, never visible
to other sessions) emptied at every commit, so a pooled connection reuses it without bloat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import psycopg
import psycopg.errors
from psycopg.types.json import Jsonb
from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sa_types
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from core.models import Span

STAGE = "span_stage"
#: Columns the server fills in (defaults at insert time), never staged.
SERVER_COLUMNS = frozenset({"ingested_at"})
#: Used by the SQL below; the column list is derived from the model, never from input.
_KEY = ("project_id", "trace_id", "span_id")
#: JSONB parses what it is sent, so spaces after separators are bytes for nothing; the values
#: are trees built from decoded input, never cyclic, so the cycle check is skipped too.
_dump_json = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode


def _pg_type(column_type: sa_types.TypeEngine[Any]) -> str:
    """The PostgreSQL type name psycopg's binary dumpers need for a column."""
    if isinstance(column_type, JSONB):
        return "jsonb"
    if isinstance(column_type, ARRAY):
        return "text[]"
    if isinstance(column_type, sa_types.DateTime):
        return "timestamptz"
    if isinstance(column_type, sa_types.Double):
        return "float8"
    if isinstance(column_type, sa_types.Numeric):
        return "numeric"
    if isinstance(column_type, sa_types.BigInteger | sa_types.Integer):
        return "int8"
    return "text"


@lru_cache(maxsize=1)
def staged_columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names and binary COPY types of the staged ``spans`` columns, in table order."""
    columns = [c for c in Span.__table__.columns if c.name not in SERVER_COLUMNS]
    return tuple(c.name for c in columns), tuple(_pg_type(c.type) for c in columns)


@lru_cache(maxsize=1)
def _statements() -> tuple[str, str, str]:
    names, _ = staged_columns()
    listed = ", ".join(names)
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} "
        f"(LIKE spans INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    copy = f"COPY {STAGE} ({listed}) FROM STDIN (FORMAT BINARY)"
    insert = (
        f"INSERT INTO spans ({listed}) SELECT {listed} FROM {STAGE} "
        f"ORDER BY {', '.join(_KEY)} "
        f"ON CONFLICT ({', '.join(_KEY)}) DO NOTHING RETURNING trace_id, span_id"
    )
    return create, copy, insert


def copy_spans(session: Session, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert ``rows`` (``spans`` column → value) once; return the keys that were new.

    New spans, the usual case, are copied straight into ``spans`` inside a savepoint; if any
    of them already exists (a re-send), the savepoint is rolled back and the batch goes
    through the staging table, whose INSERT skips what is already stored.

    Runs in the session's transaction, so the spans commit (or not) with everything else the
    caller does. Driver errors are raised as SQLAlchemy errors, like every other statement,
    so the collector maps them (bad value → 400, lost connection → 503) in one place.
    """
    if not rows:
        return set()
    connection = session.connection()
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    names, types = staged_columns()
    wraps = [_as_json if t == "jsonb" else _as_is for t in types]
    values = [[wrap(row[name]) for name, wrap in zip(names, wraps, strict=True)] for row in rows]
    try:
        with raw.cursor() as cursor:
            if _copy_new(raw, cursor, values):
                return {(row["trace_id"], row["span_id"]) for row in rows}
            return _copy_staged(cursor, values)
    except psycopg.Error as exc:
        raise _wrapped(connection, exc) from exc


def _copy(cursor: psycopg.Cursor[Any], statement: str, values: list[list[Any]]) -> None:
    with cursor.copy(statement) as writer:
        writer.set_types(list(staged_columns()[1]))
        for row in values:
            writer.write_row(row)


def _copy_new(
    raw: psycopg.Connection[Any], cursor: psycopg.Cursor[Any], values: list[list[Any]]
) -> bool:
    """Copy straight into ``spans``; False (and nothing written) if a span already exists."""
    try:
        with raw.transaction():  # a savepoint inside the session's transaction
            _copy(cursor, _statements()[1].replace(STAGE, "spans", 1), values)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _copy_staged(cursor: psycopg.Cursor[Any], values: list[list[Any]]) -> set[tuple[str, str]]:
    create, copy, insert = _statements()
    cursor.execute(create)
    _copy(cursor, copy, values)
    cursor.execute(insert)
    return {(trace_id, span_id) for trace_id, span_id in cursor.fetchall()}


def _as_json(value: Any) -> Jsonb:
    """JSON columns keep ``None`` as JSON ``null``, as SQLAlchemy's JSONB type stores it."""
    return Jsonb(value, dumps=_dump_json)


def _as_is(value: Any) -> Any:
    return value


def _wrapped(connection: Any, exc: psycopg.Error) -> sa_exc.StatementError:
    dbapi_connection = connection.connection.dbapi_connection
    disconnect = connection.dialect.is_disconnect(exc, dbapi_connection, None)
    wrapped = sa_exc.DBAPIError.instance(
        "COPY spans", None, exc, psycopg.Error, connection_invalidated=disconnect
    )
    if disconnect:
        connection.invalidate(wrapped)
    return wrapped
