"""GenAI content that arrives as OTLP log records, joined to its span whichever comes first.

The collector turns each prompt/completion log record into a *content record* (a JSON object,
see :class:`LogContent` for the fields it reads) keyed by the span it belongs to. If the span
is stored, the record is folded into the span's content in the same transaction; otherwise it
waits in ``pending_logs`` and :func:`apply_pending_logs` folds it in when the span is stored.

Both paths take a transaction-level advisory lock per (project, trace) before looking at the
other side, so a log batch and a span batch committing at the same moment cannot miss each
other. Content records are deduplicated by their ``key``, so a re-sent log batch changes
nothing; the span's content is always recomputed from the whole set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Text, delete, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.models import PendingLog, Span

if TYPE_CHECKING:  # core.ingest calls into this module
    from core.ingest import SpanRecord

SpanKey = tuple[str, str]
#: Content records kept per span; later ones are dropped (a chat's history is one record each).
MAX_RECORDS_PER_SPAN = 256
#: Searchable text per span, as for span-borne content.
MAX_TEXT_BYTES = 1024 * 1024
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")


@dataclass(slots=True)
class LogContent:
    """A span's content folded from its log records (``None`` where the records say nothing).

    Each record carries ``key`` (identity), ``rank`` (a details event, 1, wins over role and
    choice events, 0), ``time_ns`` and ``seq`` (order), ``index`` (choice index), ``input`` /
    ``output`` (canonical messages), ``input_text`` / ``output_text`` and ``finish_reasons``.
    """

    input: list[Any] | None = None
    output: list[Any] | None = None
    input_text: str | None = None
    output_text: str | None = None
    finish_reasons: list[str] | None = None


def key_table(keys: Iterable[SpanKey], name: str = "wanted") -> Any:
    """``keys`` as a table ``(trace_id, span_id)``, sent as two arrays (a batch may hold ten
    thousand spans: a literal IN list that long overflows PostgreSQL's parser stack)."""
    ordered = sorted(set(keys))
    return (
        func.unnest(
            literal([k[0] for k in ordered], ARRAY(Text)),
            literal([k[1] for k in ordered], ARRAY(Text)),
        )
        .table_valued("trace_id", "span_id")
        .render_derived(name=name)
    )


def key_in(trace_column: Any, span_column: Any, keys: Iterable[SpanKey]) -> ColumnElement[bool]:
    """``(trace_column, span_column)`` is one of ``keys``."""
    pairs = key_table(keys)
    return tuple_(trace_column, span_column).in_(select(pairs.c.trace_id, pairs.c.span_id))


#: Traces share this many lock stripes per project: a batch of ten thousand traces takes at most
#: this many locks (PostgreSQL's lock table holds ~64 per connection), at the price of unrelated
#: traces in one stripe waiting for each other for the length of a commit.
LOCK_STRIPES = 64


def lock_traces(session: Session, project_id: int, trace_ids: Iterable[str]) -> None:
    """Serialise content joins per (project, trace stripe), in a fixed order (no deadlocks)."""
    stripes = {_lock_key(0, trace_id) % LOCK_STRIPES for trace_id in trace_ids}
    keys = sorted(_lock_key(project_id, f"stripe-{stripe}") for stripe in stripes)
    if keys:
        session.execute(_LOCK_SQL, {"keys": keys})


def _lock_key(project_id: int, trace_id: str) -> int:
    digest = hashlib.blake2b(f"{project_id}:{trace_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def merge_records(existing: list[Any], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``existing`` plus the records of ``new`` not seen before, bounded."""
    merged = [r for r in existing if isinstance(r, dict)]
    seen = {r.get("key") for r in merged}
    for record in new:
        if len(merged) >= MAX_RECORDS_PER_SPAN:
            break
        if record.get("key") not in seen:
            seen.add(record.get("key"))
            merged.append(record)
    return merged


def _order(record: dict[str, Any], by_index: bool) -> tuple[int, int, int]:
    index = record.get("index") if by_index else 0
    return (
        index if isinstance(index, int) else 0,
        int(record.get("time_ns") or 0),
        int(record.get("seq") or 0),
    )


def _slot(records: list[dict[str, Any]], slot: str) -> list[dict[str, Any]]:
    """The records that fill ``slot``: the best rank present, in conversation order.

    A details event repeats the whole conversation, so only its latest copy is used.
    """
    found = [r for r in records if r.get(slot)]
    if not found:
        return []
    best = max(int(r.get("rank") or 0) for r in found)
    chosen = sorted((r for r in found if int(r.get("rank") or 0) == best),
                    key=lambda r: _order(r, slot == "output"))  # fmt: skip
    return chosen[-1:] if best > 0 else chosen


def fold_content(records: list[dict[str, Any]]) -> LogContent:
    """The input, output, texts and finish reasons that ``records`` describe together."""
    content = LogContent()
    inputs, outputs = _slot(records, "input"), _slot(records, "output")
    if inputs:
        content.input = [m for r in inputs for m in r["input"]]
        content.input_text = _joined(r.get("input_text") for r in inputs)
    if outputs:
        content.output = [m for r in outputs for m in r["output"]]
        content.output_text = _joined(r.get("output_text") for r in outputs)
    reasons = _slot(records, "finish_reasons")
    if reasons:
        content.finish_reasons = [str(x) for r in reasons for x in r["finish_reasons"]]
    return content


def _joined(texts: Iterable[Any]) -> str | None:
    joined = "\n".join(t for t in texts if isinstance(t, str) and t)
    encoded = joined.encode("utf-8")
    if len(encoded) > MAX_TEXT_BYTES:
        joined = encoded[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
    return joined or None


def content_update(
    current: dict[str, Any], details: dict[str, Any] | None, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Column values for a span whose log records are now ``records``.

    Log content fills what the span itself did not carry (or what logs filled before);
    ``current`` holds the span's ``input``, ``output`` and ``finish_reasons``.
    """
    folded = fold_content(records)
    details = dict(details or {})
    from_logs = set(details.get("content_from_logs") or [])
    values: dict[str, Any] = {}
    for slot in ("input", "output"):
        found = getattr(folded, slot)
        if found is not None and (current.get(slot) is None or slot in from_logs):
            values[slot], values[f"{slot}_text"] = found, getattr(folded, f"{slot}_text")
            from_logs.add(slot)
    reasons = folded.finish_reasons
    if reasons and (not current.get("finish_reasons") or "finish_reasons" in from_logs):
        values["finish_reasons"] = reasons
        from_logs.add("finish_reasons")
    details["log_records"] = records
    details["content_from_logs"] = sorted(from_logs)
    values["details"] = details
    return values


def attach_log_records(
    session: Session, project_id: int, by_span: dict[SpanKey, list[dict[str, Any]]]
) -> tuple[int, int]:
    """Fold records into stored spans, keep the rest pending; (spans updated, spans pending)."""
    if not by_span:
        return 0, 0
    lock_traces(session, project_id, (trace_id for trace_id, _ in by_span))
    keys = sorted(by_span)
    rows = session.execute(
        select(Span.trace_id, Span.span_id, Span.input, Span.output, Span.finish_reasons,
               Span.details)
        .where(Span.project_id == project_id, key_in(Span.trace_id, Span.span_id, keys))
        .order_by(Span.trace_id, Span.span_id)
        .with_for_update()
    ).all()  # fmt: skip
    for row in rows:
        key = (row.trace_id, row.span_id)
        merged = merge_records((row.details or {}).get("log_records") or [], by_span[key])
        current = {"input": row.input, "output": row.output, "finish_reasons": row.finish_reasons}
        _update_span(session, project_id, key, content_update(current, row.details, merged))
    stored = {(row.trace_id, row.span_id) for row in rows}
    waiting = [key for key in keys if key not in stored]
    _stash(session, project_id, {key: by_span[key] for key in waiting})
    return len(stored), len(waiting)


def _stash(session: Session, project_id: int, by_span: dict[SpanKey, list[dict[str, Any]]]) -> None:
    if not by_span:
        return
    existing = {
        (row.trace_id, row.span_id): row.records
        for row in session.execute(
            select(PendingLog.trace_id, PendingLog.span_id, PendingLog.records)
            .where(PendingLog.project_id == project_id,
                   key_in(PendingLog.trace_id, PendingLog.span_id, by_span))
        )
    }  # fmt: skip
    rows = [
        {"project_id": project_id, "trace_id": trace_id, "span_id": span_id,
         "records": merge_records(existing.get((trace_id, span_id)) or [], records)}
        for (trace_id, span_id), records in sorted(by_span.items())
    ]  # fmt: skip
    stmt = pg_insert(PendingLog)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "trace_id", "span_id"],
        set_={"records": stmt.excluded.records, "received_at": func.now()},
    )
    session.execute(stmt, rows)


def apply_pending_logs(
    session: Session, project_id: int, spans: Sequence[SpanRecord], *, locked: bool = False
) -> int:
    """Fold waiting log records into newly stored ``spans``; how many spans got content.

    Called by the span write path inside its transaction, after the spans are inserted;
    ``locked`` says it already holds :func:`lock_traces` for their traces.
    """
    if not spans:
        return 0
    if not locked:
        lock_traces(session, project_id, (s.trace_id for s in spans))
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    taken = session.execute(
        delete(PendingLog)
        .where(PendingLog.project_id == project_id,
               key_in(PendingLog.trace_id, PendingLog.span_id, by_key))
        .returning(PendingLog.trace_id, PendingLog.span_id, PendingLog.records)
    ).all()  # fmt: skip
    for row in sorted(taken, key=lambda r: (r.trace_id, r.span_id)):
        record = by_key[(row.trace_id, row.span_id)]
        current = {"input": record.input, "output": record.output,
                   "finish_reasons": record.finish_reasons}  # fmt: skip
        values = content_update(current, record.details, merge_records([], row.records))
        _update_span(session, project_id, (row.trace_id, row.span_id), values)
        for name, value in values.items():
            setattr(record, name, value)
    return len(taken)


def _update_span(session: Session, project_id: int, key: SpanKey, values: dict[str, Any]) -> None:
    trace_id, span_id = key
    session.execute(
        update(Span)
        .where(Span.project_id == project_id, Span.trace_id == trace_id, Span.span_id == span_id)
        .values(**values)
    )
