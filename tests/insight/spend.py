"""Synthetic priced LLM calls stored through the one write path (so the rollups follow)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core.ingest import SpanRecord, store_spans

#: (feature, team, model, cost per call) of the ordinary traffic.
FEATURES = [("search", "growth", "gpt-4o", Decimal("0.02")),
            ("summary", "support", "gpt-4o-mini", Decimal("0.004")),
            ("drafts", "support", "claude-sonnet-4-5", Decimal("0.01"))]  # fmt: skip
CUSTOMERS = ["acme", "globex", "initech", "hooli"]


@dataclass(frozen=True)
class Spike:
    """Extra calls on one day by one customer on one feature."""

    day: date
    customer: str = "globex"
    feature: str = "search"
    calls: int = 200


def call(n: int, at: datetime, feature: str, team: str, model: str, cost: Decimal,
         customer: str, user: str) -> SpanRecord:  # fmt: skip
    return SpanRecord(
        trace_id=f"{n:032x}", span_id=f"{n:016x}", name=f"chat {model}", kind="llm",
        start_time=at, end_time=at + timedelta(seconds=1), provider="openai",
        request_model=model, input_tokens=1000, output_tokens=100, total_tokens=1100,
        cost=cost, cost_source="reported", team=team, feature=feature, customer=customer,
        user_id=user,
    )  # fmt: skip


def traffic(first: date, days: int, *, spike: Spike | None = None, seed: int = 3,
            per_weekday: int = 20, weekend: float = 0.35) -> Iterator[SpanRecord]:  # fmt: skip
    """``days`` of calls from ``first``: a weekly pattern with noise, and an optional spike."""
    rng = random.Random(seed)
    n = 0
    for i in range(days):
        day = first + timedelta(days=i)
        base = per_weekday * (weekend if day.weekday() >= 5 else 1.0)
        for feature, team, model, cost in FEATURES:
            for _ in range(max(1, round(rng.gauss(base, base * 0.08)))):
                n += 1
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
                    hours=rng.uniform(7, 18)
                )
                yield call(n, at, feature, team, model, cost, rng.choice(CUSTOMERS),
                           f"user-{rng.randrange(30):02d}")  # fmt: skip
        if spike is not None and spike.day == day:
            feature, team, model, cost = next(f for f in FEATURES if f[0] == spike.feature)
            for _ in range(spike.calls):
                n += 1
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
                    hours=rng.uniform(7, 18)
                )
                yield call(n, at, feature, team, model, cost, spike.customer,
                           f"user-{rng.randrange(30):02d}")  # fmt: skip


def store(session: Session, project_id: int, spans: Iterator[SpanRecord]) -> int:
    batch: list[SpanRecord] = []
    stored = 0
    for span in spans:
        batch.append(span)
        if len(batch) == 2000:
            stored += store_spans(session, project_id, batch)
            batch = []
    if batch:
        stored += store_spans(session, project_id, batch)
    return stored
