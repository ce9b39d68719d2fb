"""One LLM call reported by two instrumentations must count once.

The Anthropic SDK traces its own calls: with an instrumentation library installed as well, each
call arrives as an LLM span *and* an LLM child span with the same model and usage (reference
§8). Summed naively, trace totals and rollups double. A child LLM span whose parent is an LLM
span describing the same call is marked as the duplicate: kind ``other`` (so it bears no usage
anywhere) with ``details.duplicate_of`` naming the span that counts. Its tokens and cost stay
on the row for inspection.

When the child was stored in an earlier batch than its parent (and so already counted), the
late parent is the one marked, so totals stay right whichever arrives first. The caller holds
the trace locks of :func:`core.pending_logs.lock_traces`, so two batches cannot both count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import CompoundSelect, and_, select, union_all
from sqlalchemy.orm import Session

from core.models import Span, SpanKind
from core.pending_logs import SpanKey, key_table

if TYPE_CHECKING:  # core.ingest calls into this module
    from core.ingest import SpanRecord

_LLM = SpanKind.LLM.value
REASON = "the same LLM call reported by two instrumentations (parent and child span)"


def same_call(a: Any, b: Any) -> bool:
    """Whether two LLM spans report the same call: same model and the same usage."""
    if a.input_tokens is None or a.output_tokens is None:
        return False
    models_a = {m.lower() for m in (a.request_model, a.response_model) if m}
    models_b = {m.lower() for m in (b.request_model, b.response_model) if m}
    cached_a = (a.cache_read_tokens or 0) + (a.cache_write_tokens or 0)
    cached_b = (b.cache_read_tokens or 0) + (b.cache_write_tokens or 0)
    # One side may report input without the cached part (OpenLIT with Anthropic, §8).
    inputs = {a.input_tokens, a.input_tokens + cached_a} & {
        b.input_tokens,
        b.input_tokens + cached_b,
    }
    return (
        bool(models_a & models_b)
        and bool(inputs)
        and a.output_tokens == b.output_tokens
        and cached_a == cached_b
    )


def mark_duplicate(record: SpanRecord, counted_span_id: str) -> None:
    record.kind = SpanKind.OTHER.value
    record.details = {**record.details, "duplicate_of": {"span_id": counted_span_id,
                                                          "reason": REASON}}  # fmt: skip


def mark_duplicate_calls(session: Session, project_id: int, records: Sequence[SpanRecord]) -> int:
    """Mark the LLM spans of ``records`` that repeat another LLM span's call; how many."""
    llm = [r for r in records if r.kind == _LLM and r.input_tokens is not None]
    if not llm:
        return 0
    batch = {(r.trace_id, r.span_id): r for r in records}
    marked = 0
    for record in llm:
        parent = batch.get((record.trace_id, record.parent_span_id or ""))
        if parent is not None and parent.kind == _LLM and same_call(parent, record):
            mark_duplicate(record, parent.span_id)
            marked += 1
    left = [r for r in llm if r.kind == _LLM]
    return marked + _mark_against_stored(session, project_id, left, batch)


def related_llm_spans(
    project_id: int, own: Iterable[SpanKey], parents: Iterable[SpanKey]
) -> CompoundSelect[Any]:
    """Stored LLM spans that are children of ``own`` spans or are the ``parents``.

    Two joins, each answered through the primary key ``(project_id, trace_id, span_id)`` (its
    trace prefix for the children), rather than one ``OR`` of two ``IN`` sets, which PostgreSQL
    can only answer by reading every span of the project (seconds per batch at millions)."""
    columns = (Span.trace_id, Span.span_id, Span.parent_span_id, Span.request_model,
               Span.response_model, Span.input_tokens, Span.output_tokens,
               Span.cache_read_tokens, Span.cache_write_tokens)  # fmt: skip
    mine, theirs = key_table(own, "own_spans"), key_table(parents, "parent_spans")
    children = select(*columns).join(
        mine, and_(Span.trace_id == mine.c.trace_id, Span.parent_span_id == mine.c.span_id)
    )
    fathers = select(*columns).join(
        theirs, and_(Span.trace_id == theirs.c.trace_id, Span.span_id == theirs.c.span_id)
    )
    where = (Span.project_id == project_id, Span.kind == _LLM)
    return union_all(children.where(*where), fathers.where(*where))


def _mark_against_stored(
    session: Session,
    project_id: int,
    records: list[SpanRecord],
    batch: dict[tuple[str, str], SpanRecord],
) -> int:
    if not records:
        return 0
    parents = {(r.trace_id, r.parent_span_id) for r in records if r.parent_span_id}
    own = {(r.trace_id, r.span_id) for r in records}
    rows = session.execute(related_llm_spans(project_id, own, parents)).all()
    stored = list({(row.trace_id, row.span_id): row for row in rows}.values())
    children: dict[tuple[str, str | None], list[SpanRecord]] = {}
    for record in records:
        children.setdefault((record.trace_id, record.parent_span_id), []).append(record)
    own_records = {(r.trace_id, r.span_id): r for r in records}
    marked = 0
    for row in stored:
        if (row.trace_id, row.span_id) in batch:
            continue  # a re-sent span: the batch's own copy was judged above
        # The stored span is the parent of records, or the child of a record (a late parent).
        candidates = list(children.get((row.trace_id, row.span_id), []))
        late_parent = own_records.get((row.trace_id, row.parent_span_id or ""))
        if late_parent is not None:
            candidates.append(late_parent)
        for record in candidates:
            if record.kind == _LLM and same_call(row, record):
                mark_duplicate(record, row.span_id)
                marked += 1
    return marked
