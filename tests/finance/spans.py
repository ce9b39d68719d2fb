"""Span builders and Hypothesis strategies shared by the finance tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.ingest import SpanRecord
from core.models import Span

T0 = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
TEAMS = ("search", "support", None)
CUSTOMERS = ("acme", "globex", None)
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"))


def database_settings(max_examples: int) -> Any:
    """Hypothesis settings of a property test that stores each example in PostgreSQL."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # shrinking a DB-backed case takes minutes
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def llm(n: int, **fields: Any) -> SpanRecord:
    """An LLM span numbered ``n`` (ids derive from it), 800 ms long, with a computed cost."""
    start = fields.pop("start_time", T0 + timedelta(minutes=n))
    values: dict[str, Any] = {
        "trace_id": f"{n // 4 + 1:032x}", "span_id": f"{n + 1:016x}", "name": "chat",
        "start_time": start, "end_time": start + timedelta(milliseconds=800), "kind": "llm",
        "provider": "openai", "request_model": "gpt-4o", "input_tokens": 1000,
        "output_tokens": 200, "total_tokens": 1200, "usage_source": "reported",
        "cost": Decimal("0.0045"), "cost_source": "computed", "team": "search",
        "customer": "acme", "user_id": "u1", "feature": "chat",
    }  # fmt: skip
    values.update(fields)
    return SpanRecord(**values)


@st.composite
def span_sets(draw: st.DrawFn, max_size: int = 40) -> list[SpanRecord]:
    """Random LLM/embedding/chain spans over ~3 days, some reported, some unpriced."""
    count = draw(st.integers(1, max_size))
    out = []
    for n in range(count):
        provider, model = draw(st.sampled_from(MODELS))
        source = draw(st.sampled_from(("computed", "computed", "reported", "unknown")))
        cost = None
        if source != "unknown":
            cost = Decimal(draw(st.integers(0, 10**8))) / Decimal(10**10)
        out.append(
            llm(
                n,
                start_time=T0 + timedelta(seconds=draw(st.integers(0, 3 * 86_400))),
                kind=draw(st.sampled_from(("llm", "llm", "embedding", "chain"))),
                status=draw(st.sampled_from(("ok", "error", "unset"))),
                provider=provider,
                request_model=model,
                input_tokens=draw(st.integers(0, 50_000)),
                output_tokens=draw(st.integers(0, 5_000)),
                cache_read_tokens=draw(st.sampled_from((None, 0, 500))),
                cost=cost,
                cost_source=source,
                team=draw(st.sampled_from(TEAMS)),
                customer=draw(st.sampled_from(CUSTOMERS)),
                user_id=draw(st.sampled_from(("u1", "u2", None))),
            )
        )
    return out


def span_cost(session: Session, project_id: int, **where: Any) -> Decimal:
    """The sum of costs of the project's usage-bearing spans (the truth reports must match)."""
    query = select(func.coalesce(func.sum(Span.cost), 0)).where(
        Span.project_id == project_id, Span.kind.in_(("llm", "embedding"))
    )
    for name, value in where.items():
        query = query.where(getattr(Span, name) == value)
    return Decimal(session.scalar(query))
