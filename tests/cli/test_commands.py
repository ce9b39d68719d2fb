"""The `tokentrail` administration commands on the embedded PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from cli.up import Ports, service_commands
from tests.processes import ROOT


def tokentrail(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip


def test_projects_and_keys_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = tokentrail("projects", "create", "search", data_dir=data)
    assert created.returncode == 0, created.stderr
    listed = tokentrail("projects", "list", data_dir=data)
    assert "search" in listed.stdout

    made = tokentrail("keys", "create", "--project", "search", data_dir=data)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("tt_")
    assert " " not in secret

    keys = tokentrail("keys", "list", "--project", "search", data_dir=data)
    assert "active" in keys.stdout
    assert secret not in keys.stdout  # never shown again

    key_id = keys.stdout.split()[0]
    assert (
        tokentrail("keys", "revoke", key_id, "--project", "search", data_dir=data).returncode == 0
    )
    assert "revoked" in tokentrail("keys", "list", "--project", "search", data_dir=data).stdout


def test_errors_are_reported_plainly(tmp_path: Path) -> None:
    missing = tokentrail("keys", "create", "--project", "nope", data_dir=tmp_path / "d")
    assert missing.returncode == 2
    assert "no project named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


def _compose() -> dict[str, list[str]]:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {name: svc.get("command") for name, svc in spec["services"].items()}


def _portable(command: list[str]) -> list[str]:
    """A command without the interpreter path, hosts, ports, file locations and process counts."""
    out, skip = [], False
    for arg in command[1:]:
        if skip:
            skip = False
            continue
        if arg in ("--host", "--port", "--server.address", "--server.port", "--schedule",
                   "--workers"):  # fmt: skip
            skip = True
            continue
        out.append(arg.rsplit("/", 2)[-2] + "/app.py" if arg.endswith("dashboard/app.py") else arg)
    return out


def test_compose_runs_the_same_services_as_up() -> None:
    compose = _compose()
    local = service_commands(Ports("127.0.0.1", 4318, 8501), Path("/data"))
    assert _portable(compose["collector"]) == _portable(local["collector"])
    assert _portable(compose["dashboard"]) == _portable(local["dashboard"])
    # Locally one worker embeds beat; on a server they are separate services.
    worker = [a for a in _portable(local["worker"]) if a != "--beat"]
    assert _portable(compose["worker"]) == worker
    assert _portable(compose["beat"])[:4] == ["-m", "celery", "-A", "workers.celery_main"]
    assert compose["migrate"] == ["tokentrail", "migrate"]


def test_collector_processes_are_set_in_up_and_in_compose() -> None:
    local = service_commands(Ports("127.0.0.1", 4318, 8501), Path("/data"), collector_workers=2)
    assert local["collector"][-2:] == ["--workers", "2"]
    assert _compose()["collector"][-2:] == ["--workers", "${TOKENTRAIL_COLLECTOR_WORKERS:-1}"]
