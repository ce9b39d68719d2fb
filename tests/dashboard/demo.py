"""A small, realistic demo: a RAG trace that calls a model and a tool, and a failing trace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core.ingest import SpanRecord, store_spans
from core.models import Score

XSS = "<img src=x onerror=alert(1)><script>alert(1)</script>"
RAG_TRACE = "1" * 32
FAILED_TRACE = "2" * 32


@dataclass(frozen=True)
class Demo:
    rag_cost: Decimal = Decimal("0.00125")
    failed_cost: Decimal = Decimal("0.0042")

    @property
    def total_cost(self) -> Decimal:
        return self.rag_cost + self.failed_cost


def _at(start: datetime, ms: int) -> datetime:
    return start + timedelta(milliseconds=ms)


def rag_trace(start: datetime, cost: Decimal) -> list[SpanRecord]:
    t = RAG_TRACE
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "You answer from the docs."}]},
        {
            "role": "user",
            "parts": [{"type": "text", "content": f"What is our refund policy? {XSS}"}],
        },
    ]
    answer = [{"role": "assistant", "parts": [
        {"type": "text", "content": "Refunds are accepted within 30 days."},
        {"type": "tool_call", "id": "c1", "name": "lookup_order", "arguments": {"id": 7}},
    ]}]  # fmt: skip
    return [
        SpanRecord(trace_id=t, span_id="a" * 16, name="answer-question", kind="chain",
                   start_time=start, end_time=_at(start, 1500), service="support-bot",
                   environment="prod", user_id="user-42", session_id="sess-1", tags=["rag"]),
        SpanRecord(trace_id=t, span_id="b" * 16, parent_span_id="a" * 16, name="search-docs",
                   kind="retriever", start_time=_at(start, 10), end_time=_at(start, 200),
                   documents=[{"id": "doc-refunds", "score": 0.92,
                               "content": "Refund window: 30 days."}]),
        SpanRecord(trace_id=t, span_id="c" * 16, parent_span_id="a" * 16, name="chat gpt-4o",
                   kind="llm", start_time=_at(start, 210), end_time=_at(start, 1400),
                   provider="openai", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
                   input_tokens=120, output_tokens=30, cache_read_tokens=20, total_tokens=150,
                   usage_source="reported", cost=cost, cost_source="computed",
                   price_ref="genai-prices:openai/gpt-4o", input=messages, output=answer,
                   input_text=f"What is our refund policy? {XSS}",
                   output_text="Refunds are accepted within 30 days.", finish_reasons=["stop"]),
        SpanRecord(trace_id=t, span_id="d" * 16, parent_span_id="c" * 16, name=f"tool {XSS}",
                   kind="tool", start_time=_at(start, 1410), end_time=_at(start, 1450),
                   input={"order": 7, "note": XSS}, output={"status": "shipped"}),
    ]  # fmt: skip


def failed_trace(start: datetime, cost: Decimal) -> list[SpanRecord]:
    t = FAILED_TRACE
    return [
        SpanRecord(trace_id=t, span_id="e" * 16, name="summarise-ticket", kind="agent",
                   start_time=start, end_time=_at(start, 3000), service="triage",
                   environment="staging", user_id="user-7", status="error",
                   error_type="TimeoutError", error_message="model took too long"),
        SpanRecord(trace_id=t, span_id="f" * 16, parent_span_id="e" * 16,
                   name="chat claude-sonnet-4", kind="llm", start_time=_at(start, 5),
                   end_time=_at(start, 2900), provider="anthropic",
                   request_model="claude-sonnet-4", input_tokens=800, output_tokens=200,
                   total_tokens=1000, cost=cost, cost_source="reported",
                   input="Summarise this ticket.", output=None),
    ]  # fmt: skip


def seed_demo(session: Session, project_id: int, now: datetime | None = None) -> Demo:
    """Store the demo traces (started minutes ago) and a score; return the expected numbers."""
    demo = Demo()
    now = now or datetime.now(UTC)
    store_spans(session, project_id, rag_trace(now - timedelta(minutes=5), demo.rag_cost))
    store_spans(session, project_id, failed_trace(now - timedelta(minutes=2), demo.failed_cost))
    session.add(Score(project_id=project_id, trace_id=RAG_TRACE, span_id="c" * 16,
                      name="helpfulness", value=0.87, source="scorer", comment=XSS))  # fmt: skip
    return demo
