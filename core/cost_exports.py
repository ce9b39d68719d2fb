"""Finance downloads: rows of a cost report or chargeback statement as CSV, Parquet or XLSX.

Shared by the REST API and the dashboard. Money keeps its exact value where the format can:
CSV carries the Decimal's digits, Parquet a ``decimal128(22, 10)`` (the database's
``Numeric(22, 10)``); XLSX cells are numbers, which spreadsheets hold as binary floating point
(15–17 significant digits), so the workbook also states the exact total as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

Format = Literal["csv", "parquet", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MONEY_TYPE = pa.decimal128(22, 10)
#: Shown in spreadsheets: enough places for per-call costs.
MONEY_FORMAT = "0.00########"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def to_csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    """CSV with a header; Decimals as their exact digits, times as ISO 8601 UTC."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue().encode()


def _arrow_type(values: list[Any]) -> pa.DataType:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return pa.bool_()
    if isinstance(sample, Decimal):
        return MONEY_TYPE
    if isinstance(sample, int):
        return pa.int64()
    if isinstance(sample, float):
        return pa.float64()
    if isinstance(sample, datetime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def to_parquet(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    """Parquet with typed columns: money as decimal128(22, 10), times as UTC timestamps."""
    arrays, fields = [], []
    for column in columns:
        values = [row.get(column) for row in rows]
        kind = _arrow_type(values)
        if kind == MONEY_TYPE:
            values = [None if v is None else Decimal(v).quantize(Decimal("1e-10")) for v in values]
        arrays.append(pa.array(values, type=kind))
        fields.append(pa.field(column, kind))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), sink)
    return sink.getvalue()


Sheet = tuple[str, Sequence[str], Sequence[dict[str, Any]]]


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones: UTC
    return value


def to_xlsx(sheets: Sequence[Sheet], notes: Sequence[tuple[str, str]] = ()) -> bytes:
    """A workbook with one sheet per (title, columns, rows), and a ``Notes`` sheet of
    (label, text) pairs (the exact totals, the currency, the period)."""
    book = Workbook()
    if book.active is not None:
        book.remove(book.active)
    for title, columns, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(list(columns))
        for row in rows:
            sheet.append([_xlsx_value(row.get(c)) for c in columns])
        for index, column in enumerate(columns, start=1):
            if column in ("BilledCost", "EffectiveCost"):
                for cells in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cells[0].number_format = MONEY_FORMAT
        sheet.freeze_panes = "A2"
    if notes:
        sheet = book.create_sheet("Notes")
        for label, value in notes:
            sheet.append([label, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


__all__ = ["MEDIA_TYPES", "Format", "to_csv", "to_parquet", "to_xlsx"]
