"""The scoring job: claim unscored spans, run every applicable scorer, store scores once.

One batch is one transaction: claim (``FOR UPDATE SKIP LOCKED``), read the trace's retrieved
documents (one query), score, insert scores (``ON CONFLICT DO NOTHING`` on the unique index
per span, scorer and version), dead-letter the spans a scorer raised on, mark the spans scored
and add their ingest-to-score lag to the histogram. A worker killed mid-batch commits nothing,
its row locks go with its connection, and the next worker claims the same spans again.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Text,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONPATH
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core import quality
from core.models import Project, Score, Span, SpanKind
from core.models_quality import ScoringQueue
from workers.scorers import BUILT_IN, Scorer, SpanView, ToolCall

logger = logging.getLogger(__name__)

#: Text a scorer reads is capped, so a 1 MiB completion costs what a 20 KiB one does.
MAX_OUTPUT_CHARS = 20_000
MAX_INPUT_CHARS = 4_000
#: Documents per trace and characters per document given to groundedness.
MAX_DOCUMENTS = 50
MAX_DOCUMENT_CHARS = 8_000

_LLM = literal(SpanKind.LLM.value)
_USER_TEXT = literal('$[*] ? (@.role == "user").parts[*] ? (@.type == "text").content', JSONPATH)
_TOOL_CALLS = literal('$[*].parts[*] ? (@.type == "tool_call")', JSONPATH)


def _llm_only(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((Span.kind == _LLM, expr), else_=None)


def score_columns() -> list[Any]:
    """What the scorers need, cut down in SQL (no whole prompt crosses the wire)."""
    return [
        Span.kind, Span.finish_reasons,
        func.left(Span.output_text, MAX_OUTPUT_CHARS).label("output_text"),
        func.right(Span.input_text, MAX_INPUT_CHARS).label("input_text"),
        _llm_only(func.jsonb_path_query_array(Span.input, _USER_TEXT).op("->>")(-1)).label(
            "question"),
        _llm_only(func.jsonb_path_query_array(Span.output, _TOOL_CALLS)).label("tool_calls"),
        _llm_only(Span.details["tools"]).label("tools"),
        _llm_only(Span.attributes["gen_ai.output.type"].astext).label("output_type"),
        _llm_only(func.coalesce(
            Span.details["model_parameters"]["response_format"],
            Span.attributes["gen_ai.openai.request.response_format"],
            Span.attributes["gen_ai.request.response_format"],
        )).label("response_format"),
    ]  # fmt: skip


def claim_unscored(session: Session, limit: int) -> list[Row[Any]]:
    """Up to ``limit`` queued spans, oldest first, locked for this transaction.

    The queue rows are claimed (``FOR UPDATE SKIP LOCKED``) and joined to their spans in one
    statement; a queued span that no longer exists comes back with ``kind`` None and is only
    dequeued.
    """
    oldest = (
        select(func.min(ScoringQueue.ingested_at))
        .where(ScoringQueue.project_id == Project.id)
        .scalar_subquery()
    )
    # The project whose oldest span has waited longest goes first (a lag-fair order; each
    # minimum is one probe of the (project, ingested_at) index).
    waiting = session.scalars(
        select(Project.id).where(oldest.is_not(None)).order_by(oldest, Project.id)
    ).all()
    claimed: list[Row[Any]] = []
    for project_id in waiting:
        if len(claimed) >= limit:
            break
        queue = (
            select(ScoringQueue.project_id, ScoringQueue.trace_id, ScoringQueue.span_id,
                   ScoringQueue.ingested_at)
            .where(ScoringQueue.project_id == project_id)
            .order_by(ScoringQueue.ingested_at)
            .limit(limit - len(claimed))
            .with_for_update(skip_locked=True)
            .cte("claimed")
        )  # fmt: skip
        query: Select[Any] = (
            select(queue.c.project_id, queue.c.trace_id, queue.c.span_id, queue.c.ingested_at,
                   *score_columns())
            .select_from(queue)
            .outerjoin(Span, and_(Span.project_id == queue.c.project_id,
                                  Span.trace_id == queue.c.trace_id,
                                  Span.span_id == queue.c.span_id))
            .order_by(queue.c.ingested_at)
        )  # fmt: skip
        claimed += session.execute(query).all()
    return claimed


def retrieved_documents(
    session: Session, traces: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], tuple[str, ...]]:
    """The documents retrieved in each of ``traces`` (one query per project in the batch,
    an index range scan on (project, trace) each)."""
    by_project: dict[int, set[str]] = defaultdict(set)
    for project_id, trace_id in traces:
        by_project[project_id].add(trace_id)
    found: dict[tuple[int, str], list[str]] = defaultdict(list)
    for project_id, trace_ids in sorted(by_project.items()):
        rows = session.execute(
            select(Span.trace_id, Span.documents)
            .where(Span.project_id == project_id,
                   Span.trace_id == func.any(literal(sorted(trace_ids), ARRAY(Text))),
                   Span.documents.is_not(None))
            .order_by(Span.trace_id, Span.start_time)
        )  # fmt: skip
        for row in rows:
            texts = found[(project_id, row.trace_id)]
            for doc in row.documents if isinstance(row.documents, list) else []:
                content = doc.get("content") if isinstance(doc, dict) else None
                if isinstance(content, str) and content and len(texts) < MAX_DOCUMENTS:
                    texts.append(content[:MAX_DOCUMENT_CHARS])
    return {key: tuple(texts) for key, texts in found.items()}


def _response_format(output_type: str | None, declared: Any) -> tuple[str | None, Any]:
    """("json", schema or None) when the request asked for JSON output, else (None, None)."""
    if isinstance(output_type, str) and output_type.lower() == "json":
        return "json", None
    if isinstance(declared, str) and declared.lower() in ("json", "json_object", "json_schema"):
        return "json", None
    if isinstance(declared, dict):
        kind = str(declared.get("type", "")).lower()
        if kind in ("json", "json_object", "json_schema"):
            spec = declared.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            return "json", schema if isinstance(schema, dict) else None
    return None, None


def _tool_schemas(tools: Any) -> dict[str, Any]:
    """Parameter schemas by tool name, from OTel, OpenAI and OpenInference tool shapes."""
    schemas: dict[str, Any] = {}
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        spec: dict[str, Any] = function if isinstance(function, dict) else tool
        name, params = spec.get("name"), spec.get("parameters", spec.get("input_schema"))
        if isinstance(name, str) and isinstance(params, dict):
            schemas[name] = params
    return schemas


def view_of(row: Row[Any], context: tuple[str, ...] = ()) -> SpanView:
    fmt, schema = _response_format(row.output_type, row.response_format)
    calls = tuple(
        ToolCall(c.get("name") if isinstance(c.get("name"), str) else None, c.get("arguments"))
        for c in (row.tool_calls or [])
        if isinstance(c, dict)
    )
    return SpanView(
        kind=row.kind, input_text=row.input_text, output_text=row.output_text,
        finish_reasons=tuple(row.finish_reasons or ()), question=row.question,
        context=context, response_format=fmt, json_schema=schema, tool_calls=calls,
        tool_schemas=_tool_schemas(row.tools) if calls else {},
    )  # fmt: skip


@dataclass(slots=True)
class ScoredRows:
    scores: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)


def run_scorers(
    rows: Sequence[Row[Any]],
    views: Sequence[SpanView],
    scorers: Sequence[Scorer],
    sampling: dict[tuple[int, str], quality.Sampling],
) -> ScoredRows:
    """Every applicable, sampled scorer on every span; a scorer that raises dead-letters
    that span for that scorer and the rest carry on."""
    out = ScoredRows()
    by_kind: dict[str, list[Scorer]] = {}
    for row, view in zip(rows, views, strict=True):
        point: float | None = None
        applicable = by_kind.get(view.kind)
        if applicable is None:
            applicable = by_kind[view.kind] = [s for s in scorers if view.kind in s.kinds]
        for scorer in applicable:
            rule = (
                sampling.get((row.project_id, scorer.name), quality.DEFAULT_SAMPLING)
                if sampling
                else quality.DEFAULT_SAMPLING
            )
            if rule.sample_rate < 1.0 or not rule.enabled:
                if point is None:
                    point = quality.sample_point(row.trace_id, row.span_id)
                if not rule.picks(point):
                    continue
            try:
                value = scorer.score(view)
            except Exception as exc:  # boundary: one poison span must not stop the batch
                logger.warning("scorer %s failed on span %s/%s: %r", scorer.name,
                               row.trace_id, row.span_id, exc)  # fmt: skip
                out.dead.append(quality.dead_letter_rows(
                    row.project_id, row.trace_id, row.span_id, scorer.name, scorer.version,
                    f"{type(exc).__name__}: {exc}"))  # fmt: skip
                continue
            if value is None:
                continue
            out.scores.append({
                "project_id": row.project_id, "trace_id": row.trace_id,
                "span_id": row.span_id, "name": scorer.name, "value": float(value),
                "source": "scorer", "scorer_version": scorer.version,
            })  # fmt: skip
    return out


_NEW_SCORES = text(
    "jsonb_to_recordset(CAST(:scores AS jsonb)) AS new_scores(project_id bigint, trace_id text,"
    " span_id text, name text, value float8, source text, scorer_version text)"
)
_SCORE_NAMES = ["project_id", "trace_id", "span_id", "name", "value", "source", "scorer_version"]


def insert_scores(session: Session, scores: Sequence[dict[str, Any]]) -> None:
    """Insert a batch of scores in one statement (one JSON parameter unpacked server-side,
    cheaper to send than an array per column); a score that exists for the same span,
    scorer and version is skipped."""
    if not scores:
        return
    source = _NEW_SCORES.bindparams(scores=json.dumps(scores))
    rows: Any = select(*(literal_column(n) for n in _SCORE_NAMES)).select_from(source)
    stmt = pg_insert(Score).from_select(_SCORE_NAMES, rows).on_conflict_do_nothing()
    session.execute(stmt)


def score_rows(session: Session, rows: Sequence[Row[Any]], scorers: Sequence[Scorer]) -> ScoredRows:
    """Score already-selected rows and store the results (scores and dead letters)."""
    rows = [r for r in rows if r.kind is not None]  # a queued span deleted since
    llm_traces = [(r.project_id, r.trace_id) for r in rows if r.kind == SpanKind.LLM.value]
    documents = retrieved_documents(session, llm_traces)
    views = [view_of(r, documents.get((r.project_id, r.trace_id), ())) for r in rows]
    sampling = quality.sampling_for(session, {r.project_id for r in rows})
    result = run_scorers(rows, views, scorers, sampling)
    insert_scores(session, result.scores)
    quality.add_dead_letters(session, result.dead)
    return result


def score_batch(session: Session, batch_size: int, scorers: Sequence[Scorer] = BUILT_IN) -> int:
    """Score up to ``batch_size`` queued spans in the caller's transaction; return how many.

    ``FOR UPDATE SKIP LOCKED`` lets any number of workers share the queue; the unique index
    on (project, trace, span, scorer, version) makes a re-run after a crash harmless, and the
    queue rows are deleted in the same transaction as the scores are written.
    """
    claimed = claim_unscored(session, batch_size)
    if not claimed:
        return 0
    result = score_rows(session, claimed, scorers)
    now = datetime.now(UTC)
    lags: dict[int, list[float]] = defaultdict(list)
    keys: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for row in claimed:
        lags[row.project_id].append((now - row.ingested_at).total_seconds())
        keys[row.project_id].append((row.trace_id, row.span_id))
    for project_id, project_keys in sorted(keys.items()):
        quality.dequeue(session, project_id, project_keys)
    quality.record_lag(session, lags)
    logger.info("scored %d spans, %d scores, %d dead letters", len(claimed),
                len(result.scores), len(result.dead))  # fmt: skip
    return len(claimed)
