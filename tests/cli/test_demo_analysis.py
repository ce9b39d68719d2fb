"""`tokentrail demo` beside the database (as `up --demo` runs it) analyses what it sent at once."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.models import Trace
from core.models_drift import DriftRun
from tests.conftest import PEPPER
from tests.processes import ROOT, collector_process, service_env


def test_the_demo_is_scanned_for_anomalies_and_drift_right_after_it_is_sent(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        project = keys.ensure_project(session)[0]
        key = keys.create_key(session, project, ("ingest",), PEPPER, "demo").secret
    with collector_process(database_url) as base:
        run = subprocess.run(
            [sys.executable, "-m", "cli", "demo", "--endpoint", base, "--api-key", key,
             "--days", "3"],
            env=service_env(database_url), cwd=ROOT, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "demo analysed: " in run.stdout
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Trace)) > 0
        runs = session.scalars(select(DriftRun).where(DriftRun.project_id == project.id)).all()
    assert len(runs) == 1
