"""Keyset paging: an opaque cursor carries the last row's sort value and its unique tie-breakers.

A deep page costs what the first one does, and rows inserted after the first page (newer
than the cursor under a time sort) never shift later pages: no duplicates, no gaps.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import Session

from core.errors import InvalidInputError

MAX_PAGE_SIZE = 500
_TIE_SEPARATOR = ":"

#: How a sort value travels in a cursor, by type tag: (type, to JSON, from JSON).
_CODECS: dict[str, tuple[type, Callable[[Any], Any], Callable[[Any], Any]]] = {
    "dt": (datetime, datetime.isoformat, datetime.fromisoformat),
    "td": (timedelta, lambda d: d // timedelta(microseconds=1),
           lambda v: timedelta(microseconds=int(v))),
    "dec": (Decimal, str, Decimal),
    "int": (int, int, int),
    "f": (float, float, float),
}  # fmt: skip


def _tag_of(value: Any) -> str:
    for tag, (kind, _, _) in _CODECS.items():
        if isinstance(value, kind) and not isinstance(value, bool):
            return tag
    raise TypeError(f"no cursor codec for {type(value).__name__}")


def encode_cursor(sort: str, value: Any, tie: str) -> str:
    """An opaque cursor: base64 of the sort, the sort key's value and the row's tie-breaker."""
    tag = _tag_of(value)
    data = {"s": sort, "k": tag, "v": _CODECS[tag][1](value), "t": tie}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str) -> tuple[Any, str]:
    """The (sort value, tie) a cursor carries; a malformed or foreign one is invalid input."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort or not isinstance(data["t"], str):
            raise ValueError("cursor belongs to another sort order")
        return _CODECS[data["k"]][2](data["v"]), data["t"]
    except (ValueError, KeyError, TypeError, InvalidOperation, binascii.Error) as exc:
        raise InvalidInputError("invalid cursor") from exc


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")


def ordered_after(
    query: Select[Any], key: Any, ties: Sequence[Any], *, sort: str, cursor: str | None
) -> Select[Any]:
    """``query`` in list order (largest ``key`` first, then ``ties``), from after ``cursor``."""
    if cursor:
        value, tie = decode_cursor(sort, cursor)
        parts = tie.split(_TIE_SEPARATOR)
        if len(parts) != len(ties):
            raise InvalidInputError("invalid cursor")
        after = tuple_(literal(value, key.type), *(literal(p) for p in parts))
        query = query.where(tuple_(key, *ties) < after)
    return query.order_by(key.desc(), *(c.desc() for c in ties))


def keyset_rows(
    session: Session, query: Select[Any], key: Any, ties: Sequence[Any], *,
    sort: str, limit: int, cursor: str | None,
) -> tuple[list[Any], str | None]:  # fmt: skip
    """Rows of ``query`` (which selects ``(entity, key)``) after ``cursor``, largest key first.

    ``ties`` are columns that make the order total (the primary key after the project); the
    cursor names the last row by them.
    """
    check_limit(limit)
    query = ordered_after(query, key, ties, sort=sort, cursor=cursor).limit(limit + 1)
    rows = list(session.execute(query).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last, last_value = rows[-1]
    tie = _TIE_SEPARATOR.join(str(getattr(last, c.key)) for c in ties)
    return rows, encode_cursor(sort, last_value, tie)
