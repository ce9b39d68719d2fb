"""The drift job: compare a recent window with a baseline per project and segment, store the
results, alert on what drifted.

Windows are hour-aligned (a re-run within the hour compares the same spans). The baseline is
rolling (the ``baseline`` length before the recent window) unless a baseline range is pinned,
for the whole project or for one segment (:func:`pin_baseline`). Every p-value of a run goes
through one Benjamini–Hochberg adjustment; a result is drift when its q-value is at most
``fdr``, its effect size passes the metric's threshold and both windows hold enough samples.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core import drift, drift_queries
from core.alerts import raise_alert
from core.drift_queries import Scope, Segment, Windows, segment_key
from core.errors import InvalidInputError
from core.model_changes import find_changes, record_changes
from core.models import Project, Span
from core.models_drift import DriftBaseline, DriftResult, DriftRun
from core.timeutil import floor_hour

logger = logging.getLogger(__name__)

RATE_METRICS = ("error_rate", "truncation_rate", "refusal_rate")
#: Effect-size thresholds by effect: PSI for distributions, Cohen's h for rates, JS divergence
#: (bits) for the finish-reason mix and for vocabularies.
THRESHOLDS = {"psi": 0.2, "cohen_h": 0.1, "js_mix": 0.02, "js_vocab": 0.05}
MAX_PINNED_SEGMENTS = 50


@dataclass(frozen=True, slots=True)
class DriftConfig:
    recent: timedelta = timedelta(hours=24)
    baseline: timedelta = timedelta(days=7)
    fdr: float = 0.01
    min_baseline: int = 50
    min_recent: int = 30
    max_segments_per_kind: int = 25
    #: Above this many spans in a window, the statements read a hash sample of this size.
    max_rows: int = 50_000
    vocabulary_docs: int = 200
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))


@dataclass(slots=True)
class Finding:
    segment: Segment
    metric: str
    test: drift.TestResult
    baseline_n: int
    recent_n: int
    baseline: dict[str, Any]
    recent: dict[str, Any]
    threshold: float
    q_value: float = 1.0
    drifted: bool = False
    severity: str | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: int
    tests: int
    drifted: list[tuple[str, str, str]]
    alerts: int
    model_changes: int = 0


def rolling_windows(as_of: datetime, config: DriftConfig) -> Windows:
    recent_end = floor_hour(as_of.astimezone(UTC))
    recent_start = recent_end - config.recent
    return Windows(recent_start - config.baseline, recent_start, recent_start, recent_end)


def pin_baseline(
    session: Session, project_id: int, start: datetime, end: datetime, *, segment_kind: str = "",
    segment_value: str = "", actor: str = "",
) -> DriftBaseline:  # fmt: skip
    """Pin a baseline range for the project ('' kind) or one segment; replaces an earlier pin."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidInputError("a baseline needs a timezone-aware start before its end")
    if segment_kind not in ("", *drift_queries.SEGMENT_KINDS):
        raise InvalidInputError(f"segment kind must be one of {drift_queries.SEGMENT_KINDS}")
    insert = pg_insert(DriftBaseline).values(
        project_id=project_id, segment_kind=segment_kind, segment_value=segment_value,
        start_time=start, end_time=end, created_by=actor,
    )  # fmt: skip
    upsert = insert.on_conflict_do_update(
        index_elements=["project_id", "segment_kind", "segment_value"],
        set_={"start_time": start, "end_time": end, "created_by": actor},
    ).returning(DriftBaseline.id)
    pin_id = session.execute(upsert).scalar_one()
    return session.get_one(DriftBaseline, (project_id, pin_id))


def unpin_baseline(session: Session, project_id: int, segment_kind: str = "",
                   segment_value: str = "") -> bool:  # fmt: skip
    result = session.execute(
        delete(DriftBaseline).where(
            DriftBaseline.project_id == project_id, DriftBaseline.segment_kind == segment_kind,
            DriftBaseline.segment_value == segment_value,
        )
    )  # fmt: skip
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_baselines(session: Session, project_id: int) -> list[DriftBaseline]:
    query = select(DriftBaseline).where(DriftBaseline.project_id == project_id)
    return list(session.scalars(query.order_by(DriftBaseline.segment_kind,
                                               DriftBaseline.segment_value)))  # fmt: skip


def _min_ok(n_b: int, n_r: int, config: DriftConfig) -> bool:
    return n_b >= config.min_baseline and n_r >= config.min_recent


def _rate_findings(
    segment: Segment, counts: dict[str, drift_queries.Counts], config: DriftConfig
) -> list[Finding]:
    b, r = counts.get("b"), counts.get("r")
    if b is None or r is None:
        return []
    found = []
    pairs = {
        "error_rate": ((b.errors, b.n), (r.errors, r.n)),
        "truncation_rate": ((b.truncations, b.with_finish), (r.truncations, r.with_finish)),
        "refusal_rate": ((b.refusals, b.with_output), (r.refusals, r.with_output)),
    }
    for metric, ((xb, nb), (xr, nr)) in pairs.items():
        if not _min_ok(nb, nr, config):
            continue
        test = drift.rate_test(xb, nb, xr, nr)
        found.append(Finding(segment, metric, test, nb, nr, {"n": nb, "events": xb,
                             "rate": xb / nb}, {"n": nr, "events": xr, "rate": xr / nr},
                             config.thresholds["cohen_h"]))  # fmt: skip
    return found


def _mix_finding(segment: Segment, mix: dict[str, dict[str, int]], config: DriftConfig
                 ) -> Finding | None:  # fmt: skip
    nb, nr = sum(mix["b"].values()), sum(mix["r"].values())
    if not _min_ok(nb, nr, config):
        return None
    test = drift.category_test(mix["b"], mix["r"])
    return Finding(segment, "finish_reasons", test, nb, nr, {"n": nb, "mix": mix["b"]},
                   {"n": nr, "mix": mix["r"]}, config.thresholds["js_mix"])  # fmt: skip


def _distribution_finding(segment: Segment, metric: str, hist: drift_queries.Histogram,
                          config: DriftConfig) -> Finding | None:  # fmt: skip
    base, recent = hist.vectors()
    nb, nr = sum(base), sum(recent)
    if not hist.edges or not _min_ok(nb, nr, config):
        return None
    test = drift.distribution_test(base, recent)
    summary_b = {**hist.summary.get("b", {}), "edges": hist.edges, "bins": base}
    summary_r = {**hist.summary.get("r", {}), "edges": hist.edges, "bins": recent}
    return Finding(segment, metric, test, nb, nr, summary_b, summary_r,
                   config.thresholds["psi"])  # fmt: skip


def _vocabulary_finding(segment: Segment, field_name: str, vocab: drift_queries.Vocabulary,
                        config: DriftConfig) -> Finding | None:  # fmt: skip
    db, dr = vocab.baseline_docs, vocab.docs["r"]
    if not _min_ok(db, dr, config):
        return None
    halves = (vocab.parts["b0"], vocab.parts["b1"])
    test = drift.vocabulary_test(vocab.baseline, vocab.recent, halves)

    def top(counts: dict[str, int]) -> dict[str, int]:
        return dict(sorted(((k, v) for k, v in counts.items() if k), key=lambda kv: -kv[1])[:20])

    return Finding(segment, f"{field_name}_vocabulary", test, db, dr,
                   {"n": db, "top_tokens": top(vocab.baseline)},
                   {"n": dr, "top_tokens": top(vocab.recent)},
                   config.thresholds["js_vocab"])  # fmt: skip


def _chosen_segments(counts: dict[Segment, dict[str, drift_queries.Counts]],
                     config: DriftConfig) -> list[str]:  # fmt: skip
    """The busiest segments of each kind (by both windows' calls), at most the cap per kind."""
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for (kind, value), windows in counts.items():
        total = sum(c.n for c in windows.values())
        by_kind.setdefault(kind, []).append((total, value))
    keys = []
    for kind, values in by_kind.items():
        values.sort(key=lambda tv: (-tv[0], tv[1]))
        keys += [segment_key(kind, v) for _, v in values[: config.max_segments_per_kind]]
    return keys


def evaluate_pass(session: Session, project_id: int, windows: Windows, scope: Scope,
                  config: DriftConfig) -> tuple[list[Finding], bool]:  # fmt: skip
    """Every test of one baseline choice over the segments in ``scope``; whether it sampled."""
    counts = drift_queries.window_counts(session, project_id, windows, scope)
    keys = _chosen_segments(counts, config)
    if not keys:
        return [], False
    overall = [w for (kind, _), w in counts.items() if kind == "all"]
    biggest = max((c.n for w in overall for c in w.values()), default=0)
    rate = min(1.0, config.max_rows / biggest) if biggest else 1.0
    scope = replace(scope, keys=tuple(keys), rate=rate)
    chosen = {tuple(k.split("=", 1)) for k in keys}
    findings: list[Finding] = []
    for segment, windows_counts in counts.items():
        if segment in chosen:
            findings += _rate_findings(segment, windows_counts, config)
    for segment, mix in drift_queries.finish_reasons(session, project_id, windows, scope).items():
        found = _mix_finding(segment, mix, config)
        findings += [found] if found else []
    hists = drift_queries.histograms(session, project_id, windows, scope)
    for (kind, value, metric), hist in hists.items():
        found = _distribution_finding((kind, value), metric, hist, config)
        findings += [found] if found else []
    vocabs = drift_queries.vocabularies(session, project_id, windows, scope,
                                        docs=config.vocabulary_docs)  # fmt: skip
    for (kind, value, field_name), vocab in vocabs.items():
        found = _vocabulary_finding((kind, value), field_name, vocab, config)
        findings += [found] if found else []
    return findings, rate < 1.0


def judge(findings: Sequence[Finding], config: DriftConfig) -> None:
    """Set q-values (BH over every finding) and the drifted flag and severity of each."""
    q_values = drift.benjamini_hochberg([f.test.p_value for f in findings])
    for finding, q in zip(findings, q_values, strict=True):
        finding.q_value = q
        big = finding.test.effect >= finding.threshold
        finding.drifted = q <= config.fdr and big
        if finding.drifted:
            critical = finding.test.effect >= 2 * finding.threshold
            finding.severity = "critical" if critical else "warning"


def _store(session: Session, project_id: int, run: DriftRun, findings: Sequence[Finding]) -> None:
    rows = [
        {"project_id": project_id, "run_id": run.id, "segment_kind": f.segment[0],
         "segment_value": f.segment[1], "metric": f.metric, "statistic": f.test.statistic,
         "stat_value": f.test.value, "p_value": f.test.p_value, "q_value": f.q_value,
         "effect_name": f.test.effect_name, "effect": f.test.effect,
         "baseline_n": f.baseline_n, "recent_n": f.recent_n, "baseline": f.baseline,
         "recent": f.recent, "drifted": f.drifted, "severity": f.severity}
        for f in findings
    ]  # fmt: skip
    if rows:
        session.execute(pg_insert(DriftResult), rows)


def drift_dedup_key(segment: Segment, metric: str, recent_end: datetime) -> str:
    """One alert per project, segment, metric and day of the recent window's end."""
    name = f"{segment[0]}={segment[1]}"
    if len(name) > 120:
        name = f"{segment[0]}#{hashlib.sha256(segment[1].encode()).hexdigest()[:16]}"
    return f"drift:{name}:{metric}:{recent_end:%Y-%m-%d}"


def _alert(session: Session, project_id: int, finding: Finding, windows: Windows) -> bool:
    kind, value = finding.segment
    where = "the whole project" if kind == "all" else f"{kind} {value!r}"
    effect = f"{finding.test.effect_name} {finding.test.effect:.3f}"
    new_id = raise_alert(
        session, project_id=project_id, kind="drift",
        severity="critical" if finding.severity == "critical" else "warning",
        title=f"Drift: {finding.metric} of {where}"[:300],
        dedup_key=drift_dedup_key(finding.segment, finding.metric, windows.recent_end),
        body=(f"{finding.metric} moved between {windows.baseline_start:%Y-%m-%d %H:%M} – "
              f"{windows.baseline_end:%Y-%m-%d %H:%M} and {windows.recent_start:%Y-%m-%d %H:%M} – "
              f"{windows.recent_end:%Y-%m-%d %H:%M} UTC ({effect}, q={finding.q_value:.2g})."),
        details={"segment_kind": kind, "segment_value": value, "metric": finding.metric,
                 "effect_name": finding.test.effect_name, "effect": finding.test.effect,
                 "q_value": finding.q_value, "recent_end": windows.recent_end.isoformat()},
    )  # fmt: skip
    return new_id is not None


def _passes(session: Session, project_id: int, rolling: Windows
            ) -> list[tuple[Windows, Scope]]:  # fmt: skip
    """The project-wide baseline (pinned or rolling), then one pass per pinned segment."""
    pins = list_baselines(session, project_id)[: MAX_PINNED_SEGMENTS + 1]
    segment_pins = [p for p in pins if p.segment_kind]
    project_pin = next((p for p in pins if not p.segment_kind), None)
    default = rolling
    if project_pin is not None:
        default = replace(rolling, baseline_start=project_pin.start_time,
                          baseline_end=project_pin.end_time)  # fmt: skip
    excluded = tuple(segment_key(p.segment_kind, p.segment_value) for p in segment_pins)
    passes = [(default, Scope(excluded=excluded))]
    for pin in segment_pins:
        windows = replace(rolling, baseline_start=pin.start_time, baseline_end=pin.end_time)
        passes.append((windows, Scope(keys=(segment_key(pin.segment_kind, pin.segment_value),))))
    return passes


def run_drift(session: Session, project_id: int, *, as_of: datetime | None = None,
              config: DriftConfig | None = None) -> RunSummary:  # fmt: skip
    """One drift run for the project in the caller's transaction; alerts for what drifted."""
    config = config or DriftConfig()
    # The statements sort a few hundred thousand small rows: keep those sorts in memory, and
    # give this background job more time than an API request gets.
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(text("SET LOCAL statement_timeout = '120s'"))
    rolling = rolling_windows(as_of or datetime.now(UTC), config)
    findings: list[Finding] = []
    sampled = False
    passes = _passes(session, project_id, rolling)
    for windows, scope in passes:
        found, was_sampled = evaluate_pass(session, project_id, windows, scope, config)
        findings += found
        sampled = sampled or was_sampled
    judge(findings, config)
    default = passes[0][0]
    run = DriftRun(project_id=project_id, as_of=as_of or datetime.now(UTC), status="done",
                   baseline_start=default.baseline_start, baseline_end=default.baseline_end,
                   recent_start=default.recent_start, recent_end=default.recent_end,
                   tests=len(findings), drifted=sum(f.drifted for f in findings), sampled=sampled,
                   finished_at=datetime.now(UTC),
                   details={"fdr": config.fdr, "thresholds": config.thresholds,
                            "pinned": len(passes) - 1 + (default != rolling)})  # fmt: skip
    session.add(run)
    session.flush()
    _store(session, project_id, run, findings)
    alerts = sum(_alert(session, project_id, f, default) for f in findings if f.drifted)
    drifted = [(f.segment[0], f.segment[1], f.metric) for f in findings if f.drifted]
    changes = find_changes(session, project_id, rolling.baseline_start, rolling.recent_end)
    alerts += record_changes(session, project_id, changes)
    logger.info("drift run %s for project %s: %s tests, %s drifted, %s new alerts",
                run.id, project_id, len(findings), len(drifted), alerts)  # fmt: skip
    return RunSummary(run.id, len(findings), drifted, alerts, len(changes))


def active_projects(session: Session, since: datetime) -> list[int]:
    """Projects with spans since ``since`` (one index probe per project)."""
    ids = session.scalars(select(Project.id).order_by(Project.id)).all()
    return [
        pid for pid in ids
        if session.scalar(select(Span.span_id).where(Span.project_id == pid,
                                                     Span.start_time >= since).limit(1))
    ]  # fmt: skip


__all__ = [
    "RATE_METRICS",
    "THRESHOLDS",
    "DriftConfig",
    "Finding",
    "RunSummary",
    "active_projects",
    "drift_dedup_key",
    "evaluate_pass",
    "judge",
    "list_baselines",
    "pin_baseline",
    "rolling_windows",
    "run_drift",
    "unpin_baseline",
]
