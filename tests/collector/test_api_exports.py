"""Exports of filtered trace and span lists read back equal to the API's JSON."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from core.models import Project
from tests.collector.test_api_seed import seed


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], project: Project) -> None:
    seed(session_factory, project)


def api_rows(client: TestClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of the list, as the export flattens it (nested values as JSON text)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            path, params=params | {"limit": 2} | ({"cursor": cursor} if cursor else {})
        )
        body = page.json()
        items += body["items"]
        if (cursor := body["next_cursor"]) is None:
            break
    return [
        {
            k: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            if isinstance(v, dict | list)
            else v
            for k, v in item.items()
        }
        for item in items
    ]


def read_back(fmt: str, body: bytes) -> list[dict[str, Any]]:
    if fmt == "csv":
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    elif fmt == "jsonl":
        frame = pd.read_json(io.BytesIO(body), lines=True, dtype=False)
    else:
        frame = pd.read_parquet(io.BytesIO(body))
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def as_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """CSV has no types: compare it as the text each value prints as."""

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return str(v)
        return repr(v) if isinstance(v, float) and not v.is_integer() else str(v)

    return [{k: cell(v) for k, v in row.items()} for row in rows]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/traces", {"status": "ok", "sort": "cost"}),
        ("/api/v1/spans", {"team": "core"}),
        ("/api/v1/traces", {"q": "退款"}),
    ],
)
def test_export_round_trips_to_the_api_json(
    client: TestClient, fmt: str, path: str, params: dict[str, Any]
) -> None:
    expected = api_rows(client, path, params)
    assert expected  # the filter selects something
    response = client.get(f"{path}/export", params=params | {"format": fmt})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    got = read_back(fmt, response.content)
    if fmt == "csv":
        got = [{k: "" if v is None else v for k, v in row.items()} for row in got]
        expected_csv = as_text(expected)
        floats = {k for k, v in expected[0].items() if isinstance(v, float)}
        for row, want in zip(got, expected_csv, strict=True):
            for key in floats:
                row[key], want[key] = float(row[key]), float(want[key])
        assert got == expected_csv
    else:
        assert got == expected


@pytest.mark.usefixtures("seeded")
def test_export_of_an_empty_selection_is_a_valid_empty_file(client: TestClient) -> None:
    response = client.get("/api/v1/traces/export", params={"format": "parquet", "service": "x"})
    frame = pd.read_parquet(io.BytesIO(response.content))
    assert len(frame) == 0
    assert "trace_id" in frame.columns


@pytest.mark.usefixtures("seeded")
def test_max_rows_bounds_an_export(client: TestClient) -> None:
    response = client.get("/api/v1/spans/export", params={"format": "jsonl", "max_rows": 3})
    assert len(response.content.splitlines()) == 3
