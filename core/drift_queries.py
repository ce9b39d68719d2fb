"""The SQL behind drift: aggregates of two windows per segment, computed in PostgreSQL.

Each statement reads the LLM spans of the baseline and recent windows through
``ix_spans_project_start`` (project, start_time) and returns aggregates only: event counts,
histogram bins at the baseline's deciles (``percentile_cont`` + ``width_bucket``), finish
reasons, and token counts of a bounded document sample. A window larger than
``max_rows`` is sampled by a hash of the span id (deterministic, so a re-run agrees).

Segments: every span belongs to ``all``, its feature, its (requested) model, its span name and
its prompt (``details.prompt`` name@version); the caller chooses which segments to test.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

SEGMENT_KINDS = ("all", "feature", "model", "name", "prompt")
#: Deciles of the baseline: the bin edges of PSI and of the binned KS test.
QUANTILES = [i / 10 for i in range(1, 10)]
#: Refusal openings (PostgreSQL ARE, case-insensitive), checked in the first 300 characters.
REFUSAL_PATTERN = (
    r"(i'm|i am) (sorry|unable|not able)|i can(no|')t (help|assist|comply|provide)"
    r"|as an ai|i must decline|i won't be able"
)
TRUNCATION_REASONS = ["length", "max_tokens"]
_HASH_SPACE = 65536


def _windowed(columns: str) -> str:
    """The ``spans_w`` (the windows' LLM spans, ``columns`` only) and ``segs`` (one row per
    span and segment) CTEs; ``columns`` is one of this module's constants, never input."""
    return f"""
spans_w AS (
  SELECT CASE WHEN s.start_time >= :recent_start THEN 'r' ELSE 'b' END AS w, {columns},
         s.feature, coalesce(s.request_model, s.response_model) AS model, s.name,
         (s.details -> 'prompt' ->> 'name')
           || coalesce('@' || (s.details -> 'prompt' ->> 'version'), '') AS prompt
  FROM spans s
  WHERE s.project_id = :project_id AND s.kind = 'llm'
    AND ((s.start_time >= :baseline_start AND s.start_time < :baseline_end)
         OR (s.start_time >= :recent_start AND s.start_time < :recent_end))
    AND (:rate >= 1.0 OR (hashtext(s.span_id) & 65535) < :rate * 65536)
),
segs AS MATERIALIZED (
  SELECT sw.*, seg.kind AS seg_kind, seg.value AS seg_value
  FROM spans_w sw
  CROSS JOIN LATERAL (VALUES
    ('all', ''), ('feature', sw.feature), ('model', sw.model), ('name', sw.name),
    ('prompt', sw.prompt)
  ) AS seg(kind, value)
  WHERE seg.value IS NOT NULL
    AND (cardinality(CAST(:keys AS text[])) = 0
         OR seg.kind || '=' || seg.value = ANY(CAST(:keys AS text[])))
    AND NOT (seg.kind || '=' || seg.value = ANY(CAST(:excluded AS text[])))
)
"""


_COUNT_COLUMNS = "s.status, s.finish_reasons, left(s.output_text, 300) AS output_head"
_REASON_COLUMNS = "s.finish_reasons"
_VALUE_COLUMNS = "s.trace_id, s.span_id, s.input_tokens, s.output_tokens, s.duration_ms, s.cost"
_TEXT_COLUMNS = "s.trace_id, s.span_id"

_COUNTS = text(
    "WITH"
    + _windowed(_COUNT_COLUMNS)
    + """
SELECT seg_kind, seg_value, w, count(*) AS n,
  count(*) FILTER (WHERE status = 'error') AS errors,
  count(*) FILTER (WHERE finish_reasons IS NOT NULL AND cardinality(finish_reasons) > 0)
    AS with_finish,
  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(finish_reasons) r
                                 WHERE lower(r) = ANY(CAST(:truncation AS text[]))))
    AS truncations,
  count(*) FILTER (WHERE output_head IS NOT NULL AND output_head <> '') AS with_output,
  count(*) FILTER (WHERE output_head ~* :refusal) AS refusals
FROM segs GROUP BY seg_kind, seg_value, w
"""
)

_REASONS = text(
    "WITH"
    + _windowed(_REASON_COLUMNS)
    + """
SELECT seg_kind, seg_value, w, lower(r) AS reason, count(*) AS n
FROM segs CROSS JOIN LATERAL unnest(finish_reasons) AS r
GROUP BY seg_kind, seg_value, w, lower(r)
"""
)

_BINS = text(
    "WITH"
    + _windowed(_VALUE_COLUMNS)
    + """,
vals AS MATERIALIZED (
  SELECT w, seg_kind, seg_value, m.metric, m.x
  FROM segs CROSS JOIN LATERAL (VALUES
    ('input_tokens', CAST(input_tokens AS float8)),
    ('output_tokens', CAST(output_tokens AS float8)),
    ('latency_ms', duration_ms), ('cost_per_call', CAST(cost AS float8))
  ) AS m(metric, x)
  WHERE m.x IS NOT NULL
  UNION ALL
  SELECT segs.w, segs.seg_kind, segs.seg_value, 'score:' || sc.name, sc.value
  FROM segs JOIN scores sc
    ON sc.project_id = :project_id AND sc.trace_id = segs.trace_id AND sc.span_id = segs.span_id
  WHERE sc.value IS NOT NULL
),
raw_edges AS (
  SELECT seg_kind, seg_value, metric,
         percentile_cont(CAST(:quantiles AS float8[])) WITHIN GROUP (ORDER BY x) AS e
  FROM vals WHERE w = 'b' GROUP BY seg_kind, seg_value, metric
),
edges AS MATERIALIZED (
  SELECT seg_kind, seg_value, metric,
         (SELECT array_agg(DISTINCT u ORDER BY u) FROM unnest(e) AS u) AS e
  FROM raw_edges
)
SELECT v.seg_kind, v.seg_value, v.metric, v.w, width_bucket(v.x, e.e) AS bucket,
       count(*) AS n, NULL::float8 AS mean, NULL::float8[] AS q, e.e AS edges
FROM vals v JOIN edges e USING (seg_kind, seg_value, metric)
GROUP BY v.seg_kind, v.seg_value, v.metric, v.w, width_bucket(v.x, e.e), e.e
UNION ALL
SELECT seg_kind, seg_value, metric, w, NULL, count(*), avg(x),
       percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY x), NULL
FROM vals GROUP BY seg_kind, seg_value, metric, w
"""
)

_VOCABULARY = text(
    "WITH"
    + _windowed(_TEXT_COLUMNS)
    + """,
ranked AS (
  SELECT w, seg_kind, seg_value, trace_id, span_id,
         row_number() OVER (PARTITION BY w, seg_kind, seg_value ORDER BY hashtext(span_id),
                            span_id) AS rn
  FROM segs
),
chosen AS (
  SELECT trace_id, span_id,
         array_agg(CASE WHEN w = 'b' THEN 'b' || CAST(rn % 2 AS text) ELSE 'r' END) AS parts,
         array_agg(seg_kind) AS kinds, array_agg(seg_value) AS seg_values
  FROM ranked WHERE rn <= :docs GROUP BY trace_id, span_id
)
SELECT c.parts, c.kinds, c.seg_values, left(t.input_text, :chars) AS prompt,
       left(t.output_text, :chars) AS output
FROM chosen c
JOIN spans t ON t.project_id = :project_id AND t.trace_id = c.trace_id AND t.span_id = c.span_id
"""
)

#: Word tokens for vocabulary counts: runs of letters or digits, two characters or more.
TOKEN = re.compile(r"[^\W_]{2,}")

Segment = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Windows:
    baseline_start: datetime
    baseline_end: datetime
    recent_start: datetime
    recent_end: datetime


@dataclass(frozen=True, slots=True)
class Scope:
    """Which segments one statement covers: ``keys`` (``kind=value``; empty for all) minus
    ``excluded``; ``rate`` is the hash-sampling share of spans (1.0 reads every span)."""

    keys: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    rate: float = 1.0


@dataclass(slots=True)
class Counts:
    n: int = 0
    errors: int = 0
    with_finish: int = 0
    truncations: int = 0
    with_output: int = 0
    refusals: int = 0


@dataclass(slots=True)
class Histogram:
    edges: list[float] = field(default_factory=list)
    baseline: dict[int, int] = field(default_factory=dict)
    recent: dict[int, int] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)

    def vectors(self) -> tuple[list[int], list[int]]:
        """Counts per bucket 0..len(edges) (below the first edge … at or above the last)."""
        size = len(self.edges) + 1
        return ([self.baseline.get(i, 0) for i in range(size)],
                [self.recent.get(i, 0) for i in range(size)])  # fmt: skip


@dataclass(slots=True)
class Vocabulary:
    """Token counts of the recent window and of the baseline's two halves (``b0``, ``b1``:
    documents split by a hash, to measure how much a window's own samples disagree)."""

    parts: dict[str, dict[str, int]] = field(default_factory=lambda: {"b0": {}, "b1": {}, "r": {}})
    docs: dict[str, int] = field(default_factory=lambda: {"b0": 0, "b1": 0, "r": 0})

    @property
    def baseline(self) -> dict[str, int]:
        merged = dict(self.parts["b0"])
        for token, n in self.parts["b1"].items():
            merged[token] = merged.get(token, 0) + n
        return merged

    @property
    def recent(self) -> dict[str, int]:
        return self.parts["r"]

    @property
    def baseline_docs(self) -> int:
        return self.docs["b0"] + self.docs["b1"]


def segment_key(kind: str, value: str) -> str:
    return f"{kind}={value}"


def _params(project_id: int, windows: Windows, scope: Scope) -> dict[str, Any]:
    return {
        "project_id": project_id, "baseline_start": windows.baseline_start,
        "baseline_end": windows.baseline_end, "recent_start": windows.recent_start,
        "recent_end": windows.recent_end, "rate": scope.rate, "keys": list(scope.keys),
        "excluded": list(scope.excluded),
    }  # fmt: skip


def window_counts(
    session: Session, project_id: int, windows: Windows, scope: Scope
) -> dict[Segment, dict[str, Counts]]:
    """Per segment and window (``b``/``r``): calls, errors, truncations and refusals."""
    rows = session.execute(
        _COUNTS,
        {
            **_params(project_id, windows, scope),
            "truncation": TRUNCATION_REASONS,
            "refusal": REFUSAL_PATTERN,
        },
    )
    out: dict[Segment, dict[str, Counts]] = defaultdict(dict)
    for row in rows:
        out[(row.seg_kind, row.seg_value)][row.w] = Counts(
            row.n, row.errors, row.with_finish, row.truncations, row.with_output, row.refusals
        )
    return dict(out)


def finish_reasons(
    session: Session, project_id: int, windows: Windows, scope: Scope
) -> dict[Segment, dict[str, dict[str, int]]]:
    """Per segment and window: finish reason → count."""
    out: dict[Segment, dict[str, dict[str, int]]] = defaultdict(lambda: {"b": {}, "r": {}})
    for row in session.execute(_REASONS, _params(project_id, windows, scope)):
        out[(row.seg_kind, row.seg_value)][row.w][row.reason] = row.n
    return dict(out)


def histograms(
    session: Session, project_id: int, windows: Windows, scope: Scope
) -> dict[tuple[str, str, str], Histogram]:
    """Per segment and metric: bin counts of both windows at the baseline's deciles, and each
    window's n, mean and 10th/50th/90th percentiles."""
    params = {**_params(project_id, windows, scope), "quantiles": QUANTILES}
    out: dict[tuple[str, str, str], Histogram] = defaultdict(Histogram)
    for row in session.execute(_BINS, params):
        hist = out[(row.seg_kind, row.seg_value, row.metric)]
        if row.bucket is None and row.q is not None:
            p10, p50, p90 = row.q
            hist.summary[row.w] = {"n": row.n, "mean": row.mean, "p10": p10, "p50": p50,
                                   "p90": p90}  # fmt: skip
            continue
        hist.edges = list(row.edges or [])
        (hist.baseline if row.w == "b" else hist.recent)[row.bucket] = row.n
    return dict(out)


def vocabularies(
    session: Session, project_id: int, windows: Windows, scope: Scope, *, docs: int = 200,
    chars: int = 2000, top: int = 200,
) -> dict[tuple[str, str, str], Vocabulary]:  # fmt: skip
    """Per segment and field (``prompt``/``output``): token counts of up to ``docs`` documents
    per window and segment (a deterministic hash sample; first ``chars`` characters), the
    ``top`` tokens by name and the rest as ``''``, with the number of documents.

    Only the sample's texts leave the database (each span once, whatever segments it is in).
    """
    params = {**_params(project_id, windows, scope), "docs": docs, "chars": chars}
    raw: dict[tuple[str, str, str], dict[str, Counter[str]]] = defaultdict(
        lambda: {"b0": Counter(), "b1": Counter(), "r": Counter()}
    )
    doc_counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"b0": 0, "b1": 0, "r": 0}
    )
    for row in session.execute(_VOCABULARY, params):
        for field_name, text_value in (("prompt", row.prompt), ("output", row.output)):
            if not text_value:
                continue
            tokens = Counter(TOKEN.findall(text_value.lower()))
            for part, kind, value in zip(row.parts, row.kinds, row.seg_values, strict=True):
                raw[(kind, value, field_name)][part].update(tokens)
                doc_counts[(kind, value, field_name)][part] += 1
    out: dict[tuple[str, str, str], Vocabulary] = {}
    for key, parts in raw.items():
        total: Counter[str] = Counter()
        for counts in parts.values():
            total.update(counts)
        keep = {token for token, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:top]}
        vocab = Vocabulary(docs=doc_counts[key])
        for part, counts in parts.items():
            folded: dict[str, int] = {}
            for token, n in counts.items():
                name = token if token in keep else ""
                folded[name] = folded.get(name, 0) + n
            vocab.parts[part] = folded
        out[key] = vocab
    return out


__all__ = [
    "QUANTILES",
    "REFUSAL_PATTERN",
    "SEGMENT_KINDS",
    "Counts",
    "Histogram",
    "Scope",
    "Segment",
    "Vocabulary",
    "Windows",
    "finish_reasons",
    "histograms",
    "segment_key",
    "vocabularies",
    "window_counts",
]
