"""Silent provider model changes: the response model or system fingerprint behind one
requested model changing (``gpt-4o`` answered by ``gpt-4o-2024-08-06``, then by
``gpt-4o-2024-11-20``), found from hourly counts computed in PostgreSQL.

A change old → new is reported when ``new`` first appears after ``old`` served at least
``min_calls`` calls, and ``new`` then serves at least ``min_calls`` calls and most of the
traffic of that requested model. A steady mix of two snapshots (a provider's load balancing)
is not a change: the second one was there from the start.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.alerts import raise_alert
from core.models_drift import ModelChange

#: Where OpenTelemetry conventions (old and new) and OpenLLMetry put the system fingerprint.
FINGERPRINT_KEYS = ("gen_ai.openai.response.system_fingerprint",
                    "openai.response.system_fingerprint",
                    "gen_ai.response.system_fingerprint")  # fmt: skip

_HOURLY = text("""
SELECT coalesce(s.provider, '') AS provider, s.request_model, a.attribute, a.value,
       date_trunc('hour', s.start_time) AS hour, count(*) AS n
FROM spans s
CROSS JOIN LATERAL (VALUES
  ('response_model', s.response_model),
  ('system_fingerprint', coalesce(s.attributes ->> :fp1, s.attributes ->> :fp2,
                                  s.attributes ->> :fp3))
) AS a(attribute, value)
WHERE s.project_id = :project_id AND s.kind = 'llm'
  AND s.start_time >= :since AND s.start_time < :until
  AND s.request_model IS NOT NULL AND a.value IS NOT NULL AND s.status <> 'error'
GROUP BY 1, 2, 3, 4, 5
""")


@dataclass(frozen=True, slots=True)
class Change:
    provider: str
    request_model: str
    attribute: str
    old_value: str
    new_value: str
    changed_at: datetime
    last_old_at: datetime
    old_count: int
    new_count: int


Series = dict[str, list[tuple[datetime, int]]]


def detect_changes(
    provider: str, request_model: str, attribute: str, series: Series, min_calls: int = 20
) -> list[Change]:
    """Changes within one (provider, requested model, attribute) from value → hourly counts."""
    first_seen = {value: min(h for h, _ in hours) for value, hours in series.items()}
    changes = []
    for new, since in sorted(first_seen.items(), key=lambda kv: kv[1]):
        before = {v: sum(n for h, n in hours if h < since) for v, hours in series.items()}
        old = max(before, key=lambda v: before[v])
        if old == new or before[old] < min_calls:
            continue
        after = {v: sum(n for h, n in hours if h >= since) for v, hours in series.items()}
        total_after = sum(after.values())
        if after[new] < min_calls or after[new] * 2 <= total_after:
            continue
        last_old = max(h for h, n in series[old] if n)
        changes.append(Change(provider, request_model, attribute, old, new, since, last_old,
                              before[old], after[new]))  # fmt: skip
    return changes


def find_changes(session: Session, project_id: int, since: datetime, until: datetime,
                 min_calls: int = 20) -> list[Change]:  # fmt: skip
    """Every change in ``[since, until)`` (hourly resolution)."""
    grouped: dict[tuple[str, str, str], Series] = defaultdict(lambda: defaultdict(list))
    params = {
        "project_id": project_id,
        "since": since,
        "until": until,
        "fp1": FINGERPRINT_KEYS[0],
        "fp2": FINGERPRINT_KEYS[1],
        "fp3": FINGERPRINT_KEYS[2],
    }
    for row in session.execute(_HOURLY, params):
        key = (row.provider, row.request_model, row.attribute)
        grouped[key][row.value].append((row.hour, row.n))
    changes = []
    for (provider, model, attribute), series in sorted(grouped.items()):
        if len(series) > 1:
            changes += detect_changes(provider, model, attribute, dict(series), min_calls)
    return changes


def _dedup_key(change: Change) -> str:
    raw = f"{change.provider}|{change.request_model}|{change.attribute}|{change.old_value}|" \
          f"{change.new_value}"  # fmt: skip
    return f"model_change:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


def record_changes(session: Session, project_id: int, changes: list[Change]) -> int:
    """Store new changes and alert once per change; how many alerts were raised."""
    raised = 0
    for change in changes:
        stmt = pg_insert(ModelChange).values(
            project_id=project_id, provider=change.provider, request_model=change.request_model,
            attribute=change.attribute, old_value=change.old_value, new_value=change.new_value,
            changed_at=change.changed_at, last_old_at=change.last_old_at,
            old_count=change.old_count, new_count=change.new_count,
        ).on_conflict_do_nothing()  # fmt: skip
        session.execute(stmt)
        what = "response model" if change.attribute == "response_model" else "system fingerprint"
        new_id = raise_alert(
            session, project_id=project_id, kind="model_change",
            severity="warning" if change.attribute == "response_model" else "info",
            title=(f"{change.request_model}: {what} changed {change.old_value} → "
                   f"{change.new_value}")[:300],
            dedup_key=_dedup_key(change),
            body=(f"Calls requesting {change.request_model} ({change.provider or 'unknown'}) were "
                  f"answered by {change.old_value} ({change.old_count} calls) and since "
                  f"{change.changed_at:%Y-%m-%d %H:00} UTC by {change.new_value} "
                  f"({change.new_count} calls)."),
            details={"request_model": change.request_model, "attribute": change.attribute,
                     "old": change.old_value, "new": change.new_value,
                     "changed_at": change.changed_at.isoformat(), "provider": change.provider},
        )  # fmt: skip
        raised += new_id is not None
    return raised


def list_changes(session: Session, project_id: int, limit: int = 100) -> list[ModelChange]:
    query = (
        select(ModelChange)
        .where(ModelChange.project_id == project_id)
        .order_by(ModelChange.changed_at.desc(), ModelChange.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


__all__ = [
    "FINGERPRINT_KEYS",
    "Change",
    "detect_changes",
    "find_changes",
    "list_changes",
    "record_changes",
]
