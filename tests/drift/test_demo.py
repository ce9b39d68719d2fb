"""Drift on the CLI's demo traffic: the injected prompt-length shift and the silent model
change are found, the steady features raise nothing on any day."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.alerts import list_alerts
from core.db import make_engine, make_session_factory
from core.models_drift import ModelChange
from core.settings import Settings
from tests.drift.demo_data import (
    MODEL_CHANGE_DAYS_AGO,
    MOVED,
    SHIFT_DAYS_AGO,
    STEADY,
    backfill,
    day_end,
    load_demo,
)  # fmt: skip
from tests.services import scratch_database
from tests.shared_databases import shared_database

Found = dict[int, set[tuple[str, str, str]]]
# The first test to ask loads the demo and runs drift 25 times: minutes on a loaded machine.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def demo(template_database: str) -> Iterator[tuple[sessionmaker[Session], int, Found]]:
    """25 days of drift runs (one per day) over 30 days of demo traffic, made once per run
    (whichever xdist worker asks first) and cloned for this module."""
    template, note = shared_database("drift_demo", template_database, _load_and_backfill)
    saved = json.loads(note)
    found = {int(ago): {(s, v, m) for s, v, m in f} for ago, f in saved["found"].items()}
    with scratch_database(template=template) as url:
        engine = make_engine(Settings(database_url=url, key_pepper="test-pepper"))  # type: ignore[arg-type]
        yield make_session_factory(engine), int(saved["project_id"]), found
        engine.dispose()


def _load_and_backfill(url: str) -> str:
    engine = make_engine(Settings(database_url=url, key_pepper="test-pepper"))  # type: ignore[arg-type]
    try:
        factory = make_session_factory(engine)
        project_id = load_demo(url, factory)
        found = backfill(factory, project_id, range(25, 0, -1))
    finally:
        engine.dispose()
    return json.dumps({"project_id": project_id, "found": {a: sorted(f) for a, f in found.items()}})


def test_the_prompt_length_shift_is_found_on_its_day(
    demo: tuple[sessionmaker[Session], int, Found],
) -> None:
    _, _, found = demo
    shift_day = found[SHIFT_DAYS_AGO - 1]  # the first full day of doubled prompts
    assert ("feature", "ticket-summary", "input_tokens") in shift_day
    assert ("feature", "ticket-summary", "prompt_vocabulary") in shift_day
    before = set().union(*(found[d] for d in range(25, SHIFT_DAYS_AGO)))
    assert not {f for f in before if f[:2] == ("feature", "ticket-summary")}


def test_steady_segments_raise_nothing_on_any_day(
    demo: tuple[sessionmaker[Session], int, Found],
) -> None:
    _, _, found = demo
    everything = set().union(*found.values())
    assert not {f for f in everything if f[:2] in STEADY}
    assert {f[:2] for f in everything} <= MOVED


def test_the_silent_model_change_is_found_and_alerted_once(
    demo: tuple[sessionmaker[Session], int, Found],
) -> None:
    factory, project_id, _ = demo
    with factory() as session:
        changes = session.scalars(select(ModelChange).order_by(ModelChange.attribute)).all()
        alerts = list_alerts(session, project_id, kinds=["model_change"])
    found = [(c.request_model, c.attribute, c.old_value, c.new_value) for c in changes]
    assert found == [
        ("gpt-4o", "response_model", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"),
        ("gpt-4o", "system_fingerprint", "fp_b705f0c291", "fp_831e067d82"),
    ]
    # The first day answered by the new snapshot is the day MODEL_CHANGE_DAYS_AGO - 1 days ago.
    assert day_end(MODEL_CHANGE_DAYS_AGO) <= changes[0].changed_at
    assert changes[0].changed_at < day_end(MODEL_CHANGE_DAYS_AGO - 1)
    assert len(alerts) == 2
