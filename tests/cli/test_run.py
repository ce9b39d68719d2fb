"""What `up` prepares in the database before the services start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from cli.run import prepare_database
from core import keys
from core.ingest import SpanRecord, store_spans
from core.settings import Settings


def test_first_start_makes_the_default_project_and_shows_its_key_once(
    database_url: str, settings: Settings
) -> None:
    first, demo = prepare_database(database_url, settings, demo=False)
    assert first is not None
    assert first.startswith("tt_")
    assert demo is None
    again, _ = prepare_database(database_url, settings, demo=False)
    assert again is None


def test_demo_data_is_loaded_once_per_project(
    database_url: str, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    _, demo_key = prepare_database(database_url, settings, demo=True)
    assert demo_key is not None
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with session_factory.begin() as session:
        project = keys.get_project(session, keys.DEFAULT_PROJECT)
        span = SpanRecord(trace_id="a" * 32, span_id="b" * 16, name="demo", start_time=t0,
                          end_time=t0 + timedelta(seconds=1))  # fmt: skip
        store_spans(session, project.id, [span])
    _, second = prepare_database(database_url, settings, demo=True)
    assert second is None
