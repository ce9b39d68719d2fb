"""Response models of the read API (``/api/v1``): the OpenAPI schema and the JSON shape.

They are filled from the read layer's dataclasses (``from_attributes``); money is a decimal
string, times are ISO 8601 UTC, content is JSON exactly as stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TraceOut(_Out):
    trace_id: str
    name: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    span_count: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: Decimal
    unpriced_calls: int
    error_count: int
    models: list[str]
    service: str | None
    environment: str | None
    user_id: str | None
    session_id: str | None
    tags: list[str]


class SpanOut(_Out):
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    error_type: str | None
    error_message: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    provider: str | None
    request_model: str | None
    response_model: str | None
    operation: str | None
    finish_reasons: list[str] | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    usage_source: str | None
    cost: Decimal | None
    cost_source: str
    price_ref: str | None
    session_id: str | None
    user_id: str | None
    tags: list[str] | None
    team: str | None
    feature: str | None
    customer: str | None
    environment: str | None
    service: str | None
    input: Any = None
    output: Any = None
    documents: Any = None
    attributes: dict[str, Any]
    events: list[Any]


class ScoreItem(_Out):
    name: str
    value: float | None
    label: str | None
    comment: str | None
    source: str
    span_id: str | None
    scorer_version: str
    created_at: datetime


class TracePage(BaseModel):
    items: list[TraceOut]
    next_cursor: str | None


class SpanPage(BaseModel):
    items: list[SpanOut]
    next_cursor: str | None


class TraceDetailOut(BaseModel):
    """A trace, a window of its spans (``span_offset``…) and its scores."""

    trace: TraceOut
    spans: list[SpanOut]
    span_offset: int
    span_total: int
    next_span_offset: int | None
    scores: list[ScoreItem]


class SessionOut(_Out):
    session_id: str
    traces: int
    first_seen: datetime
    last_seen: datetime
    llm_calls: int
    total_tokens: int
    cost: Decimal
    errors: int
    user_ids: list[str]


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class TurnOut(_Out):
    trace_id: str
    span_id: str
    start_time: datetime
    name: str
    model: str | None
    input: Any = None
    output: Any = None
    input_text: str | None
    output_text: str | None


class SessionDetailOut(BaseModel):
    session: SessionOut
    traces: list[TraceOut]
    turns: list[TurnOut]


class EndUserOut(_Out):
    user_id: str
    traces: int
    llm_calls: int
    total_tokens: int
    cost: Decimal
    errors: int
    first_seen: datetime
    last_seen: datetime


class EndUserPage(BaseModel):
    items: list[EndUserOut]
    next_cursor: str | None
