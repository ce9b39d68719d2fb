"""``/api/v1/forecast`` and ``/api/v1/anomalies`` over HTTP (the app in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import anomalies
from core.models import Project
from core.settings import Settings
from tests.insight.spend import Spike, store, traffic

AS_OF = "2026-11-06T03:00:00Z"


@pytest.fixture
def client(settings: Settings, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {api_key}"}) as c:
        yield c


@pytest.fixture
def spend(session_factory: sessionmaker[Session], project: Project) -> None:
    with session_factory.begin() as session:
        spike = Spike(day=date(2026, 11, 1), calls=30)
        store(session, project.id, traffic(date(2026, 10, 1), 36, spike=spike))
        anomalies.scan_project(session, project.id, now=datetime(2026, 11, 6, 3, tzinfo=UTC),
                               lookback_days=20)  # fmt: skip


@pytest.mark.usefixtures("spend")
def test_the_forecast_of_the_month_with_its_intervals(client: TestClient) -> None:
    body = client.get("/api/v1/forecast", params={"as_of": AS_OF}).json()
    assert (body["period_start"], body["period_end"]) == ("2026-11-01", "2026-11-30")
    spent, expected = Decimal(body["spent"]), Decimal(body["expected_total"])
    low80, high80 = Decimal(body["interval_80"]["low"]), Decimal(body["interval_80"]["high"])
    low95, high95 = Decimal(body["interval_95"]["low"]), Decimal(body["interval_95"]["high"])
    assert spent > 0
    assert low95 <= low80 <= expected <= high80 <= high95
    assert [d["day"] for d in body["actual"]][-1] == "2026-11-06"  # partial today is spent
    assert body["expected"][0]["day"] == "2026-11-06"  # and the rest of it is expected
    assert spent == sum(Decimal(d["cost"]) for d in body["actual"])


@pytest.mark.usefixtures("spend")
def test_a_filtered_forecast_covers_only_that_part(client: TestClient) -> None:
    whole = client.get("/api/v1/forecast", params={"as_of": AS_OF}).json()
    part = client.get("/api/v1/forecast", params={"as_of": AS_OF, "feature": "summary"}).json()
    nothing = client.get("/api/v1/forecast", params={"as_of": AS_OF, "team": "nobody"}).json()
    assert 0 < Decimal(part["expected_total"]) < Decimal(whole["expected_total"])
    assert Decimal(nothing["expected_total"]) == 0


@pytest.mark.usefixtures("spend")
def test_a_limit_gives_the_day_it_is_reached(client: TestClient) -> None:
    params = {"as_of": AS_OF, "limit_usd": "1"}
    reached = client.get("/api/v1/forecast", params=params).json()["projected_exhaustion"]
    assert reached == "2026-11-02"  # Sunday the 1st, spike included, spent less than $1
    params["limit_usd"] = "1000000"
    assert client.get("/api/v1/forecast", params=params).json()["projected_exhaustion"] is None


@pytest.mark.usefixtures("spend")
def test_anomalies_list_the_spike_with_its_contributors(client: TestClient) -> None:
    found = client.get("/api/v1/anomalies").json()
    assert [(a["day"], a["dimension"]) for a in found] == [("2026-11-01", "total")]
    named = {(c["dimension"], c["value"]) for c in found[0]["contributors"]}
    assert ("customer", "globex") in named
    assert Decimal(found[0]["excess"]) == Decimal(found[0]["actual"]) - Decimal(
        found[0]["expected"]
    )
    assert client.get("/api/v1/anomalies", params={"since": "2026-11-02"}).json() == []


@pytest.mark.parametrize(("path", "params"), [
    ("/api/v1/forecast", {"as_of": "yesterday"}),
    ("/api/v1/forecast", {"as_of": "9999-12-31T23:59:59Z"}),
    ("/api/v1/forecast", {"as_of": "1900-01-01T00:00:00Z"}),
    ("/api/v1/forecast", {"limit_usd": "-5"}),
    ("/api/v1/forecast", {"limit_usd": "NaN"}),
    ("/api/v1/forecast", {"team": "x" * 201}),
    ("/api/v1/anomalies", {"since": "2026-13-01"}),
    ("/api/v1/anomalies", {"limit": "0"}),
    ("/api/v1/anomalies", {"limit": "100000"}),
])  # fmt: skip
def test_bad_input_is_a_4xx(client: TestClient, path: str, params: dict[str, str]) -> None:
    response = client.get(path, params=params)
    assert 400 <= response.status_code < 500, response.text


def test_without_a_key_the_routes_answer_401(settings: Settings) -> None:
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get("/api/v1/forecast").status_code == 401
        assert anonymous.get("/api/v1/anomalies").status_code == 401
