"""Bring the platform up: database, migrations, default project, services, optional demo."""

from __future__ import annotations

import logging
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.database import child_environment, database, ensure_broker_database
from cli.up import (
    AlreadyRunningError,
    Ports,
    banner,
    data_dir_lock,
    service_commands,
    start_children,
    stop_children,
    supervise,
    wait_ready,
)
from core import keys as keys_api
from core.db import make_engine, make_session_factory
from core.migrate import upgrade
from core.models import Trace
from core.settings import Settings

logger = logging.getLogger(__name__)


def prepare_database(url: str, settings: Settings, demo: bool) -> tuple[str | None, str | None]:
    """Ensure the default project; return (its first key if just created, a demo key)."""
    engine = make_engine(settings.model_copy(update={"database_url": url}), pool_size=1)
    pepper = settings.key_pepper.get_secret_value()
    try:
        with make_session_factory(engine).begin() as session:
            project, created = keys_api.ensure_project(session)
            first = None
            if created:
                first = keys_api.create_key(session, project, ("ingest", "read"), pepper).secret
            demo_key = None
            if demo and _has_traces(session, project.id):
                print("demo data: the project already holds traces; not loading them again")
            elif demo:
                demo_key = keys_api.create_key(session, project, ("ingest",), pepper, "demo").secret
            return first, demo_key
    finally:
        engine.dispose()


def _has_traces(session: Session, project_id: int) -> bool:
    found = session.scalar(select(Trace.trace_id).where(Trace.project_id == project_id).limit(1))
    return found is not None


def run_platform(settings: Settings, ports: Ports, demo: bool, collector_workers: int = 1) -> int:
    """Run until Ctrl-C or SIGTERM; return the process exit code."""
    try:
        with data_dir_lock(settings.data_dir), database(settings) as url:
            print("migrating the database…", flush=True)
            upgrade(url)
            if not settings.broker_url:
                ensure_broker_database(url)
            first_key, demo_key = prepare_database(url, settings, demo)
            env = child_environment(url, settings)
            children = start_children(
                service_commands(ports, settings.data_dir, collector_workers), env
            )
            try:
                wait_ready(f"http://{ports.host}:{ports.collector}/readyz", children)
                wait_ready(f"http://{ports.host}:{ports.dashboard}/_stcore/health", children)
            except (RuntimeError, KeyboardInterrupt) as exc:
                stop_children(children)
                print(f"error: TokenTrail did not start: {exc}", file=sys.stderr)
                return 1
            print(banner(settings, ports, first_key, embedded=not settings.database_url))
            if demo_key:
                endpoint = f"http://{ports.host}:{ports.collector}"
                demo_cmd = [sys.executable, "-m", "cli", "demo", "--endpoint", endpoint,
                            "--api-key", demo_key]  # fmt: skip
                children.update(start_children({"demo": demo_cmd}, env))
                print("loading 30 days of demo traffic in the background…", flush=True)
            return supervise(children)
    except AlreadyRunningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
