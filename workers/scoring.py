"""The scoring job: claim unscored spans, run every applicable scorer, store scores once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.models import Score, Span
from workers.scorers import BUILT_IN, Scorer, SpanView

logger = logging.getLogger(__name__)


def score_batch(session: Session, batch_size: int, scorers: Sequence[Scorer] = BUILT_IN) -> int:
    """Score up to ``batch_size`` unscored spans in the caller's transaction; return how many.

    ``FOR UPDATE SKIP LOCKED`` lets any number of workers share the backlog; the unique index
    on (project, trace, span, scorer, version) makes a re-run after a crash harmless.
    """
    claimed = session.execute(
        select(
            Span.project_id,
            Span.trace_id,
            Span.span_id,
            Span.kind,
            Span.input_text,
            Span.output_text,
            Span.finish_reasons,
        )
        .where(Span.scored_at.is_(None))
        .order_by(Span.ingested_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not claimed:
        return 0
    rows = []
    for span in claimed:
        view = SpanView(
            span.kind, span.input_text, span.output_text, tuple(span.finish_reasons or ())
        )
        for scorer in scorers:
            if view.kind not in scorer.kinds:
                continue
            value = scorer.score(view)
            if value is None:
                continue
            rows.append({
                "project_id": span.project_id, "trace_id": span.trace_id,
                "span_id": span.span_id, "name": scorer.name, "value": value,
                "source": "scorer", "scorer_version": scorer.version,
            })  # fmt: skip
    if rows:
        session.execute(pg_insert(Score).on_conflict_do_nothing(), rows)
    now = datetime.now(UTC)
    for project_id in {s.project_id for s in claimed}:
        keys = [(s.trace_id, s.span_id) for s in claimed if s.project_id == project_id]
        session.execute(
            update(Span)
            .where(Span.project_id == project_id, tuple_(Span.trace_id, Span.span_id).in_(keys))
            .values(scored_at=now)
        )
    logger.info("scored %d spans, %d scores", len(claimed), len(rows))
    return len(claimed)
