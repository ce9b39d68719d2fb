"""Quality bookkeeping shared by the workers and the pages: scorer sampling, rescore requests,
dead letters, task delivery counts and the ingest-to-score lag histogram.

Scorers themselves live in ``workers.scorers``; this module knows them only by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import Score
from core.models_quality import (
    DeadLetter,
    RescoreRequest,
    ScorerSetting,
    ScoringLag,
    ScoringQueue,
    TaskAttempt,
)

#: Upper bounds (seconds) of the lag histogram; +inf is implied.
LAG_BUCKETS: tuple[float, ...] = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, 300, 900, 3600)
#: Deliveries of one task id before it is dead-lettered instead of run.
MAX_TASK_ATTEMPTS = 3
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Sampling:
    """A project's choice for one scorer (the default: on, every span)."""

    enabled: bool = True
    sample_rate: float = 1.0

    def picks(self, point: float) -> bool:
        return self.enabled and point < self.sample_rate


DEFAULT_SAMPLING = Sampling()


_KEYS = text("jsonb_to_recordset(CAST(:keys AS jsonb)) AS keys(trace_id text, span_id text)")


def _key_rows(keys: Sequence[tuple[str, str]]) -> Any:
    """(trace_id, span_id) pairs as rows of one JSON parameter: one statement for a whole
    batch, however long, and cheap to send."""
    payload = json.dumps([{"trace_id": t, "span_id": s} for t, s in sorted(set(keys))])
    return select(literal_column("trace_id"), literal_column("span_id")).select_from(
        _KEYS.bindparams(keys=payload)
    )


def enqueue_for_scoring(session: Session, project_id: int, keys: Sequence[tuple[str, str]]) -> None:
    """Queue spans for the scoring job (called by the ingest transaction for new spans, and
    to score spans again). A span already waiting is left as it is."""
    if not keys:
        return
    pairs = _key_rows(keys).subquery()
    stmt = pg_insert(ScoringQueue).from_select(
        ["project_id", "trace_id", "span_id"],
        select(literal(project_id, BigInteger), pairs.c.trace_id, pairs.c.span_id),
    )
    session.execute(stmt.on_conflict_do_nothing())


def dequeue(session: Session, project_id: int, keys: Sequence[tuple[str, str]]) -> None:
    """Remove scored spans from the queue (rows the caller holds locked)."""
    if not keys:
        return
    session.execute(
        delete(ScoringQueue)
        .where(ScoringQueue.project_id == project_id,
               tuple_(ScoringQueue.trace_id, ScoringQueue.span_id).in_(_key_rows(keys)))
        .execution_options(synchronize_session=False)
    )  # fmt: skip


class _Evaluated(Protocol):
    trace_id: str
    span_id: str
    details: dict[str, Any]


def store_evaluations(session: Session, project_id: int, spans: Sequence[_Evaluated]) -> int:
    """Store the evaluation results the normaliser found on newly inserted spans (OTel
    ``gen_ai.evaluation.result`` events, kept in ``details["evaluations"]``) as scores with
    source ``evaluation``; idempotent by their derived client id. Returns how many."""
    return store_evaluation_rows(session, project_id, [
        (span.trace_id, span.span_id, e)
        for span in spans
        for e in (span.details or {}).get("evaluations") or []
        if isinstance(e, dict)
    ])  # fmt: skip


def store_evaluation_rows(
    session: Session, project_id: int, results: Sequence[tuple[str, str, dict[str, Any]]]
) -> int:
    """Store evaluation results ``(trace id, span id, {name, value?, label?, comment?,
    client_id})`` as scores with source ``evaluation``, once per client id; how many were given.

    The span need not be stored yet: a score names its trace and span, it does not point at
    the row (evaluation results sent as log records may arrive first)."""
    rows = [
        {"project_id": project_id, "trace_id": trace_id, "span_id": span_id,
         "source": "evaluation", "name": e["name"], "value": e.get("value"),
         "label": e.get("label"), "comment": e.get("comment"), "client_id": e["client_id"]}
        for trace_id, span_id, e in results
        if e.get("name") and e.get("client_id")
    ]  # fmt: skip
    if not rows:
        return 0
    stmt = pg_insert(Score).on_conflict_do_nothing(
        index_elements=["project_id", "client_id"], index_where=Score.client_id.is_not(None)
    )
    session.execute(stmt, rows)
    return len(rows)


def sample_point(trace_id: str, span_id: str) -> float:
    """A span's fixed position in [0, 1): a scorer at rate r scores the spans below r.

    The same point for every scorer, so spans sampled at 10 % by two scorers are the same
    spans (their scores can be compared), and the same on every run and worker.
    """
    digest = hashlib.blake2b(f"{trace_id}:{span_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def sampling_for(session: Session, project_ids: Iterable[int]) -> dict[tuple[int, str], Sampling]:
    """Settings rows of these projects by (project, scorer); absent means the default."""
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(ScorerSetting.project_id, ScorerSetting.scorer, ScorerSetting.enabled,
               ScorerSetting.sample_rate).where(ScorerSetting.project_id.in_(ids))
    )  # fmt: skip
    return {(r.project_id, r.scorer): Sampling(r.enabled, r.sample_rate) for r in rows}


def set_sampling(
    session: Session, project_id: int, scorer: str, *, enabled: bool, sample_rate: float
) -> None:
    """Turn a scorer on or off for a project, and set the share of spans it scores."""
    if not scorer.strip():
        raise InvalidInputError("scorer name is required")
    if not 0.0 <= sample_rate <= 1.0:
        raise InvalidInputError("sample_rate must be between 0 and 1")
    stmt = pg_insert(ScorerSetting).values(
        project_id=project_id, scorer=scorer, enabled=enabled, sample_rate=sample_rate
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id", "scorer"],
            set_={"enabled": enabled, "sample_rate": sample_rate, "updated_at": func.now()},
        )
    )


def request_rescore(
    session: Session,
    project_id: int,
    scorer: str,
    start: datetime,
    end: datetime,
    requested_by: str | None = None,
) -> int:
    """Ask the workers to re-run ``scorer`` (at its current version) over the spans that
    started in [start, end); returns the request id."""
    if end <= start:
        raise InvalidInputError("end must be after start")
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInputError("start and end need a time zone")
    request = RescoreRequest(project_id=project_id, scorer=scorer, start_time=start,
                             end_time=end, requested_by=requested_by)  # fmt: skip
    session.add(request)
    session.flush()
    return request.id


def claim_rescore(session: Session) -> RescoreRequest | None:
    """The oldest open rescore request no other worker holds, locked for this transaction."""
    return session.scalars(
        select(RescoreRequest)
        .where(RescoreRequest.status.in_(("pending", "running")))
        .order_by(RescoreRequest.created_at, RescoreRequest.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def dead_letter_rows(
    project_id: int, trace_id: str, span_id: str, scorer: str, version: str, error: str
) -> dict[str, Any]:
    return {"project_id": project_id, "trace_id": trace_id, "span_id": span_id,
            "scorer": scorer, "scorer_version": version,
            "error": error[:MAX_ERROR_CHARS]}  # fmt: skip


def add_dead_letters(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record spans a scorer failed on (once per span, scorer and version)."""
    if rows:
        session.execute(pg_insert(DeadLetter).on_conflict_do_nothing(), list(rows))


def begin_attempt(session: Session, task_id: str, task_name: str) -> int:
    """Count one more delivery of ``task_id``; return the count (committed by the caller
    before the work starts, so a worker that dies mid-task still leaves it counted)."""
    insert = pg_insert(TaskAttempt).values(task_id=task_id, task_name=task_name, attempts=1)
    stmt = insert.on_conflict_do_update(
        index_elements=["task_id"],
        set_={"attempts": TaskAttempt.attempts + 1, "last_seen_at": func.now()},
    ).returning(TaskAttempt.attempts)
    return int(session.scalar(stmt) or 1)


def dead_letter_task(session: Session, task_id: str, error: str) -> None:
    session.execute(
        update(TaskAttempt)
        .where(TaskAttempt.task_id == task_id)
        .values(dead_at=func.now(), last_error=error[:MAX_ERROR_CHARS])
    )


def finish_attempt(session: Session, task_id: str) -> None:
    """A task that finished (well or with an error Celery acknowledges) is forgotten."""
    session.execute(delete(TaskAttempt).where(TaskAttempt.task_id == task_id,
                                              TaskAttempt.dead_at.is_(None)))  # fmt: skip


def lag_rows(project_lags: Mapping[int, Sequence[float]]) -> list[dict[str, Any]]:
    """Histogram rows (non-cumulative) for the lags of one batch, by project."""
    rows = []
    for project_id, lags in sorted(project_lags.items()):
        cells: dict[float, list[float]] = {}
        for lag in lags:
            le = next((b for b in LAG_BUCKETS if lag <= b), float("inf"))
            cell = cells.setdefault(le, [0, 0.0])
            cell[0] += 1
            cell[1] += max(lag, 0.0)
        rows += [{"project_id": project_id, "bucket_le": le, "spans": int(c[0]),
                  "seconds_sum": c[1]} for le, c in sorted(cells.items())]  # fmt: skip
    return rows


def record_lag(session: Session, project_lags: Mapping[int, Sequence[float]]) -> None:
    """Add a batch's ingest-to-score lags to the histogram (rows locked in key order)."""
    rows = lag_rows(project_lags)
    if not rows:
        return
    stmt = pg_insert(ScoringLag)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id", "bucket_le"],
            set_={"spans": ScoringLag.spans + stmt.excluded.spans,
                  "seconds_sum": ScoringLag.seconds_sum + stmt.excluded.seconds_sum},
        ),
        rows,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LagHistogram:
    """Cumulative counts per upper bound (the last is +inf), and the summed seconds."""

    buckets: tuple[tuple[float, int], ...]
    seconds_sum: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1] if self.buckets else 0


def lag_histogram(session: Session) -> LagHistogram:
    """The ingest-to-score lag over all projects, as Prometheus wants it."""
    rows = dict(
        session.execute(
            select(ScoringLag.bucket_le, func.sum(ScoringLag.spans)).group_by(ScoringLag.bucket_le)
        ).all()
    )
    total = session.scalar(select(func.coalesce(func.sum(ScoringLag.seconds_sum), 0.0)))
    running, buckets = 0, []
    for le in (*LAG_BUCKETS, float("inf")):
        running += int(rows.get(le, 0) or 0)
        buckets.append((le, running))
    return LagHistogram(tuple(buckets), float(total or 0.0))


@dataclass(frozen=True, slots=True)
class Backlog:
    spans: int
    oldest_age_s: float


def scoring_backlog(session: Session, cap: int = 1_000_000) -> Backlog:
    """Spans waiting in the scoring queue (counted up to ``cap``) and the age of the oldest."""
    waiting = select(ScoringQueue.ingested_at).limit(cap).subquery()
    count, oldest = session.execute(
        select(func.count(), func.extract("epoch", func.now() - func.min(waiting.c.ingested_at)))
    ).one()
    return Backlog(int(count or 0), float(oldest or 0.0))


__all__ = [
    "DEFAULT_SAMPLING",
    "LAG_BUCKETS",
    "MAX_TASK_ATTEMPTS",
    "Backlog",
    "LagHistogram",
    "Sampling",
    "add_dead_letters",
    "begin_attempt",
    "claim_rescore",
    "dead_letter_rows",
    "dead_letter_task",
    "dequeue",
    "enqueue_for_scoring",
    "finish_attempt",
    "lag_histogram",
    "lag_rows",
    "record_lag",
    "request_rescore",
    "sample_point",
    "sampling_for",
    "scoring_backlog",
    "set_sampling",
    "store_evaluations",
]
