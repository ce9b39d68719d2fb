"""Probes, metrics and the in-flight cap."""

from __future__ import annotations

from fastapi.testclient import TestClient

from collector.app import create_app
from core.settings import Settings
from tests.collector.conftest import PROTOBUF, export_request, make_span


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_metrics_count_requests_and_spans_by_reason(client: TestClient) -> None:
    bad = make_span("2" * 16, start_ns=5)
    client.post(
        "/v1/traces", content=export_request(make_span(), bad).SerializeToString(), headers=PROTOBUF
    )
    text = client.get("/metrics").text
    assert 'tokentrail_collector_requests_total{route="/v1/traces",status="200"} 1.0' in text
    assert "tokentrail_collector_spans_accepted_total 1.0" in text
    assert 'tokentrail_collector_spans_rejected_total{reason="start time out of range' in text
    assert "tokentrail_collector_batch_spans_count 1.0" in text
    assert "tokentrail_collector_request_duration_seconds_bucket" in text


def test_over_the_in_flight_cap_is_503_with_retry_after(settings: Settings, api_key: str) -> None:
    app = create_app(settings.model_copy(update={"max_in_flight": 0}))
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
            body = export_request(make_span()).SerializeToString()
            response = client.post("/v1/traces", content=body, headers=PROTOBUF)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == str(settings.retry_after_s)
            assert client.get("/healthz").status_code == 200  # probes are never capped
    finally:
        app.state.engine.dispose()


def test_two_apps_have_separate_metrics(settings: Settings) -> None:
    first, second = create_app(settings), create_app(settings)
    try:
        assert first.state.metrics.registry is not second.state.metrics.registry
    finally:
        first.state.engine.dispose()
        second.state.engine.dispose()
