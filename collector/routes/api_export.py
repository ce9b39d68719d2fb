"""Streamed exports of a filtered trace or span list: CSV, JSON Lines and Parquet.

Rows are read page by page with the list's keyset cursor (one short session per page) and
written as they come, so an export of a million rows holds one page in memory. Each row is the
list item's JSON with nested values (messages, attributes) as JSON text, so all three formats
carry exactly what ``GET /api/v1/traces`` (or ``/spans``) returns.
"""

from __future__ import annotations

import csv
import io
import json
import types
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import StreamingResponse

from core.queries_views import Page

#: Most rows one export returns; narrow the filter (or page the list) for more.
MAX_EXPORT_ROWS = 1_000_000
#: What the export routes answer with, for OpenAPI.
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/x-ndjson": {},
                      "application/vnd.apache.parquet": {}}},
}  # fmt: skip
MaxRows = Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)]
EXPORT_PAGE = 500
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson",
               "parquet": "application/vnd.apache.parquet"}  # fmt: skip
_ARROW_TYPES: dict[Any, pa.DataType] = {int: pa.int64(), float: pa.float64(), bool: pa.bool_()}

Fetch = Callable[[Session, str | None], Page[Any]]


def flat_row(item: BaseModel) -> dict[str, Any]:
    """The item's JSON, nested values as compact JSON text (one cell each)."""
    row = item.model_dump(mode="json")
    return {k: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            if isinstance(v, dict | list) else v for k, v in row.items()}  # fmt: skip


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """int, float and bool fields keep their type; everything else is text."""
    fields = []
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            kind = next((a for a in typing.get_args(kind) if a is not type(None)), str)
        fields.append(pa.field(name, _ARROW_TYPES.get(kind, pa.string())))
    return pa.schema(fields)


def rows(factory: sessionmaker[Session], fetch: Fetch, model: type[BaseModel],
         max_rows: int) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Flat rows of every page, ``max_rows`` at most.

    The first page is read before the response starts, so a bad filter is still answered
    with its own status code instead of a broken download.
    """
    with factory() as session:
        page = fetch(session, None)
    return _rows_from(factory, fetch, model, max_rows, page)


def _rows_from(factory: sessionmaker[Session], fetch: Fetch, model: type[BaseModel],
               max_rows: int, page: Page[Any]) -> Iterator[dict[str, Any]]:  # fmt: skip
    sent = 0
    while True:
        for item in page.items[: max_rows - sent]:
            yield flat_row(model.model_validate(item))
        sent += len(page.items)
        if page.next_cursor is None or sent >= max_rows:
            return
        with factory() as session:
            page = fetch(session, page.next_cursor)


def _csv(source: Iterator[dict[str, Any]], model: type[BaseModel]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(model.model_fields))
    writer.writeheader()
    for n, row in enumerate(source, start=1):
        writer.writerow(row)
        if n % EXPORT_PAGE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _jsonl(source: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for row in source:
        yield (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class _Chunks(io.RawIOBase):
    """A write-only file that hands over what was written since the last drain."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _parquet(source: Iterator[dict[str, Any]], model: type[BaseModel]) -> Iterator[bytes]:
    schema, sink = arrow_schema(model), _Chunks()
    with pq.ParquetWriter(sink, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in source:
            batch.append(row)
            if len(batch) >= EXPORT_PAGE:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
                yield sink.drain()
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    yield sink.drain()


def export_response(fmt: str, name: str, factory: sessionmaker[Session], fetch: Fetch,
                    model: type[BaseModel], max_rows: int) -> StreamingResponse:  # fmt: skip
    """A streamed download of every row ``fetch`` pages through."""
    source = rows(factory, fetch, model, max_rows)
    body = {"csv": lambda: _csv(source, model), "jsonl": lambda: _jsonl(source),
            "parquet": lambda: _parquet(source, model)}[fmt]()  # fmt: skip
    extension = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}[fmt]
    headers = {"Content-Disposition": f'attachment; filename="{name}.{extension}"'}
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers=headers)
