"""`tokentrail up` on the embedded PostgreSQL: starts everything, stops cleanly, keeps data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg

from tests.conftest import PEPPER
from tests.processes import ROOT, wait_until
from tests.services import REDIS_URL, free_port, redis_available

SPAN_JSON = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "up-test"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "chat gpt-4o-mini", "kind": 3,
            "startTimeUnixNano": "1792056600000000000", "endTimeUnixNano": "1792056601000000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "10"}},
                {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
                    [{"role": "assistant", "finish_reason": "stop",
                      "parts": [{"type": "text", "content": "Paris."}]}])}},
            ],
        }]}],
    }]
}  # fmt: skip


class Up:
    def __init__(self, data_dir: Path, **environment: str) -> None:
        self.data_dir = data_dir
        self.port, self.dashboard_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
        env.update(environment)
        self.log = data_dir.parent / f"up-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--data-dir", str(data_dir),
             "--port", str(self.port), "--dashboard-port", str(self.dashboard_port)],
            cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    def wait_banner(self) -> None:
        def started() -> bool:
            assert self.process.poll() is None, self.output()
            return "TokenTrail is running." in self.output()

        wait_until(started, 120, "tokentrail up to start", interval=0.5)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(30)
        finally:
            self._log_file.close()


def _postgres_running(data_dir: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(data_dir) in " ".join(
            proc.info["cmdline"] or []
        ):
            return True
    return False


def _db(data_dir: Path) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=str(data_dir / "postgres"), dbname="tokentrail", user="postgres")


def test_up_runs_everything_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Up(data)
    try:
        first.wait_banner()
        out = first.output()
        key = out.split("stored hashed):")[1].split()[0]
        assert key.startswith("tt_")
        assert httpx.get(first.base + "/readyz").status_code == 200
        assert (
            httpx.get(f"http://127.0.0.1:{first.dashboard_port}/_stcore/health").status_code == 200
        )

        second = subprocess.run(
            [sys.executable, "-m", "cli", "up", "--data-dir", str(data), "--port", str(free_port()),
             "--dashboard-port", str(free_port())],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert "in use" in second.stderr

        sent = httpx.post(first.base + "/v1/traces", json=SPAN_JSON,
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert sent.status_code == 200, sent.text

        def scored() -> bool:
            with _db(data) as conn:
                return bool(conn.execute("SELECT count(*) FROM scores").fetchone()[0])  # type: ignore[index]

        wait_until(scored, 60, "the worker (on the PostgreSQL broker) to score the span")
    finally:
        assert first.stop() == 0, first.output()
    assert "stopping TokenTrail" in first.output()
    assert not _postgres_running(data)

    again = Up(data)
    try:
        again.wait_banner()
        assert "stored hashed" not in again.output()  # the key was shown once, on first start
        with _db(data) as conn:
            row = conn.execute("SELECT name, input_tokens FROM spans").fetchone()
        assert row == ("chat gpt-4o-mini", 100)
    finally:
        assert again.stop() == 0
    assert not _postgres_running(data)


def test_up_uses_the_servers_named_in_the_environment(
    tmp_path: Path, database_url: str, api_key: str
) -> None:
    redis_available()
    queue = f"tt-up-{uuid.uuid4().hex[:8]}"
    up = Up(tmp_path / "data", TOKENTRAIL_DATABASE_URL=database_url,
            TOKENTRAIL_BROKER_URL=REDIS_URL, TOKENTRAIL_CELERY_QUEUE=queue,
            TOKENTRAIL_KEY_PEPPER=PEPPER)  # fmt: skip
    try:
        up.wait_banner()
        assert "database   TOKENTRAIL_DATABASE_URL" in up.output()
        sent = httpx.post(up.base + "/v1/traces", json=SPAN_JSON,
                          headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
        assert sent.status_code == 200, sent.text

        def scored() -> bool:
            with psycopg.connect(database_url) as conn:
                return bool(conn.execute("SELECT count(*) FROM scores").fetchone()[0])  # type: ignore[index]

        wait_until(scored, 60, "the worker (on Redis) to score the span")
    finally:
        assert up.stop() == 0, up.output()
    assert not (tmp_path / "data" / "postgres").exists()
