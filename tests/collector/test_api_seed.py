"""Seed data for the read API tests: traces that each differ from a baseline in one field.

(No tests here: the ``test_api_`` prefix keeps the read API's files together.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.ingest import SpanRecord, store_spans
from core.models import Project, Score

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


BASE: dict[str, Any] = {
    "service": "api", "environment": "prod", "model": "gpt-4o", "provider": "openai",
    "user_id": "u1", "session_id": "s1", "tags": [], "team": "core", "feature": "chat",
    "customer": "acme", "error": False,
}  # fmt: skip
SHARED = ("service", "environment", "user_id", "session_id", "team", "feature", "customer")


def trace(n: int, **opts: Any) -> list[SpanRecord]:
    """Trace ``n``: an agent root and one LLM call; ``opts`` override single fields."""
    o: dict[str, Any] = BASE | {
        "start": T0 + timedelta(minutes=n), "duration_ms": 100 * (n + 1), "name": f"trace-{n}",
        "cost": Decimal("0.001") * (n + 1), "tokens": (10 * (n + 1), 5),
        "prompt": f"prompt {n}", "answer": f"answer {n}",
    } | opts  # fmt: skip
    trace_id, start = f"{n:032x}", o["start"]
    end = start + timedelta(milliseconds=o["duration_ms"])
    shared = {k: o[k] for k in SHARED}
    root = SpanRecord(trace_id=trace_id, span_id=f"{n:015x}a", name=o["name"], kind="agent",
                      start_time=start, end_time=end, tags=o["tags"], **shared)  # fmt: skip
    return [root, _llm(trace_id, f"{n:015x}b", root.span_id, o, shared)]


def _llm(
    trace_id: str, span_id: str, parent: str, o: dict[str, Any], shared: dict[str, Any]
) -> SpanRecord:
    start = o["start"] + timedelta(milliseconds=1)
    end = o["start"] + timedelta(milliseconds=o["duration_ms"] - 1)
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, kind="llm",
        name=f"chat {o['model']}", start_time=start, end_time=end, provider=o["provider"],
        request_model=o["model"], input_tokens=o["tokens"][0], output_tokens=o["tokens"][1],
        total_tokens=sum(o["tokens"]), cost=o["cost"], cost_source="computed",
        status="error" if o["error"] else "ok", input_text=o["prompt"], output_text=o["answer"],
        input=[{"role": "user", "parts": [{"type": "text", "content": o["prompt"]}]}],
        output=[{"role": "assistant", "parts": [{"type": "text", "content": o["answer"]}]}],
        attributes={"gen_ai.system": o["provider"]}, **shared,
    )  # fmt: skip


#: Trace n differs from trace 0 in exactly the fields given; the filter cases rely on it.
VARIANTS: dict[int, dict[str, Any]] = {
    0: {},
    1: {"service": "worker", "team": "growth"},
    2: {"environment": "staging", "model": "claude-sonnet-4", "provider": "anthropic"},
    3: {"user_id": "u2", "session_id": "s2", "tags": ["beta", "vip"], "customer": "globex"},
    4: {"error": True, "prompt": "Refund 100% of order_7", "answer": "Done", "feature": "refunds"},
    5: {"prompt": "退款政策是什么？我想退货", "answer": "您可以在三十天内退款"},
    6: {"prompt": "ما هي سياسة الاسترداد لديكم", "answer": "يمكنك الاسترداد خلال ثلاثين يوما"},
}


def seed(factory: sessionmaker[Session], project: Project) -> None:
    """The variant traces plus a helpfulness score on traces 0 (0.9) and 2 (0.4)."""
    with factory.begin() as session:
        spans = [s for n, opts in VARIANTS.items() for s in trace(n, **opts)]
        store_spans(session, project.id, spans)
        for n, value in ((0, 0.9), (2, 0.4)):
            session.add(
                Score(
                    project_id=project.id,
                    trace_id=f"{n:032x}",
                    span_id=f"{n:015x}b",
                    name="helpfulness",
                    value=value,
                    source="scorer",
                )
            )


def names(payload: dict[str, Any]) -> list[str]:
    return [item["name"] for item in payload["items"]]
