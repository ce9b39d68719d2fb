"""Servers for ``bench/ingest.py``: fresh databases, the TokenTrail collector and Arize Phoenix
as subprocesses, CPU/RSS sampling of a process tree, and counting what was persisted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PHOENIX_VENV = ROOT / "bench" / ".venv-phoenix"
PHOENIX_PACKAGES = ["arize-phoenix", "asyncpg", "psycopg[binary]"]


def url_for(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@contextmanager
def fresh_database(name: str) -> Iterator[str]:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url_for(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def count_rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return int(row.fetchone()[0])  # type: ignore[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s")


@contextmanager
def running(command: list[str], env: dict[str, str], ready_url: str) -> Iterator[psutil.Process]:
    log = open(f"/tmp/bench-{Path(command[0]).name}-{os.getpid()}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_ready(ready_url, process, 120)
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def collector(
    database_url: str, port: int, workers: int = 1
) -> tuple[list[str], dict[str, str], str]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "collector.app:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "--log-level", "warning", "--workers", str(workers)]  # fmt: skip
    env = {"TOKENTRAIL_DATABASE_URL": database_url, "TOKENTRAIL_KEY_PEPPER": "bench",
           "TOKENTRAIL_INGEST_SPANS_PER_MINUTE": "0", "PYTHONPATH": str(ROOT)}  # fmt: skip
    return command, env, f"http://127.0.0.1:{port}/readyz"


def ensure_phoenix() -> Path:
    """Phoenix lives in its own venv (its pins must not touch ours), made on first use."""
    phoenix = PHOENIX_VENV / "bin" / "phoenix"
    if not phoenix.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PHOENIX_VENV)], check=True)
        pip = [str(PHOENIX_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *PHOENIX_PACKAGES], check=True)
    return phoenix


def phoenix(database_url: str, port: int, workdir: Path) -> tuple[list[str], dict[str, str], str]:
    env = {"PHOENIX_SQL_DATABASE_URL": database_url, "PHOENIX_PORT": str(port),
           "PHOENIX_GRPC_PORT": str(free_port()), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_WORKING_DIR": str(workdir), "PHOENIX_TELEMETRY_ENABLED": "false"}  # fmt: skip
    return [str(ensure_phoenix()), "serve"], env, f"http://127.0.0.1:{port}/healthz"


@dataclass
class Usage:
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


class Sampler:
    """CPU seconds and peak RSS of a process tree, or of the PostgreSQL backends serving one
    database (other databases on the same server are other people's load)."""

    def __init__(self, root: psutil.Process | None = None, database: str | None = None) -> None:
        self.root, self.database, self.usage = root, database, Usage()
        self._stop, self._start_cpu = threading.Event(), 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _processes(self) -> list[psutil.Process]:
        if self.root is not None:
            return [self.root, *self.root.children(recursive=True)]
        marker = f" {self.database} "
        found = []
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.info["name"] == "postgres" and marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        return found

    def _cpu_and_rss(self) -> tuple[float, float]:
        cpu = rss = 0.0
        for proc in self._processes():
            try:
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        return cpu, rss / 2**20

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.usage.peak_rss_mb = max(self.usage.peak_rss_mb, self._cpu_and_rss()[1])

    def __enter__(self) -> Sampler:
        self._start_cpu = self._cpu_and_rss()[0]
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        cpu, rss = self._cpu_and_rss()
        self.usage.cpu_s = cpu - self._start_cpu
        self.usage.peak_rss_mb = max(self.usage.peak_rss_mb, rss)
