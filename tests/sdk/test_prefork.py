"""A pre-fork server: the parent configures the SDK and keeps tracing while it forks workers in a
loop; every worker exports its own spans, none hangs, none re-sends the parent's."""

from __future__ import annotations

import os

import pytest
import tokentrail

from tests.sdk.conftest import flush
from tests.sdk.receiver import Receiver

WORKERS = 6
CALLS_PER_WORKER = 50


@tokentrail.observe(name="parent_tick")
def parent_tick(i: int) -> int:
    return i


@tokentrail.observe(name="handle_request")
def handle_request(i: int) -> dict[str, int]:
    return {"status": 200, "i": i}


def serve_in_child() -> int:
    """The worker's whole life; its exit code tells the parent what went wrong."""
    for i in range(CALLS_PER_WORKER):
        handle_request(i)
    if not tokentrail.flush(5.0):
        return 1
    stats = tokentrail.stats()
    if stats["created"] != CALLS_PER_WORKER or stats["exported"] != CALLS_PER_WORKER:
        return 2
    return 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_workers_each_export_their_own_spans(sdk: Receiver) -> None:
    children = []
    for n in range(WORKERS):
        # The parent's exporter thread is busy while we fork: spans are queued and being sent.
        for i in range(20):
            parent_tick(n * 20 + i)
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                code = serve_in_child()
            finally:
                os._exit(code)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert codes == [0] * WORKERS
    flush(sdk)
    names = [s.name for s in sdk.spans]
    assert names.count("handle_request") == WORKERS * CALLS_PER_WORKER
    assert names.count("parent_tick") == WORKERS * 20
    assert len({s.span_id for s in sdk.spans}) == len(sdk.spans)
    stats = tokentrail.stats()
    assert stats["created"] == stats["exported"] == WORKERS * 20
