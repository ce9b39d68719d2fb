"""``tokentrail up``: the whole platform in one process tree, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import IO

from core.settings import Settings

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class AlreadyRunningError(RuntimeError):
    """Another ``tokentrail up`` holds the data directory."""


@dataclass(frozen=True)
class Ports:
    host: str
    collector: int
    dashboard: int


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data directory for the life of ``up``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "up.lock"
    handle: IO[str] = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyRunningError(
            f"the data directory {data_dir} is in use by `tokentrail up` (pid {holder}); "
            "stop it first or choose another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def service_commands(
    ports: Ports, data_dir: Path, collector_workers: int = 1
) -> dict[str, list[str]]:
    """The command line of each service (docker-compose runs the same ones).

    ``collector_workers`` collector processes share the port (uvicorn ``--workers``); like
    replicas, each keeps its own quota buckets and metrics.
    """
    py = sys.executable
    dashboard_app = str(Path(str(resources.files("dashboard"))) / "app.py")
    return {
        "collector": [
            py, "-m", "uvicorn", "--factory", "collector.app:app_from_env",
            "--host", ports.host, "--port", str(ports.collector), "--no-access-log",
            "--workers", str(collector_workers),
        ],
        "worker": [
            py, "-m", "celery", "-A", "workers.celery_main", "worker", "--beat",
            "--concurrency", "1", "--loglevel", "WARNING",
            "--schedule", str(data_dir / "celerybeat-schedule"),
        ],
        "dashboard": [
            py, "-m", "streamlit", "run", dashboard_app,
            "--server.address", ports.host, "--server.port", str(ports.dashboard),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer",
        ],
    }  # fmt: skip


def wait_ready(url: str, children: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for name, child in children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with code {child.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {READY_TIMEOUT_S:.0f} s")


def stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for name, child in children.items():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0f s; killing it", name, STOP_TIMEOUT_S)
            child.kill()
            child.wait()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    """Wait until a signal or a child's death; stop everything; return the exit code."""
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        while True:
            for name, child in children.items():
                if child.poll() is not None and name != "demo":
                    print(f"{name} exited with code {child.returncode}; stopping the platform")
                    return 1
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        print("\nstopping TokenTrail…")
        return 0
    finally:
        stop_children(children)
        signal.signal(signal.SIGTERM, previous)


def start_children(
    commands: dict[str, list[str]], env: dict[str, str]
) -> dict[str, subprocess.Popen[bytes]]:
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, env=env)
    except OSError:
        stop_children(children)
        raise
    return children


def banner(settings: Settings, ports: Ports, key: str | None, embedded: bool) -> str:
    endpoint = f"http://{ports.host}:{ports.collector}"
    where = f"embedded PostgreSQL in {settings.data_dir}" if embedded else "TOKENTRAIL_DATABASE_URL"
    lines = [
        "",
        "TokenTrail is running.",
        f"  dashboard  http://{ports.host}:{ports.dashboard}",
        f"  collector  {endpoint}  (OTLP/HTTP: {endpoint}/v1/traces, health: {endpoint}/readyz)",
        f"  database   {where}",
    ]
    if key:
        lines += [
            "",
            "Your API key for the project 'default' (shown once, stored hashed):",
            f"  {key}",
        ]
    lines += [
        "",
        "Point an app at it:",
        "  pip install ./sdk   # the `tokentrail` SDK",
        f"  export TOKENTRAIL_ENDPOINT={endpoint}",
        "  export TOKENTRAIL_API_KEY=<your key>"
        + ("" if key else "   (make one: tokentrail keys create)"),
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
