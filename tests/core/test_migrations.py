"""The schema comes from migrations, and the migrations agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from core.db import normalise_url
from core.migrate import downgrade, upgrade
from core.schema import Base
from tests.services import scratch_database


def _tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_on_an_empty_database() -> None:
    with scratch_database() as url:
        upgrade(url)
        assert {"projects", "api_keys", "spans", "traces", "scores", "usage_hourly"} <= _tables(url)
        downgrade(url)
        assert _tables(url) <= {"alembic_version"}
        upgrade(url)
        assert "spans" in _tables(url)


def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(normalise_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
