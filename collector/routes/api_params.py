"""Query parameters shared by the trace list, the span list and their exports.

Every parameter is typed and bounded here; the read layer turns the result into SQLAlchemy
expressions from its allowlist, so nothing a client sends reaches SQL as text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Depends, Query

from core.errors import InvalidInputError
from core.queries_filters import MAX_SEARCH_CHARS, ScoreCondition, TraceFilter

Text = Annotated[str | None, Query(max_length=200)]
Sort = Literal["time", "latency", "duration", "cost", "tokens"]
MAX_CURSOR_CHARS = 2_000
SEARCH_HELP = "Substring of prompts, completions (or the trace name), in any language"


def trace_filter_params(
    start: Annotated[datetime | None, Query(description="Started at or after (ISO 8601)")] = None,
    end: Annotated[datetime | None, Query(description="Started before (ISO 8601)")] = None,
    service: Text = None, environment: Text = None, name: Text = None, model: Text = None,
    provider: Text = None, user_id: Text = None, session_id: Text = None,
    tag: Annotated[list[str] | None, Query(max_length=20, description="All of these tags")] = None,
    team: Text = None, feature: Text = None, customer: Text = None,
    status: Annotated[Literal["ok", "error"] | None, Query()] = None,
    min_latency_ms: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    max_latency_ms: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    min_cost: Annotated[Decimal | None, Query(ge=0, max_digits=22, allow_inf_nan=False)] = None,
    max_cost: Annotated[Decimal | None, Query(ge=0, max_digits=22, allow_inf_nan=False)] = None,
    min_tokens: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    max_tokens: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    score: Annotated[list[str] | None, Query(
        max_length=10, description="NAME:OP:VALUE with OP one of eq, ne, gt, gte, lt, lte")] = None,
    q: Annotated[str | None, Query(max_length=MAX_SEARCH_CHARS, description=SEARCH_HELP)] = None,
) -> TraceFilter:  # fmt: skip
    """The filter the query string describes (invalid combinations answer 400)."""
    tags = tuple(t for t in tag or () if t)
    if any(len(t) > 200 for t in tags):
        raise InvalidInputError("a tag is at most 200 characters")
    return TraceFilter(
        start=start, end=end, service=service or None, environment=environment or None,
        name=name or None, model=model or None, provider=provider or None,
        user_id=user_id or None, session_id=session_id or None, tags=tags, team=team or None,
        feature=feature or None, customer=customer or None, status=status,
        min_latency_ms=min_latency_ms, max_latency_ms=max_latency_ms, min_cost=min_cost,
        max_cost=max_cost, min_tokens=min_tokens, max_tokens=max_tokens,
        scores=tuple(ScoreCondition.parse(s) for s in score or ()), search=q or None,
    )  # fmt: skip


def sort_key(sort: Sort) -> str:
    """The read layer's name for a sort (``latency`` is ``duration``)."""
    return "duration" if sort == "latency" else sort


Filters = Annotated[TraceFilter, Depends(trace_filter_params)]
SortParam = Annotated[Sort, Query(description="Largest first: time, latency, cost or tokens")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page")
]
ExportFormat = Annotated[Literal["csv", "jsonl", "parquet"], Query(alias="format")]
