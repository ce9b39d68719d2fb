"""Governance fixtures: spend written through the real ingest path, budgets, a stub receiver."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import budgets
from core.budgets import BudgetIn
from core.ingest import SpanRecord, store_spans

_ids = itertools.count(1)


def earlier_today() -> datetime:
    """A moment already past but inside today (UTC), hence inside this day's, week's and month's
    budget periods whatever the hour the test runs at."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (now - midnight) / 2


def spend(
    factory: sessionmaker[Session], project_id: int, at: datetime, cost: str, **dims: Any
) -> None:
    """Store one priced LLM call of ``cost`` USD at ``at`` (rollups follow, as in production)."""
    n = next(_ids)
    span = SpanRecord(
        trace_id=f"{n:032x}", span_id=f"{n:016x}", name="chat", kind="llm", start_time=at,
        end_time=at + timedelta(milliseconds=10), provider="openai",
        request_model=dims.pop("model", "gpt-4o"), cost=Decimal(cost), cost_source="computed",
        input_tokens=10, output_tokens=5, **dims,
    )  # fmt: skip
    with factory.begin() as session:
        store_spans(session, project_id, [span])


def make_budget(factory: sessionmaker[Session], project_id: int, **fields: Any) -> int:
    data = BudgetIn.model_validate({"name": "test budget", "limit_usd": "10"} | fields)
    with factory.begin() as session:
        return budgets.create_budget(session, project_id, data).id


@dataclass
class Receiver:
    """A webhook receiver on loopback answering ``plan`` statuses in turn (then 200)."""

    plan: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def received(self) -> int:
        with self.lock:
            return len(self.bodies)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with state.lock:
                state.bodies.append(body)
                state.headers.append({k.lower(): v for k, v in self.headers.items()})
                status = state.plan.pop(0) if state.plan else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
