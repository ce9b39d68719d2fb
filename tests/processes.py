"""Real service processes for tests: the collector on a loopback port, a Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.services import REDIS_URL, free_port, redis_available

ROOT = Path(__file__).resolve().parent.parent


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TOKENTRAIL_DATABASE_URL=database_url,
        TOKENTRAIL_KEY_PEPPER="test-pepper",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def collector_server(
    database_url: str, *, probe: str = "/readyz", **extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the collector under uvicorn on a free loopback port until ``probe`` answers 200;
    yield its base URL and process (fault tests kill it)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "collector.app:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=service_env(database_url, **extra), cwd=ROOT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"collector exited with {process.returncode}"
        try:
            return httpx.get(base + probe, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 120, "the collector to start")  # slow to import on a busy machine
        yield base, process
    finally:
        stop(process)


@contextmanager
def collector_process(database_url: str, **extra: str) -> Iterator[str]:
    """The collector on a free loopback port, ready to store; yields its base URL."""
    with collector_server(database_url, **extra) as (base, _):
        yield base


@contextmanager
def celery_worker(database_url: str, *, beat: bool = False, **extra: str) -> Iterator[str]:
    """Run a real Celery worker on the local Redis with a queue of its own; yield the queue."""
    redis_available()
    queue = f"tt-test-{uuid.uuid4().hex[:8]}"
    env = service_env(
        database_url, TOKENTRAIL_BROKER_URL=REDIS_URL, TOKENTRAIL_CELERY_QUEUE=queue, **extra
    )
    command = [sys.executable, "-m", "celery", "-A", "workers.celery_main", "worker",
               "--concurrency", "1", "--loglevel", "INFO", "--pool", "prefork",
               "--hostname", f"{queue}@%h"]  # fmt: skip
    if beat:
        command += ["--beat", "--schedule", f"/tmp/{queue}-beat"]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        time.sleep(0.5)
        assert process.poll() is None, f"celery worker exited with {process.returncode}"
        yield queue
    finally:
        stop(process, timeout=20)
        Path(f"/tmp/{queue}-beat").unlink(missing_ok=True)
