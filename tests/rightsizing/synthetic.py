"""Synthetic task traffic where the right answer is known: models, prices, costs and scores."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core import prices
from core.ingest import SpanRecord, store_spans
from core.models import Score
from core.prices import PriceOverrideIn

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
IN_TOKENS, OUT_TOKENS = 1000, 100
#: USD per million tokens (input, output) set as project price overrides.
PRICES = {"big-model": (Decimal(10), Decimal(30)), "small-model": (Decimal(1), Decimal(3)),
          "tiny-model": (Decimal("0.5"), Decimal("1.5"))}  # fmt: skip


def call_cost(model: str) -> Decimal:
    inp, out = PRICES[model]
    return (IN_TOKENS * inp + OUT_TOKENS * out) / Decimal(1_000_000)


def add_prices(session: Session, project_id: int) -> None:
    for model, (inp, out) in PRICES.items():
        prices.create_override(session, project_id, PriceOverrideIn(
            model_pattern=model, effective_from=datetime(2026, 1, 1, tzinfo=UTC),
            input_per_mtok=inp, output_per_mtok=out), "test")  # fmt: skip


def add_calls(
    session: Session, project_id: int, *, model: str, count: int, quality: float | None,
    feature: str = "classify", seed: int = 1, first: int = 0, score_name: str = "label_correct",
    latency_ms: float = 800.0, days: int = 29, now: datetime = NOW, cost: Decimal | None = None,
) -> list[str]:  # fmt: skip
    """``count`` LLM calls of ``model`` on ``feature`` spread over the last ``days`` days, each
    with a 0/1 ``score_name`` score, 1 for exactly ``quality`` of them (None: unscored).
    Returns the trace ids."""
    rng = random.Random(seed)
    ones = round((quality or 0.0) * count)
    values = [1.0] * ones + [0.0] * (count - ones)
    rng.shuffle(values)  # exactly the stated share of good answers, in a random order
    records: list[SpanRecord] = []
    scores: list[Score] = []
    traces = []
    for i in range(count):
        n = first + i
        trace_id, span_id = f"{n:032x}", f"{n:016x}"
        start = now - timedelta(days=days * (i + 0.5) / count)
        records.append(SpanRecord(
            trace_id=trace_id, span_id=span_id, name=f"chat {model}", kind="llm",
            start_time=start, end_time=start + timedelta(milliseconds=latency_ms + n % 7),
            provider="openai", request_model=model, response_model=f"{model}-2026",
            input_tokens=IN_TOKENS, output_tokens=OUT_TOKENS, total_tokens=IN_TOKENS + OUT_TOKENS,
            usage_source="reported", cost=call_cost(model) if cost is None else cost,
            cost_source="computed",
            feature=feature, input_text="Cancel my plan", output_text="cancellation",
            input=[{"role": "user", "parts": [{"type": "text", "content": "Cancel my plan"}]}],
            output=[{"role": "assistant", "parts": [{"type": "text", "content": "cancellation"}]}],
        ))  # fmt: skip
        traces.append(trace_id)
        if quality is not None:
            scores.append(Score(project_id=project_id, trace_id=trace_id, span_id=span_id,
                                name=score_name, value=values[i], source="feedback"))  # fmt: skip
    store_spans(session, project_id, records)
    session.add_all(scores)
    session.flush()
    return traces
