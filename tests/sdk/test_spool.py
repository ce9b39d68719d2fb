"""The on-disk spool: what the collector cannot take is kept, bounded, counted, and sent later —
also by the next process that uses the same directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tokentrail
from opentelemetry.sdk.trace import TracerProvider
from tokentrail._config import Config
from tokentrail._processor import BoundedSpanProcessor
from tokentrail._spool import SUFFIX, Spool

from tests.sdk.receiver import Behaviour, Receiver

SDK_SRC = str(Path(tokentrail.__file__).resolve().parents[1])
DEAD = "http://127.0.0.1:9"
MIB = 1024 * 1024


def balanced(stats: dict[str, object]) -> bool:
    """The conservation equation with a spool: every created span is in exactly one place."""
    dropped = sum(stats["dropped_by_reason"].values())  # type: ignore[attr-defined]
    placed = stats["exported"] + dropped + stats["queued"] + stats["spooled"]  # type: ignore[operator]
    return bool(placed == stats["created"])


def spool_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX))


def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


@pytest.fixture
def spooling() -> Iterator[list[BoundedSpanProcessor]]:
    made: list[BoundedSpanProcessor] = []
    yield made
    for processor in made:
        processor.shutdown(0.5)


def start_processor(
    made: list[BoundedSpanProcessor], endpoint: str, spool: Path, **overrides: object
) -> tuple[BoundedSpanProcessor, TracerProvider]:
    settings: dict[str, object] = {"export_timeout": 0.5, "schedule_delay": 0.05}
    settings.update(overrides)
    config = Config(endpoint=endpoint, spool_dir=str(spool), **settings)  # type: ignore[arg-type]
    processor = BoundedSpanProcessor(config)
    made.append(processor)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return processor, provider


def emit(provider: TracerProvider, n: int, payload: str = "") -> None:
    tracer = provider.get_tracer("t")
    for i in range(n):
        span = tracer.start_span(f"s{i}")
        if payload:
            span.set_attribute("input.value", payload)
        span.end()


def test_batches_a_dead_collector_cannot_take_are_spooled_and_counted(
    tmp_path: Path, spooling: list[BoundedSpanProcessor]
) -> None:
    processor, provider = start_processor(spooling, DEAD, tmp_path)
    emit(provider, 30)
    assert processor.flush(5.0)
    stats = processor.stats()
    assert stats["spooled"] == 30
    assert stats["dropped_by_reason"] == {}
    assert balanced(stats)
    assert sum(int(p.name.split("-")[3].split(".")[0]) for p in spool_files(tmp_path)) == 30


def test_spooled_batches_are_sent_when_the_collector_comes_back(
    tmp_path: Path, receiver: Receiver, spooling: list[BoundedSpanProcessor]
) -> None:
    # Overloaded for longer than the export deadline: the batch is worth keeping, not retrying.
    receiver.default = Behaviour(status=503, headers={"Retry-After": "60"})
    processor, provider = start_processor(spooling, receiver.url, tmp_path)
    emit(provider, 20)
    assert processor.flush(5.0)
    assert processor.stats()["spooled"] == 20
    emit(provider, 5)  # while offline, new batches go straight to the spool
    assert processor.flush(5.0)
    assert processor.stats()["spooled"] == 25
    assert balanced(processor.stats())

    receiver.default = Behaviour()
    wait_until(lambda: processor.stats()["exported"] == 25)
    stats = processor.stats()
    assert stats["exported"] == 25
    assert stats["spooled"] == 0
    assert balanced(stats)
    assert sorted(s.name for s in receiver.spans) == sorted(
        [f"s{i}" for i in range(20)] + [f"s{i}" for i in range(5)]
    )
    assert spool_files(tmp_path) == []


def test_client_errors_are_dropped_not_spooled(
    tmp_path: Path, receiver: Receiver, spooling: list[BoundedSpanProcessor]
) -> None:
    receiver.default = Behaviour(status=400)
    processor, provider = start_processor(spooling, receiver.url, tmp_path)
    emit(provider, 10)
    assert processor.flush(5.0)
    stats = processor.stats()
    assert stats["dropped_by_reason"] == {"export_failed": 10}
    assert stats["spooled"] == 0
    assert spool_files(tmp_path) == []


def test_the_spool_is_bounded_and_evicts_the_oldest_batches_counted(
    tmp_path: Path, spooling: list[BoundedSpanProcessor]
) -> None:
    processor, provider = start_processor(
        spooling, DEAD, tmp_path, spool_max_bytes=MIB, max_batch_spans=4
    )
    for _ in range(8):
        emit(provider, 4, payload="x" * 60_000)  # ~240 kB per batch of 4
        assert processor.flush(5.0)
    stats = processor.stats()
    on_disk = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert on_disk <= MIB
    assert stats["dropped_by_reason"]["spool_full"] >= 16
    assert stats["spooled"] + stats["dropped_by_reason"]["spool_full"] == 32
    assert stats["spool_bytes"] == on_disk
    assert balanced(stats)


def test_leftovers_at_shutdown_go_to_the_spool(
    tmp_path: Path, spooling: list[BoundedSpanProcessor]
) -> None:
    processor, provider = start_processor(spooling, DEAD, tmp_path, schedule_delay=60.0)
    emit(provider, 12)  # the worker waits for a full batch: all twelve are still queued
    started = time.monotonic()
    processor.shutdown(1.0)
    assert time.monotonic() - started < 1.5
    stats = processor.stats()
    assert stats["spooled"] == 12
    assert stats["queued"] == 0
    assert balanced(stats)
    assert len(spool_files(tmp_path)) == 1


APP = """
import os, sys
import tokentrail

tokentrail.configure(endpoint=os.environ["ENDPOINT"], spool_dir=os.environ["SPOOL"])

@tokentrail.observe(name="before_restart")
def step(i):
    return {"i": i}

for i in range(int(sys.argv[1])):
    step(i)
"""


def test_a_new_process_sends_what_an_earlier_one_spooled(
    tmp_path: Path, receiver: Receiver
) -> None:
    spool = tmp_path / "spool"
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    env = {**os.environ, "ENDPOINT": DEAD, "SPOOL": str(spool), "PYTHONPATH": SDK_SRC}
    started = time.monotonic()
    subprocess.run([sys.executable, str(script), "40"], env=env, check=True, timeout=20)
    assert time.monotonic() - started < 10
    assert spool_files(spool), "the first process left nothing in the spool"

    tokentrail.configure(endpoint=receiver.url, spool_dir=str(spool))
    wait_until(lambda: tokentrail.stats()["spool_recovered"]["exported"] >= 40)
    assert [s.name for s in receiver.spans] == ["before_restart"] * 40
    assert len({s.span_id for s in receiver.spans}) == 40
    stats = tokentrail.stats()
    assert stats["created"] == 0
    assert stats["spool_recovered"] == {"exported": 40, "dropped": 0}
    assert spool_files(spool) == []


def test_a_claim_left_by_a_dead_process_is_released(tmp_path: Path) -> None:
    writer = Spool(str(tmp_path), MIB, "1x0")
    writer.write(b"batch", 3)
    (name,) = [p.name for p in spool_files(tmp_path)]
    dead_pid = 2**22 + 12345  # above pid_max on common systems: no such process
    (tmp_path / name).rename(tmp_path / f"{name}.{dead_pid}.sending")

    reader = Spool(str(tmp_path), MIB, "2x0")
    claimed = reader.claim_oldest()
    assert claimed is not None
    assert claimed[0].spans == 3
    assert claimed[1] == b"batch"
    reader.remove(claimed[0])
    assert list(tmp_path.iterdir()) == []


def test_two_readers_never_claim_the_same_batch(tmp_path: Path) -> None:
    writer = Spool(str(tmp_path), MIB, "1x0")
    for i in range(10):
        writer.write(f"batch{i}".encode(), 1)
    first, second = Spool(str(tmp_path), MIB, "2x0"), Spool(str(tmp_path), MIB, "3x0")
    seen: list[bytes] = []
    while True:
        a, b = first.claim_oldest(), second.claim_oldest()
        if a is None and b is None:
            break
        seen.extend(c[1] for c in (a, b) if c is not None)
    assert sorted(seen) == sorted(f"batch{i}".encode() for i in range(10))


def test_configure_reads_the_spool_directory_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENTRAIL_SPOOL_DIR", str(tmp_path))
    monkeypatch.setenv("TOKENTRAIL_SPOOL_MAX_BYTES", "not-a-number")
    tokentrail.configure(endpoint=DEAD)
    from tokentrail import _runtime

    runtime = _runtime.active()
    assert runtime is not None
    assert runtime.config.spool_dir == str(tmp_path)
    assert runtime.config.spool_max_bytes == 256 * MIB


def test_a_bad_spool_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="spool_max_bytes"):
        tokentrail.configure(endpoint=DEAD, spool_max_bytes=10)


def test_an_unusable_spool_directory_drops_counted_without_spinning(
    tmp_path: Path, spooling: list[BoundedSpanProcessor], caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    processor, provider = start_processor(spooling, DEAD, not_a_directory)
    emit(provider, 10)
    assert processor.flush(5.0)
    time.sleep(0.3)  # the worker must be waiting, not retrying the directory in a loop
    stats = processor.stats()
    assert stats["dropped_by_reason"] == {"export_failed": 10}
    assert stats["spooled"] == 0
    assert balanced(stats)
    assert sum("spool directory" in r.getMessage() for r in caplog.records) <= 3


def test_a_busy_app_recovers_from_an_outage_without_a_pause_in_its_traffic(
    tmp_path: Path, receiver: Receiver, spooling: list[BoundedSpanProcessor]
) -> None:
    receiver.default = Behaviour(status=503, headers={"Retry-After": "60"})
    processor, provider = start_processor(
        spooling, receiver.url, tmp_path, max_batch_spans=1, schedule_delay=0.0
    )
    emit(provider, 1)
    assert processor.flush(5.0)
    assert processor.stats()["spooled"] == 1  # offline now; the probe is due in about 1 s
    receiver.default = Behaviour()
    deadline = time.monotonic() + 5.0
    tracer = provider.get_tracer("t")
    # Spans keep coming faster than one file per span is written: the queue is never empty.
    while processor.stats()["exported"] == 0 and time.monotonic() < deadline:
        for _ in range(50):
            tracer.start_span("busy").end()
    assert processor.stats()["exported"] > 0, "the collector was never probed while busy"
    assert processor.flush(30.0)  # ~2,000 one-span batches, on a loaded machine too
    wait_until(lambda: processor.stats()["spooled"] == 0)
    stats = processor.stats()
    assert balanced(stats)
    assert stats["spooled"] == 0
