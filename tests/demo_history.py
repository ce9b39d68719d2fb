"""The demo history: 30 days of demo traffic ending now, sent as `tokentrail demo` sends it
(``cli.demo.DemoTraffic``, seed 7, through the real SDK in a child process and the real
collector on loopback) into the default project.

It is built once per test run (:mod:`tests.shared_databases`), by whichever xdist worker asks
first, and every test that reads it works on a clone of its own: override ``database_url``
with :func:`demo_database`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bench.finance_backtest import send_demo_process
from bench.ingest_servers import collector, running
from core import keys
from core.db import make_engine, make_session_factory
from core.settings import Settings
from tests.services import free_port, scratch_database
from tests.shared_databases import shared_database

PEPPER = "test-pepper"
DEMO_DAYS = 30
#: For modules that read the demo history: the first reader loads it (or waits while another
#: worker does), which takes minutes on a loaded 2-CPU machine.
READERS = [pytest.mark.timeout(900)]


@dataclass(frozen=True)
class DemoHistory:
    template: str
    now: datetime
    project_id: int


def shared_demo_history(template_database: str) -> DemoHistory:
    """This run's demo history, loaded by whichever process asks first."""
    name, note = shared_database("demo_history", template_database, _load_demo_history)
    found = json.loads(note)
    return DemoHistory(name, datetime.fromisoformat(found["now"]), int(found["project_id"]))


def _load_demo_history(url: str) -> str:
    engine = make_engine(Settings(database_url=url, key_pepper=PEPPER), pool_size=1)  # type: ignore[arg-type]
    try:
        with make_session_factory(engine).begin() as session:
            project = keys.ensure_project(session)[0]
            secret = keys.create_key(session, project, ("ingest",), PEPPER, "demo").secret
            project_id = project.id
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    # The bench's runner waits up to 120 s for the collector: a loaded 2-CPU machine can take
    # longer than the usual 30 s to import and start it.
    command, env, ready = collector(url, free_port())
    with running(command, {**env, "TOKENTRAIL_KEY_PEPPER": PEPPER}, ready):
        send_demo_process(ready.removesuffix("/readyz"), secret, DEMO_DAYS, now)
    return json.dumps({"now": now.isoformat(), "project_id": project_id})


def demo_database(history: DemoHistory) -> Iterator[str]:
    """A clone of the demo history for one test; yields its URL."""
    with scratch_database(template=history.template) as url:
        yield url
