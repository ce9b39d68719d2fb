"""The finance routes: cost reports, chargeback, re-pricing jobs and previews, bad input."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from core import repricing
from core.ingest import store_spans
from core.models import Project
from tests.finance.spans import T0, llm, span_cost

DAY0 = T0.replace(hour=0)


@pytest.fixture
def spans(session_factory: sessionmaker[Session], project: Project) -> Decimal:
    """12 spans over two months' boundary (Oct 30 20:00 → Oct 31 07:00), 4 unattributed."""
    batch = [llm(n, start_time=T0 + timedelta(hours=n), team=("search", "support", None)[n % 3],
                 customer=("acme", None)[n % 2], request_model=("gpt-4o", "gpt-4o-mini")[n % 2],
                 cost=Decimal("0.0012345678") * (n + 1))
             for n in range(12)]  # fmt: skip
    batch.append(llm(99, start_time=T0.replace(day=31, hour=23), cost=None, cost_source="unknown"))
    with session_factory.begin() as session:
        store_spans(session, project.id, batch)
    with session_factory() as session:
        return span_cost(session, project.id)


def _range(days: int = 3) -> dict[str, str]:
    return {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=days)).isoformat()}


def test_costs_by_team_and_day_total_the_span_costs(reader: TestClient, spans: Decimal) -> None:
    response = reader.get("/api/v1/costs", params=_range() | {"group_by": ["team"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "usage_daily"
    assert Decimal(body["total_cost"]) == spans
    assert sum(Decimal(r["BilledCost"]) for r in body["rows"]) == spans
    assert {r["x_Team"] for r in body["rows"]} == {"search", "support", ""}
    first = body["rows"][0]
    assert first["ChargePeriodStart"].startswith("2026-10-30T00:00:00")
    assert (first["BillingCurrency"], first["ChargeCategory"]) == ("USD", "Usage")
    assert body["unpriced_calls"] == 1


def test_costs_filter_by_team_and_hourly_source(reader: TestClient, spans: Decimal) -> None:
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=6)).isoformat(),
              "granularity": "hour", "team": ["search"], "group_by": ["model", "user"]}  # fmt: skip
    body = reader.get("/api/v1/costs", params=params).json()
    assert body["source"] == "usage_hourly"
    assert body["group_by"] == ["model", "user_id"]
    assert [r["x_Calls"] for r in body["rows"]] == [1, 1]  # n = 0 and 3
    expected = Decimal("0.0012345678") * (1 + 4)
    assert Decimal(body["total_cost"]) == expected


def test_costs_unattributed_spend_is_selected_with_an_empty_value(
    reader: TestClient, spans: Decimal
) -> None:
    body = reader.get("/api/v1/costs", params=_range() | {"team": [""], "granularity": "none"})
    rows = body.json()["rows"]
    assert len(rows) == 1
    assert rows[0]["x_Calls"] == 4  # n = 2, 5, 8 and 11


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"group_by": ["nope"]}, "unknown dimension"),
        ({"group_by": ["team", "team"]}, "twice"),
        ({"granularity": "year"}, None),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "after start"),
        ({"start": "2026-11-01T00:00:00", "end": "2026-11-02T00:00:00"}, "time zone"),
        ({"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "three years"),
        ({"start": "yesterday"}, None),
        ({"format": "pdf"}, None),
        ({"team": ["x" * 201]}, "200 characters"),
    ],
)
def test_costs_bad_input_is_a_4xx(
    reader: TestClient, params: dict[str, Any], fragment: str | None
) -> None:
    response = reader.get("/api/v1/costs", params=params)
    assert response.status_code in (400, 422), response.text
    if fragment:
        assert fragment in response.text


def test_costs_need_a_key(app: object, spans: Decimal) -> None:
    with TestClient(app) as anonymous:  # type: ignore[arg-type]
        assert anonymous.get("/api/v1/costs").status_code == 401


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_cost_downloads_open_with_the_right_total(
    reader: TestClient, spans: Decimal, fmt: str
) -> None:
    response = reader.get("/api/v1/costs", params=_range() | {"group_by": ["team", "model"],
                                                               "format": fmt})  # fmt: skip
    assert response.status_code == 200, response.text
    assert f'filename="costs.{fmt}"' in response.headers["content-disposition"]
    data = io.BytesIO(response.content)
    if fmt == "csv":
        frame = pd.read_csv(data, dtype={"BilledCost": str}, keep_default_na=False)
        assert sum(Decimal(v) for v in frame["BilledCost"]) == spans
    elif fmt == "parquet":
        frame = pd.read_parquet(data)
        assert sum(frame["BilledCost"]) == spans  # decimal128: exact Decimals
        assert set(frame["ServiceName"]) == {"gpt-4o", "gpt-4o-mini"}
    else:
        book = openpyxl.load_workbook(data)
        sheet = book["Costs"]
        header = [c.value for c in sheet[1]]
        column = header.index("BilledCost")
        cells = sheet.iter_rows(min_row=2, values_only=True)
        total = sum(Decimal(str(row[column])) for row in cells)
        assert abs(total - spans) < Decimal("1e-12")
        notes = {row[0]: row[1] for row in book["Notes"].iter_rows(values_only=True)}
        assert Decimal(notes["Total BilledCost (exact)"]) == spans


def test_chargeback_by_team_reconciles_with_the_months_spans(
    reader: TestClient, spans: Decimal
) -> None:
    body = reader.get("/api/v1/chargeback", params={"month": "2026-10", "by": "team"}).json()
    assert Decimal(body["total"]) == spans
    assert sum(Decimal(line["BilledCost"]) for line in body["lines"]) == spans
    owners = {o["owner"]: o for o in body["owners"]}
    assert set(owners) == {"search", "support", "(unattributed)"}
    assert owners["(unattributed)"]["unattributed"] is True
    assert Decimal(body["unattributed_total"]) == Decimal(owners["(unattributed)"]["cost"])
    assert body["owners"][-1]["owner"] == "(unattributed)"
    november = reader.get("/api/v1/chargeback", params={"month": "2026-11"}).json()
    assert (november["total"], november["lines"]) == ("0", [])


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_chargeback_downloads_open_with_the_right_total(
    reader: TestClient, spans: Decimal, fmt: str
) -> None:
    params = {"month": "2026-10", "by": "customer", "format": fmt}
    response = reader.get("/api/v1/chargeback", params=params)
    assert response.status_code == 200, response.text
    data = io.BytesIO(response.content)
    if fmt == "csv":
        frame = pd.read_csv(data, dtype={"BilledCost": str})
        assert sum(Decimal(v) for v in frame["BilledCost"]) == spans
        assert "(unattributed)" in set(frame["Owner"])
    elif fmt == "parquet":
        frame = pd.read_parquet(data)
        assert sum(frame["BilledCost"]) == spans
    else:
        book = openpyxl.load_workbook(data)
        summary = list(book["Summary"].iter_rows(values_only=True))
        assert summary[-1][0] == "TOTAL"
        assert abs(Decimal(str(summary[-1][3])) - spans) < Decimal("1e-12")
        notes = {row[0]: row[1] for row in book["Notes"].iter_rows(values_only=True)}
        assert Decimal(notes["Total BilledCost (exact)"]) == spans


@pytest.mark.parametrize(
    "params", [{"month": "2026-13"}, {"month": "26-11"}, {"month": "2026-11", "by": "user"}, {}]
)
def test_chargeback_bad_input_is_a_4xx(reader: TestClient, params: dict[str, str]) -> None:
    assert reader.get("/api/v1/chargeback", params=params).status_code in (400, 422)


PRICE = {"model_pattern": "gpt-4o", "effective_from": DAY0.isoformat(),
         "input_per_mtok": "1", "output_per_mtok": "2"}  # fmt: skip


def test_saving_an_override_queues_a_job_that_the_worker_function_runs(
    admin: TestClient, session_factory: sessionmaker[Session], project: Project, spans: Decimal
) -> None:
    created = admin.post("/api/v1/prices", json=PRICE)
    assert created.status_code == 201, created.text
    job_id = created.json()["repricing_job_id"]
    assert created.headers["X-Repricing-Job"] == str(job_id)
    job = admin.get(f"/api/v1/repricing/jobs/{job_id}").json()
    assert (job["status"], job["models"]) == ("queued", ["gpt-4o"])
    repricing.run_jobs(session_factory)
    done = admin.get(f"/api/v1/repricing/jobs/{job_id}").json()
    assert (done["status"], done["spans_repriced"]) == ("done", 7)
    assert Decimal(done["cost_after"]) == Decimal("0.0014") * 7
    total = admin.get("/api/v1/costs", params=_range() | {"granularity": "none"}).json()
    with session_factory() as session:
        assert Decimal(total["total_cost"]) == span_cost(session, project.id) != spans
    path = f"/api/v1/prices/{created.json()['id']}"
    changed = admin.put(path, json=PRICE | {"input_per_mtok": "3"})
    assert changed.status_code == 200
    deleted = admin.delete(path)
    assert deleted.status_code == 204
    jobs = admin.get("/api/v1/repricing/jobs").json()
    assert [j["id"] for j in jobs][1:] == [int(deleted.headers["X-Repricing-Job"]) - 1, job_id]
    assert "deleted" in jobs[0]["reason"]


def test_preview_of_a_new_override_per_model(admin: TestClient, spans: Decimal) -> None:
    response = admin.post("/api/v1/repricing/preview", json={"override": PRICE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["spans_affected"], body["models_in_scope"]) == (7, ["gpt-4o"])
    assert [m["model"] for m in body["models"]] == ["gpt-4o"]
    assert Decimal(body["cost_after"]) == Decimal("0.0014") * 7
    assert Decimal(body["cost_change"]) == Decimal(body["cost_after"]) - Decimal(
        body["cost_before"]
    )
    assert admin.get("/api/v1/repricing/jobs").json() == []  # a preview saves nothing


def test_queue_a_repricing_at_todays_prices(admin: TestClient, reader: TestClient) -> None:
    response = admin.post("/api/v1/repricing/jobs", json={"start": DAY0.isoformat()})
    assert response.status_code == 201, response.text
    assert response.json()["models"] is None
    assert (
        reader.post("/api/v1/repricing/jobs", json={"start": DAY0.isoformat()}).status_code == 403
    )
    assert len(reader.get("/api/v1/repricing/jobs").json()) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/repricing/jobs", {}),
        (
            "/api/v1/repricing/jobs",
            {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
        ),
        ("/api/v1/repricing/jobs", {"start": "2026-11-01T00:00:00Z", "bogus": 1}),
        ("/api/v1/repricing/preview", {}),
        ("/api/v1/repricing/preview", {"delete": True}),
        ("/api/v1/repricing/preview", {"override_id": 1}),
        ("/api/v1/repricing/preview", {"override": PRICE | {"input_per_mtok": "-1"}}),
    ],
)
def test_repricing_bad_input_is_a_4xx(admin: TestClient, path: str, body: object) -> None:
    response = admin.post(path, json=body)
    assert 400 <= response.status_code < 500, response.text


def test_unknown_job_and_override_are_404(admin: TestClient) -> None:
    assert admin.get("/api/v1/repricing/jobs/999").status_code == 404
    preview = admin.post("/api/v1/repricing/preview", json={"override_id": 999, "delete": True})
    assert preview.status_code == 404
