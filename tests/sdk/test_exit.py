"""Process exit is bounded (≤ 2.5 s) even when the collector accepts and never answers; and
the SDK survives fork."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tokentrail
from tokentrail import _runtime

from tests.sdk.conftest import flush
from tests.sdk.receiver import Receiver

SDK_SRC = str(Path(tokentrail.__file__).resolve().parents[1])

PROGRAM = """
import os, signal, sys, time
import tokentrail

tokentrail.configure(endpoint=os.environ["ENDPOINT"])

@tokentrail.observe
def step(i):
    return i

for i in range(200):
    step(i)
mode = sys.argv[1]
if mode == "sigterm":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("READY", flush=True)
if mode == "sys_exit":
    sys.exit(3)
if mode == "raise":
    raise RuntimeError("unhandled")
if mode == "sigterm":
    time.sleep(30)
if mode == "sigterm_default":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(30)
"""


@pytest.fixture
def black_hole() -> Iterator[str]:
    """Accepts connections (the kernel does, via the backlog) and never reads or answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("normal", 0),
        ("sys_exit", 3),
        ("raise", 1),
        ("sigterm", 0),
        ("sigterm_default", -signal.SIGTERM),
    ],
)
def test_exit_is_bounded_with_a_black_holed_collector(
    black_hole: str, tmp_path: Path, mode: str, code: int
) -> None:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(PROGRAM))
    env = {**os.environ, "ENDPOINT": black_hole, "PYTHONPATH": SDK_SRC}
    process = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "READY"
    ready = time.monotonic()
    if mode.startswith("sigterm"):
        time.sleep(0.2)  # let the exporter get stuck on the black hole first
        ready = time.monotonic()
        process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    elapsed = time.monotonic() - ready
    assert process.returncode == code, process.stderr.read() if process.stderr else ""
    assert elapsed <= 2.5, f"{mode}: exit took {elapsed:.2f}s"
    process.stdout.close()
    if process.stderr:
        process.stderr.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_exports_its_own_spans(sdk: Receiver) -> None:
    @tokentrail.observe(name="in_parent")
    def in_parent() -> None:
        return None

    @tokentrail.observe(name="in_child")
    def in_child() -> None:
        return None

    in_parent()
    runtime = _runtime.active()
    assert runtime is not None
    # Fork while another thread holds the processor's lock: the child must not deadlock.
    held = runtime.processor._cond
    held.acquire()
    pid = os.fork()
    if pid == 0:  # child
        try:
            in_child()
            ok = tokentrail.flush(5.0)
            stats = tokentrail.stats()
            os._exit(0 if ok and stats["created"] == 1 and stats["exported"] == 1 else 1)
        except BaseException:
            os._exit(2)
    held.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    flush(sdk)
    assert {s.name for s in sdk.spans} == {"in_parent", "in_child"}
    assert tokentrail.stats()["created"] == 1
