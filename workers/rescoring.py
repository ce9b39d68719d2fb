"""Rescoring on demand: roll a scorer's current version over the spans of a time range.

A request (``core.quality.request_rescore``) is worked in chunks, newest spans first, one
transaction per chunk that holds the request's row lock and moves its keyset cursor; a worker
killed mid-chunk leaves the cursor where the last commit put it. New-version scores are
stored beside the old ones (the unique index includes the version); the same version twice
changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, select, tuple_
from sqlalchemy.orm import Session

from core import quality
from core.models import Span
from workers.scorers import BUILT_IN, Scorer, by_name
from workers.scoring import score_columns, score_rows

logger = logging.getLogger(__name__)

RESCORE_CHUNK = 1000


def rescore_step(
    session: Session, chunk: int = RESCORE_CHUNK, scorers: Sequence[Scorer] = BUILT_IN
) -> bool:
    """Work one chunk of the oldest open request; False when there was nothing to do."""
    request = quality.claim_rescore(session)
    if request is None:
        return False
    scorer = by_name(tuple(scorers)).get(request.scorer)
    now = datetime.now(UTC)
    if scorer is None:
        request.status, request.error, request.finished_at = "failed", "unknown scorer", now
        return True
    if request.status == "pending" or request.scorer_version != scorer.version:
        request.status, request.scorer_version = "running", scorer.version
    query: Select[Any] = (
        select(Span.project_id, Span.trace_id, Span.span_id, *score_columns(), Span.start_time)
        .where(
            Span.project_id == request.project_id,
            Span.start_time >= request.start_time,
            Span.start_time < request.end_time,
            Span.kind.in_(scorer.kinds),
        )
        .order_by(Span.start_time.desc(), Span.trace_id.desc(), Span.span_id.desc())
        .limit(chunk)
    )
    if request.cursor_time is not None:
        query = query.where(
            tuple_(Span.start_time, Span.trace_id, Span.span_id)
            < tuple_(request.cursor_time, request.cursor_trace_id, request.cursor_span_id)
        )
    rows: Sequence[Row[Any]] = session.execute(query).all()
    result = score_rows(session, rows, [scorer])
    request.spans_done += len(rows)
    request.scores_written += len(result.scores)
    if rows:
        last = rows[-1]
        request.cursor_time, request.cursor_trace_id, request.cursor_span_id = (
            last.start_time, last.trace_id, last.span_id)  # fmt: skip
    if len(rows) < chunk:
        request.status, request.finished_at = "done", now
        logger.info("rescore %d of %s v%s done: %d spans", request.id, scorer.name,
                    scorer.version, request.spans_done)  # fmt: skip
    return True
