"""Per-project ingest quotas and the brake on failed authentication: 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from collector.app import create_app
from collector.quota import TokenBuckets
from core.models import Project, Span
from core.settings import Settings
from tests.collector.conftest import PROTOBUF, export_request, llm_attributes, make_span


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _batch(n: int, offset: int = 0) -> bytes:
    spans = [make_span(f"{offset + i + 1:016x}", attributes=llm_attributes()) for i in range(n)]
    return export_request(*spans).SerializeToString()


@pytest.fixture
def limited(settings: Settings, api_key: str, project: Project) -> Iterator[TestClient]:
    limits = {"ingest_spans_per_minute": 100_000,
              "ingest_spans_per_minute_by_project": {project.id: 60}}  # fmt: skip
    quota = settings.model_copy(update=limits)
    app = create_app(quota)
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client
    app.state.engine.dispose()


def test_project_over_its_quota_gets_429_with_retry_after(limited: TestClient) -> None:
    assert limited.post("/v1/traces", content=_batch(50), headers=PROTOBUF).status_code == 200
    # 10 tokens left: the next batch is admitted and puts the bucket 40 into debt.
    assert limited.post("/v1/traces", content=_batch(50, 50), headers=PROTOBUF).status_code == 200
    refused = limited.post("/v1/traces", content=_batch(1, 100), headers=PROTOBUF)
    assert refused.status_code == 429
    # 41 tokens to refill at one per second.
    assert 40 <= int(refused.headers["Retry-After"]) <= 42


def test_refused_batch_is_not_stored(limited: TestClient) -> None:
    for offset in (0, 50):
        limited.post("/v1/traces", content=_batch(50, offset), headers=PROTOBUF)
    limited.post("/v1/traces", content=_batch(5, 100), headers=PROTOBUF)
    factory = limited.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Span)) == 100


def test_default_quota_applies_to_projects_without_an_override(
    settings: Settings, api_key: str
) -> None:
    app = create_app(settings.model_copy(update={"ingest_spans_per_minute": 3}))
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        assert client.post("/v1/traces", content=_batch(3), headers=PROTOBUF).status_code == 200
        assert client.post("/v1/traces", content=_batch(1, 9), headers=PROTOBUF).status_code == 429
    app.state.engine.dispose()


def test_repeated_failed_auth_from_one_address_is_refused(settings: Settings, api_key: str) -> None:
    app = create_app(settings.model_copy(update={"auth_failure_burst": 5}))
    with TestClient(app) as client:
        bad = {"Authorization": "Bearer tt_guess", **PROTOBUF}
        codes = [client.post("/v1/traces", content=b"", headers=bad).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        good = {"Authorization": f"Bearer {api_key}"}
        blocked = client.get("/api/v1/prices", headers=good)
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
    app.state.engine.dispose()


def test_successful_auth_is_never_counted(client: TestClient) -> None:
    for _ in range(50):
        assert client.get("/api/v1/prices").status_code == 200


def test_bucket_refills_at_its_rate_and_allows_debt() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=10, rate_per_s=2, clock=clock)
    assert buckets.take("p", 25) == 0  # admitted: the bucket was not empty
    assert buckets.take("p") == pytest.approx(8.0)  # -15 → back to one token after 8 s
    clock.now += 8
    assert buckets.wait_s("p") == 0
    assert buckets.take("p") == 0
    assert buckets.take("other") == 0


def test_bucket_never_holds_more_than_its_capacity() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=2, rate_per_s=1, clock=clock)
    buckets.take("p")
    clock.now += 3600
    assert [buckets.take("p") for _ in range(3)] == [0, 0, pytest.approx(1.0)]
