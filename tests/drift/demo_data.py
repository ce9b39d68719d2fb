"""The CLI's demo traffic loaded into a database through the real path (SDK in a child
process → collector on loopback → PostgreSQL), with a fixed clock and seed; drift findings
expected on it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from cli.demo import MODEL_CHANGE_DAYS_AGO, SHIFT_DAYS_AGO, SPIKE_DAYS_AGO
from core import keys
from core.drift_job import DriftConfig, run_drift
from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
TODAY = NOW.replace(hour=0)
PEPPER = "test-pepper"
#: Segments the demo moves: the ticket summariser's prompts (feature, model, span name) and
#: the RAG feature's spike day (one customer with 12x contexts and 2x latency), and the
#: project as a whole, which holds both.
MOVED = {
    ("feature", "ticket-summary"), ("model", "gpt-4o-mini"), ("name", "chat gpt-4o-mini"),
    ("feature", "rag-qa"), ("model", "gpt-4o"), ("name", "chat gpt-4o"), ("all", ""),
}  # fmt: skip
STEADY = {
    ("feature", "reply-draft"), ("feature", "classify-intent"), ("feature", "product-copy"),
    ("model", "claude-sonnet-4-5"), ("model", "gemini-2.5-flash"),
    ("name", "chat claude-sonnet-4-5"), ("name", "chat gemini-2.5-flash"),
}  # fmt: skip
_SEND = textwrap.dedent("""
    import sys
    from datetime import datetime
    import tokentrail
    from cli.demo import DemoTraffic
    tokentrail.configure(endpoint=sys.argv[1], api_key=sys.argv[2], service="demo")
    try:
        DemoTraffic(int(sys.argv[3]), 7, datetime.fromisoformat(sys.argv[4])).run()
    finally:
        tokentrail.shutdown(timeout=60)
""")


def load_demo(database_url: str, factory: sessionmaker[Session], days: int = 30) -> int:
    """Send ``days`` of demo traffic ending at :data:`NOW`; the project's id."""
    with factory.begin() as session:
        project = keys.create_project(session, "demo")
        secret = keys.create_key(session, project, ("ingest",), PEPPER).secret
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "collector.app:app_from_env", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=service_env(database_url), cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        # A loaded 2-CPU machine can take a while to import the collector.
        wait_until(lambda: _ready(base, server), 180, "the collector to start", interval=0.5)
        command = [sys.executable, "-c", _SEND, base, secret, str(days), NOW.isoformat()]
        subprocess.run(command, cwd=ROOT, check=True, timeout=1200)
    finally:
        stop(server)
    return project.id


def _ready(base: str, server: subprocess.Popen[bytes]) -> bool:
    assert server.poll() is None, f"collector exited with {server.returncode}"
    try:
        return httpx.get(base + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def day_end(days_ago: int) -> datetime:
    """The end of the UTC day ``days_ago`` days before :data:`NOW`'s day."""
    return TODAY - timedelta(days=days_ago - 1)


Found = dict[int, set[tuple[str, str, str]]]


def backfill(factory: sessionmaker[Session], project_id: int, days_ago: range,
             config: DriftConfig | None = None) -> Found:  # fmt: skip
    """Run drift as of the end of each of those days; the drifted results per day."""
    found: Found = {}
    for ago in days_ago:
        with factory.begin() as session:
            summary = run_drift(session, project_id, as_of=day_end(ago), config=config)
        found[ago] = set(summary.drifted)
    return found


__all__ = ["MODEL_CHANGE_DAYS_AGO", "MOVED", "NOW", "SHIFT_DAYS_AGO", "SPIKE_DAYS_AGO",
           "STEADY", "backfill", "day_end", "load_demo"]  # fmt: skip
