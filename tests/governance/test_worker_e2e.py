"""End to end: an app spends past a hard budget through the real collector; ``budget_ok`` turns
false within 60 s; the real Celery worker (beat, default one-minute budget schedule) stores the
state, raises the thresholds once and delivers them to a webhook receiver on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.models import Project
from core.models_governance import Alert, AlertDelivery, BudgetState
from tests.conftest import PEPPER
from tests.governance.conftest import Receiver
from tests.processes import ROOT, celery_worker, service_env, stop, wait_until
from tests.services import free_port

APP = textwrap.dedent(
    """
    import json, sys, time
    import tokentrail

    @tokentrail.observe(name="chat gpt-4o-mini", kind="llm")
    def ask(question):
        return {
            "id": "chatcmpl-budget", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Paris."}}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 50, "total_tokens": 1250},
        }

    with tokentrail.context(team="search", feature="geography"):
        before = tokentrail.budget_ok()
        ask("What is the capital of France?")
        assert tokentrail.flush(timeout=10)
        exceeded = time.monotonic()
        while tokentrail.budget_ok() and time.monotonic() - exceeded < 90:
            time.sleep(0.25)
        after = tokentrail.budget_ok()
        other_team = tokentrail.budget_ok(team="ads")
    print(json.dumps({"before": before, "after": after, "other_team": other_team,
                      "seconds": time.monotonic() - exceeded}))
    tokentrail.shutdown(timeout=5)
    """
)


@contextmanager
def collector(database_url: str, **extra: str) -> Iterator[str]:
    """The collector under uvicorn, like ``tests.processes.collector_process`` but given two
    minutes to start: on a loaded two-CPU machine its imports alone can take over 30 s."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "collector.app:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=service_env(database_url, **extra), cwd=ROOT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"collector exited with {process.returncode}"
        try:
            return httpx.get(base + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 120, "the collector to start")
        yield base
    finally:
        stop(process)


def _state(factory: sessionmaker[Session]) -> BudgetState | None:
    with factory() as session:
        return session.scalars(select(BudgetState)).first()


def _delivered(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        rows = session.scalars(select(AlertDelivery.status)).all()
        return sum(status == "delivered" for status in rows)


def test_a_hard_budget_stops_the_app_within_a_minute_and_alerts_reach_the_webhook(
    database_url: str, session_factory: sessionmaker[Session], project: Project,
    api_key: str, receiver: Receiver, tmp_path: Path,
) -> None:  # fmt: skip
    with session_factory.begin() as session:
        admin = keys.create_key(session, project, ("admin",), PEPPER).secret
    loopback = {"TOKENTRAIL_OUTBOUND_ALLOW_LOOPBACK": "true"}
    script = tmp_path / "app.py"
    script.write_text(APP)
    with (
        collector(database_url, **loopback) as endpoint,
        celery_worker(database_url, beat=True, TOKENTRAIL_WEBHOOK_INTERVAL_S="1", **loopback),
    ):
        auth = {"Authorization": f"Bearer {admin}"}
        budget = httpx.post(f"{endpoint}/api/v1/budgets", headers=auth, json={
            "name": "Search daily", "scope": "team", "value": "search", "period": "day",
            "limit_usd": "0.0001", "hard": True})  # fmt: skip
        hook = httpx.post(f"{endpoint}/api/v1/webhooks", headers=auth, json={"url": receiver.url})
        assert budget.status_code == 201, budget.text
        assert hook.status_code == 201, hook.text

        env = service_env(database_url, TOKENTRAIL_ENDPOINT=endpoint, TOKENTRAIL_API_KEY=api_key)
        run = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        assert (result["before"], result["after"], result["other_team"]) == (True, False, True)
        assert result["seconds"] < 60
        print(f"budget_ok turned false {result['seconds']:.1f} s after the spend was stored")

        wait_until(lambda: (s := _state(session_factory)) is not None and s.exhausted, 100,
                   "the worker's budget state")  # fmt: skip
        wait_until(lambda: _delivered(session_factory) == 3, 30, "the alerts at the webhook")

    with session_factory() as session:
        keys_raised = sorted(session.scalars(select(Alert.dedup_key)))
    assert [k.rsplit(":", 1)[1] for k in keys_raised] == ["100", "50", "80"]
    titles = sorted(json.loads(body)["tokentrail"]["title"] for body in receiver.bodies)
    assert len(titles) == 3
    assert all(t.startswith("Budget “Search daily” passed") for t in titles)
