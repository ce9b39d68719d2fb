"""A database that is too slow to answer is a transient condition: 503 with Retry-After."""

from __future__ import annotations

import time

import psycopg
from fastapi.testclient import TestClient

from collector.app import create_app
from core.settings import Settings
from tests.collector.conftest import PROTOBUF, export_request, llm_attributes, make_span


def test_a_statement_timeout_answers_503_and_the_next_batch_succeeds(
    settings: Settings, database_url: str, api_key: str
) -> None:
    slow = settings.model_copy(update={"db_statement_timeout_ms": 300})
    app = create_app(slow)
    body = export_request(make_span(attributes=llm_attributes())).SerializeToString()
    headers = {**PROTOBUF, "Authorization": f"Bearer {api_key}"}
    try:
        with TestClient(app) as client, psycopg.connect(database_url) as blocker:
            blocker.execute("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")  # hold it: inserts wait
            started = time.monotonic()
            blocked = client.post("/v1/traces", content=body, headers=headers)
            elapsed = time.monotonic() - started
            blocker.rollback()
            assert blocked.status_code == 503
            assert blocked.headers["Retry-After"].isdigit()
            assert elapsed < 2.0
            assert client.post("/v1/traces", content=body, headers=headers).status_code == 200
    finally:
        app.state.engine.dispose()
