"""The demo history, loaded once per test process through the real collector and SDK, then
cloned for every test that uses it (override ``database_url`` with :func:`demo_database`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bench.finance_backtest import send_demo_process
from bench.ingest_servers import collector, running
from core import keys
from core.db import make_engine, make_session_factory
from core.settings import Settings
from tests.conftest import PEPPER
from tests.services import create_database, drop_database, free_port, scratch_database, url_for

DEMO_DAYS = 30


@dataclass(frozen=True)
class DemoHistory:
    template: str
    now: datetime
    project_id: int


@pytest.fixture(scope="session")
def demo_history(template_database: str) -> Iterator[DemoHistory]:
    with load_demo_history(template_database) as history:
        yield history


@contextmanager
def load_demo_history(template_database: str) -> Iterator[DemoHistory]:
    """30 days of demo traffic ending now, as `tokentrail demo` sends it, in a template DB."""
    name = f"tt_demo_{uuid.uuid4().hex[:10]}"
    create_database(name, template_database)
    url = url_for(name)
    try:
        engine = make_engine(Settings(database_url=url, key_pepper=PEPPER), pool_size=1)
        try:
            with make_session_factory(engine).begin() as session:
                project = keys.ensure_project(session)[0]
                secret = keys.create_key(session, project, ("ingest",), PEPPER).secret
                project_id = project.id
        finally:
            engine.dispose()
        now = datetime.now(UTC)
        # The bench's runner waits up to 120 s for the collector: a loaded 2-CPU machine can
        # take longer than the usual 30 s to import and start it.
        command, env, ready = collector(url, free_port())
        with running(command, {**env, "TOKENTRAIL_KEY_PEPPER": PEPPER}, ready):
            send_demo_process(ready.removesuffix("/readyz"), secret, DEMO_DAYS, now)
        yield DemoHistory(name, now, project_id)
    finally:
        drop_database(name)


def demo_database(history: DemoHistory) -> Iterator[str]:
    with scratch_database(template=history.template) as url:
        yield url
