"""Spend anomalies: daily cost series per dimension against a robust weekday-aware band.

For each day judged, every series (the project total, and each model, feature, team, customer
and user) is compared with the four weeks before it:

* the weekly shape comes from :func:`core.forecast.weekday_factors` (ratios to the trailing
  week's median, so a spike in the history barely moves it);
* the expected cost is the median of the last two weeks' deseasonalised spend times the day's
  weekday factor; the band's width is a multiple of the median absolute deviation (MAD) of four
  weeks' deseasonalised spend, never narrower than a share of the level;
* a day is anomalous when it is above the band, well above the expectation, and the excess is
  material next to the project's average day (so a user's cents never page anyone).

Today is judged too, on the hours that have passed: the history is cut at the same hour.

A finding names its contributors: the excess is split over the values of every other
dimension, each value's expectation being the series' expectation times its share of the
series' history — the contributions add up exactly to the excess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, Date, cast, extract, func, select
from sqlalchemy.orm import Session

from core.alerts import Severity, raise_alert
from core.forecast import weekday_factors
from core.models import Project, UsageHourly
from core.models_governance import Alert

#: The dimensions spend series are cut by ("total" is the project's own series).
SERIES_DIMENSIONS = ("model", "feature", "team", "customer", "user_id")
TOTAL = "total"
ALERT_KIND = "spend_anomaly"
#: Days of history a day is judged against, and the fewest it needs.
HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 14
#: Days the level is the median of.
LEVEL_DAYS = 14
#: Band half-width in robust standard deviations (1.4826 MAD) for the project total, and for
#: each slice (a model, customer, user…): a scan judges hundreds of slices a day, so a slice
#: needs a wider band for the whole scan to stay as quiet as one series would.
BAND_SIGMAS = 4.0
SLICE_SIGMAS = 5.0
#: The band is never narrower than this share of the level ...
MIN_BAND_SHARE = 0.2
#: ... and a day must be at least this much above its expectation ...
MIN_EXCESS_SHARE = 0.3
#: ... by at least this share of the project's average day (not of a quiet weekend day).
MATERIAL_SHARE = 0.15
#: Partial days are judged once this many hours of the day have passed.
MIN_PARTIAL_HOURS = 6
#: Contributors kept per dimension.
TOP_CONTRIBUTORS = 3
#: A finding whose excess is mostly (this share) one value of an alerted finding is covered by it.
COVERED_SHARE = 0.5
QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class Band:
    """What a day was expected to cost and the most it could cost and still be ordinary."""

    expected: float
    upper: float
    level: float  # the deseasonalised daily level (an average day)


@dataclass(frozen=True)
class Contributor:
    """One value's part of an excess: ``delta`` = its actual minus its expected cost."""

    dimension: str
    value: str
    actual: Decimal
    expected: Decimal
    delta: Decimal
    share: float  # of the finding's excess


@dataclass(frozen=True)
class Finding:
    """A series that left its band on ``day`` (judged on the day's first ``hours`` hours)."""

    day: date
    dimension: str
    value: str
    hours: int
    actual: Decimal
    expected: Decimal
    upper: Decimal
    contributors: tuple[Contributor, ...] = field(default=())

    @property
    def excess(self) -> Decimal:
        return self.actual - self.expected

    @property
    def dedup_key(self) -> str:
        return f"{ALERT_KIND}:{self.day.isoformat()}:{self.dimension}:{self.value}"

    def drivers(self, min_share: float = COVERED_SHARE) -> list[Contributor]:
        """Each dimension's top contributor carrying at least ``min_share`` of the excess."""
        best: dict[str, Contributor] = {}
        for c in self.contributors:
            if c.share >= min_share and c.share > getattr(best.get(c.dimension), "share", -1):
                best[c.dimension] = c
        return sorted(best.values(), key=lambda c: -c.share)


def band(
    history: Sequence[float],
    weekdays: Sequence[int],
    weekday: int,
    factors: NDArray[np.float64] | None = None,
    sigmas: float = BAND_SIGMAS,
) -> Band | None:
    """The band for a day on ``weekday`` after ``history`` (oldest first); None if too short.

    ``factors`` are weekday factors to use instead of the series' own: a part of the project
    (one customer) is too sparse to tell its weekly shape from its noise, so it borrows the
    project's; a part with a weekly shape of its own then shows a wider spread, and alerts less.
    """
    values = np.asarray(history[-HISTORY_DAYS:], dtype=np.float64)
    days = list(weekdays[-HISTORY_DAYS:])
    if len(values) < MIN_HISTORY_DAYS:
        return None
    if factors is None:
        factors = weekday_factors(values, days) if len(values) >= 21 else np.ones(7)
    f = factors[np.asarray(days)]
    z = np.divide(values, f, out=np.zeros(len(f)), where=f > 0)
    level = float(np.median(z[-LEVEL_DAYS:]))
    mad = 1.4826 * float(np.median(np.abs(z - np.median(z))))
    width = sigmas * max(mad, MIN_BAND_SHARE * level)
    expected = level * float(factors[weekday])
    return Band(expected, (level + width) * float(factors[weekday]), level)


def is_anomalous(actual: float, limits: Band, material: float) -> bool:
    """Above the band, well above the expectation, and by a material amount."""
    excess = actual - limits.expected
    return (
        actual > limits.upper
        and excess >= MIN_EXCESS_SHARE * limits.expected
        and excess >= material
        and excess > 0
    )


# -- reading the rollups -------------------------------------------------------------------


def _day_column() -> ColumnElement[date]:
    return cast(func.timezone("UTC", UsageHourly.hour), Date)


def _cost_sum() -> ColumnElement[Decimal]:
    return func.sum(UsageHourly.cost)


def _window(project_id: int, first: date, last: date, hours: int) -> list[ColumnElement[bool]]:
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    conditions = [UsageHourly.project_id == project_id, UsageHourly.hour >= start,
                  UsageHourly.hour < end]  # fmt: skip
    if hours < 24:
        conditions.append(extract("hour", func.timezone("UTC", UsageHourly.hour)) < hours)
    return conditions


def load_series(
    session: Session, project_id: int, first: date, last: date, hours: int, material: float
) -> dict[tuple[str, str], dict[date, float]]:
    """Daily cost per series over ``first``..``last`` (hours of the day below ``hours``).

    A dimension value is loaded only if one of its days reached ``material``: a value that
    never spent that much in a day cannot carry a material excess.
    """
    day = _day_column()
    where = _window(project_id, first, last, hours)
    out: dict[tuple[str, str], dict[date, float]] = {}
    for d, cost in session.execute(
        select(day, func.sum(UsageHourly.cost)).where(*where).group_by(day)
    ):
        out.setdefault((TOTAL, ""), {})[d] = float(cost)
    for name in SERIES_DIMENSIONS:
        column = getattr(UsageHourly, name)
        per_day = (
            select(
                column.label("value"), day.label("day"), func.sum(UsageHourly.cost).label("cost")
            )
            .where(*where)
            .group_by(column, day)
            .subquery()
        )
        peak = func.max(per_day.c.cost).over(partition_by=per_day.c.value)
        ranked = select(
            per_day.c.value, per_day.c.day, per_day.c.cost, peak.label("peak")
        ).subquery()
        query = select(ranked.c.value, ranked.c.day, ranked.c.cost).where(ranked.c.peak >= material)
        for value, d, cost in session.execute(query):
            out.setdefault((name, value), {})[d] = float(cost)
    return out


def decompose(
    session: Session,
    project_id: int,
    finding: Finding,
    history: tuple[date, date],
) -> tuple[Contributor, ...]:
    """Split ``finding``'s excess over the values of every other dimension."""
    day = _day_column()
    where = _window(project_id, history[0], finding.day, finding.hours)
    if finding.dimension != TOTAL:
        where.append(getattr(UsageHourly, finding.dimension) == finding.value)
    on_day = day == finding.day
    before = day < finding.day
    contributors: list[Contributor] = []
    excess = finding.excess
    for name in (*SERIES_DIMENSIONS, "provider"):
        if name == finding.dimension:
            continue
        column = getattr(UsageHourly, name)
        rows = session.execute(
            select(column, func.coalesce(func.sum(UsageHourly.cost).filter(on_day), 0),
                   func.coalesce(func.sum(UsageHourly.cost).filter(before), 0))
            .where(*where).group_by(column)
        ).all()  # fmt: skip
        history_total = sum((Decimal(h) for _, _, h in rows), Decimal(0))
        parts = []
        for value, today, past in rows:
            share = Decimal(past) / history_total if history_total else Decimal(0)
            expected = (finding.expected * share).quantize(QUANTUM)
            delta = Decimal(today) - expected
            parts.append(Contributor(name, value, Decimal(today), expected, delta,
                                     float(delta / excess) if excess else 0.0))  # fmt: skip
        parts.sort(key=lambda c: -c.delta)
        contributors.extend(p for p in parts[:TOP_CONTRIBUTORS] if p.delta > 0)
    return tuple(contributors)


# -- judging days --------------------------------------------------------------------------


def _judge_days(
    series: Mapping[tuple[str, str], Mapping[date, float]],
    days: Iterable[date],
    hours: int,
) -> list[Finding]:
    findings = []
    total = series.get((TOTAL, ""), {})
    for d in days:
        past = [d - timedelta(days=i) for i in range(HISTORY_DAYS, 0, -1)]
        total_past = _lived(total, past)
        if total_past is None:
            continue
        total_band = band(*total_past, d.weekday())
        if total_band is None:
            continue
        shape = weekday_factors(np.asarray(total_past[0]), total_past[1])
        material = MATERIAL_SHARE * total_band.level
        for (name, value), costs in series.items():
            if name == TOTAL:
                limits: Band | None = total_band
            else:
                lived = _lived(costs, past)
                limits = None if lived is None else \
                    band(*lived, d.weekday(), shape, SLICE_SIGMAS)  # fmt: skip
            actual = costs.get(d, 0.0)
            if limits is not None and is_anomalous(actual, limits, material):
                findings.append(Finding(
                    day=d, dimension=name, value=value, hours=hours,
                    actual=Decimal(repr(actual)).quantize(QUANTUM),
                    expected=Decimal(repr(limits.expected)).quantize(QUANTUM),
                    upper=Decimal(repr(limits.upper)).quantize(QUANTUM),
                ))  # fmt: skip
    return findings


def _lived(
    costs: Mapping[date, float], past: Sequence[date]
) -> tuple[list[float], list[int]] | None:
    """The series over ``past`` from its first spend on; None if it spent on fewer than
    MIN_HISTORY_DAYS days ago. A new series (a model version that replaced another, a new
    customer) is not judged until it has a history of its own: before that, its spend is
    only news to the project total, which is judged."""
    first = next((i for i, p in enumerate(past) if costs.get(p, 0.0) > 0), None)
    if first is None or len(past) - first < MIN_HISTORY_DAYS:
        return None
    lived = past[first:]
    return [costs.get(p, 0.0) for p in lived], [p.weekday() for p in lived]


def _material_floor(
    session: Session, project_id: int, first: date, last: date, hours: int
) -> float:
    """MATERIAL_SHARE of the project's smallest median day in the window: a loading bound."""
    day = _day_column()
    costs = [float(c) for c in session.scalars(
        select(func.sum(UsageHourly.cost)).where(*_window(project_id, first, last, hours))
        .group_by(day)
    )]  # fmt: skip
    return MATERIAL_SHARE * float(np.median(costs)) * 0.25 if costs else 0.0


def detect(
    session: Session, project_id: int, *, now: datetime, lookback_days: int = 14
) -> list[Finding]:
    """Anomalous series on each of the last ``lookback_days`` complete days and today so far.

    Findings come with their contributors, and without those covered by a bigger finding of
    the same day (a customer's spike inside a feature's spike is one story, told once).
    """
    now = now.astimezone(UTC)
    today = now.date()
    plans: list[tuple[list[date], int]] = [
        ([today - timedelta(days=i) for i in range(lookback_days, 0, -1)], 24)
    ]
    if now.hour >= MIN_PARTIAL_HOURS:
        plans.append(([today], now.hour))
    findings: list[Finding] = []
    for days, hours in plans:
        if not days:
            continue
        first = days[0] - timedelta(days=HISTORY_DAYS)
        floor = _material_floor(session, project_id, first, days[-1], hours)
        series = load_series(session, project_id, first, days[-1], hours, floor)
        for finding in _judge_days(series, days, hours):
            history = (finding.day - timedelta(days=HISTORY_DAYS), finding.day)
            contributors = decompose(session, project_id, finding, history)
            findings.append(_with(finding, contributors))
    return _uncovered(findings)


def _with(finding: Finding, contributors: tuple[Contributor, ...]) -> Finding:
    return Finding(finding.day, finding.dimension, finding.value, finding.hours, finding.actual,
                   finding.expected, finding.upper, contributors)  # fmt: skip


def _uncovered(findings: list[Finding]) -> list[Finding]:
    """Per day: the project total if it left its band, else the biggest findings that no
    bigger finding of the day already names as a main contributor."""
    kept: list[Finding] = []
    for d in sorted({f.day for f in findings}):
        of_day = sorted((f for f in findings if f.day == d), key=lambda f: -f.excess)
        if any(f.dimension == TOTAL for f in of_day):
            of_day = [f for f in of_day if f.dimension == TOTAL]
        named: set[tuple[str, str]] = set()
        for f in of_day:
            if (f.dimension, f.value) in named:
                continue
            kept.append(f)
            named.update((c.dimension, c.value) for c in f.drivers())
    return kept


# -- alerts --------------------------------------------------------------------------------


def describe(finding: Finding) -> tuple[str, str]:
    """The alert's title and body: what, how far off, and who drove it."""
    subject = "Project spend" if finding.dimension == TOTAL else \
        f"Spend of {_label(finding.dimension)} {finding.value or '(none)'}"  # fmt: skip
    pct = (finding.excess / finding.expected * 100) if finding.expected else None
    over = f"+{pct:.0f} %" if pct is not None else "new spend"
    partial = "" if finding.hours >= 24 else f" (first {finding.hours} h)"
    title = (f"{subject} on {finding.day.isoformat()}{partial}: ${finding.actual:.2f} vs "
             f"${finding.expected:.2f} expected ({over})")  # fmt: skip
    drivers = finding.drivers() or list(finding.contributors[:3])
    lines = [f"Excess ${finding.excess:.2f} above the expected ${finding.expected:.2f} "
             f"(band up to ${finding.upper:.2f})."]  # fmt: skip
    if drivers:
        lines.append("Driven by " + ", ".join(
            f"{_label(c.dimension)} {c.value or '(none)'} (+${c.delta:.2f}, {c.share:.0%})"
            for c in drivers) + ".")  # fmt: skip
    return title, "\n".join(lines)


def _label(dimension: str) -> str:
    return "user" if dimension == "user_id" else dimension


def details(finding: Finding) -> dict[str, Any]:
    """The finding as JSON for the alert row (money as strings, exact)."""
    return {
        "day": finding.day.isoformat(), "dimension": finding.dimension, "value": finding.value,
        "hours": finding.hours, "actual": str(finding.actual), "expected": str(finding.expected),
        "upper": str(finding.upper), "excess": str(finding.excess),
        "contributors": [
            {"dimension": c.dimension, "value": c.value, "actual": str(c.actual),
             "expected": str(c.expected), "delta": str(c.delta), "share": round(c.share, 4)}
            for c in finding.contributors
        ],
    }  # fmt: skip


def raise_alerts(session: Session, project_id: int, findings: Iterable[Finding]) -> list[int]:
    """One ``spend_anomaly`` alert per finding (day and series); the ids of the new ones."""
    new = []
    for finding in findings:
        title, body = describe(finding)
        severity: Severity = "critical" if finding.actual >= 2 * finding.expected else "warning"
        alert_id = raise_alert(session, project_id=project_id, kind=ALERT_KIND,
                               severity=severity, title=title, body=body,
                               dedup_key=finding.dedup_key, details=details(finding))  # fmt: skip
        if alert_id is not None:
            new.append(alert_id)
    return new


def scan_project(
    session: Session, project_id: int, *, now: datetime, lookback_days: int = 14
) -> list[int]:
    """Detect and alert for one project; the ids of alerts raised by this run."""
    return raise_alerts(session, project_id, detect(session, project_id, now=now,
                                                    lookback_days=lookback_days))  # fmt: skip


def list_findings(
    session: Session, project_id: int, *, since: date | None = None, limit: int = 50
) -> list[Alert]:
    """The project's spend-anomaly alerts, the most recent day first (``since``: on or after)."""
    day = Alert.details["day"].astext
    query = select(Alert).where(Alert.project_id == project_id, Alert.kind == ALERT_KIND)
    if since is not None:
        query = query.where(day >= since.isoformat())  # ISO dates sort as text
    return list(session.scalars(query.order_by(day.desc(), Alert.id.desc()).limit(limit)))


def projects_with_spend(session: Session, since: datetime) -> list[int]:
    """Projects with rollup rows since ``since`` (the ones worth scanning)."""
    recent = select(UsageHourly.hour).where(
        UsageHourly.project_id == Project.id, UsageHourly.hour >= since
    )
    return list(session.scalars(select(Project.id).where(recent.exists()).order_by(Project.id)))


__all__ = [
    "ALERT_KIND",
    "SERIES_DIMENSIONS",
    "TOTAL",
    "Band",
    "Contributor",
    "Finding",
    "band",
    "decompose",
    "describe",
    "details",
    "detect",
    "is_anomalous",
    "list_findings",
    "load_series",
    "projects_with_spend",
    "raise_alerts",
    "scan_project",
]  # fmt: skip
