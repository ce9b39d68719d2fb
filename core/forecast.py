"""Period-end spend forecasts: weekday seasonality, a robust level and trend, an interval.

The model, fitted on the complete days before the forecast starts:

* **weekday factors** — each day's ratio to the median of its trailing week, medianed per
  weekday and normalised to average 1 (needs three weeks; flat factors before that);
* **level and trend** — a Theil–Sen line through the last four weeks of deseasonalised spend,
  so one spike moves neither; the trend is damped, because a month's slope rarely holds;
* **interval** — the model is re-run on its own history (every cut-off of the last four weeks,
  forecasting the same number of days ahead as the real forecast) and the log errors of those
  sums give the spread; with too little history a parametric spread from the daily residuals
  (never narrower) takes over.

Money stays Decimal where it is money: ``spent`` is the exact sum of the daily costs; the
statistical part runs in floats and is rounded to a millionth of a dollar when it becomes money.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import UsageHourly

Array = NDArray[np.float64]

#: Money from the model is rounded to a millionth of a dollar.
QUANTUM = Decimal("0.000001")
#: Days of history the level/trend line is fitted on.
FIT_DAYS = 28
#: Complete days needed before weekday factors are estimated (a ratio for every weekday).
SEASONAL_MIN_DAYS = 14
#: Complete days needed before a trend is fitted.
TREND_MIN_DAYS = 14
#: Per-day damping of the trend.
DAMPING = 0.9
#: Cut-offs re-run to measure the model's own error.
BACKTEST_CUTS = 28
Z80 = 1.2816
Z95 = 1.9600


@dataclass(frozen=True)
class Forecast:
    """What a period will cost: spent so far (exact), the expected total and its intervals.

    ``low``/``high`` bound the total with 80 % probability, ``low_95``/``high_95`` with 95 %.
    ``actual`` holds the period's days through ``today``; ``expected`` the model's cost for
    each day still to come (today's remainder first when ``today`` was partial).
    """

    period_start: date
    period_end: date
    today: date
    spent: Decimal
    expected_total: Decimal
    low: Decimal
    high: Decimal
    low_95: Decimal
    high_95: Decimal
    actual: tuple[tuple[date, Decimal], ...]
    expected: tuple[tuple[date, Decimal], ...]
    method: str
    history_days: int

    def projected_exhaustion(self, limit: Decimal) -> date | None:
        """The day cumulative spend reaches ``limit`` (past or expected); None if never."""
        total = Decimal(0)
        for day, cost in (*self.actual, *self.expected):
            total += cost
            if total >= limit:
                return day
        return None

    @property
    def remaining(self) -> Decimal:
        """Expected spend still to come this period."""
        return self.expected_total - self.spent


@dataclass(frozen=True)
class _Model:
    factors: Array  # by weekday, Monday = 0
    level: float  # deseasonalised spend on the last fitted day
    slope: float  # per day
    sigma: float  # relative daily residual spread
    method: str
    n: int

    def predict(self, weekdays: Sequence[int], steps: Sequence[int]) -> Array:
        """Expected cost of days ``steps`` days after the last fitted day, on those weekdays."""
        out = np.empty(len(steps))
        for i, (weekday, step) in enumerate(zip(weekdays, steps, strict=True)):
            drift = self.slope * DAMPING * (1 - DAMPING**step) / (1 - DAMPING)
            out[i] = max(0.0, self.level + drift) * self.factors[weekday]
        return out


def weekday_factors(values: Array, weekdays: Sequence[int]) -> Array:
    """Median ratio of each weekday's spend to its trailing week's median, averaging 1."""
    weeks = np.median(np.lib.stride_tricks.sliding_window_view(values, 7), axis=1)
    days = values[6:]
    days_weekday = np.asarray(weekdays[6:])
    factors = np.ones(7)
    for weekday in range(7):
        mask = (days_weekday == weekday) & (weeks > 0)
        # One ratio per weekday is noisy, but better than no weekly shape at all; a month of
        # history gives three or four and the median of those is steady.
        if int(mask.sum()) >= (1 if len(values) < 21 else 2):
            factors[weekday] = float(np.median(days[mask] / weeks[mask]))
    factors = np.maximum(factors, 0.0)
    mean = float(factors.mean())
    return factors / mean if mean > 0 else np.ones(7)


def _mad(values: Array) -> float:
    return 1.4826 * float(np.median(np.abs(values - np.median(values)))) if len(values) else 0.0


def _theil_sen(y: Array) -> tuple[float, float]:
    """The median of all pairwise slopes, and the median intercept under it."""
    i, j = np.triu_indices(len(y), k=1)
    slope = float(np.median((y[j] - y[i]) / (j - i)))
    return slope, float(np.median(y - slope * np.arange(len(y))))


def fit(values: Array, weekdays: Sequence[int]) -> _Model:
    """Fit the model on complete days ``values`` (oldest first) falling on ``weekdays``."""
    n = len(values)
    if n == 0:
        return _Model(np.ones(7), 0.0, 0.0, 1.0, "none", 0)
    if n < 7:
        return _Model(np.ones(7), float(values.mean()), 0.0, 0.6, "run-rate", n)
    if n < SEASONAL_MIN_DAYS:
        # A whole week's mean is the one level a weekly shape cannot bias.
        week = values[-7:]
        sigma = float(week.std() / week.mean()) if week.mean() > 0 else 0.0
        return _Model(np.ones(7), float(week.mean()), 0.0, sigma, "week-mean", n)
    seasonal = n >= SEASONAL_MIN_DAYS
    factors = weekday_factors(values, weekdays) if seasonal else np.ones(7)
    window = slice(max(0, n - FIT_DAYS), n)
    f = factors[np.asarray(weekdays[window])]
    z = np.divide(values[window], f, out=np.zeros(len(f)), where=f > 0)
    t = np.arange(len(z), dtype=np.float64)
    if n >= TREND_MIN_DAYS and float(np.ptp(z)) > 0:
        slope, intercept = _theil_sen(z)
    else:
        slope, intercept = 0.0, float(np.median(z[-7:]))
    fitted = intercept + slope * t
    level = float(fitted[-1])
    scale = max(float(np.median(np.abs(fitted))), 1e-12)
    sigma = _mad((z - fitted) / scale)
    method = ("seasonal-" if seasonal else "") + ("trend" if slope else "level")
    return _Model(factors, level, slope, sigma, method, n)


def _horizon_spread(values: Array, weekdays: Sequence[int], horizon: int) -> float:
    """RMS log error of the model's own ``horizon``-day sums over recent cut-offs (0 if none)."""
    n = len(values)
    eps = max(float(values.mean()) * 0.01, 1e-9) if n else 1e-9
    errors = []
    for cut in range(n - 1, max(TREND_MIN_DAYS, n - BACKTEST_CUTS) - 1, -1):
        h = min(horizon, n - cut)
        model = fit(values[:cut], weekdays[:cut])
        predicted = float(model.predict(weekdays[cut : cut + h], range(1, h + 1)).sum())
        actual = float(values[cut : cut + h].sum())
        # A cut-off seeing fewer days ahead than the real forecast weighs less.
        errors.extend([math.log((actual + eps) / (predicted + eps))] * h)
    return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else 0.0


def _money(value: float) -> Decimal:
    return Decimal(repr(max(0.0, value))).quantize(QUANTUM)


def _series(
    daily: Sequence[tuple[date, Decimal]], last: date
) -> tuple[date | None, dict[date, Decimal]]:
    costs: dict[date, Decimal] = {}
    for day, cost in daily:
        if day <= last:
            costs[day] = costs.get(day, Decimal(0)) + Decimal(cost)
    return (min(costs) if costs else None), costs


def _day_fraction(now: datetime | None, today: date) -> float:
    """How much of ``today`` has passed (1.0 when today is complete or unknown)."""
    if now is None or now.date() != today:
        return 1.0
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=now.tzinfo)
    return min(1.0, max(0.0, (now - midnight).total_seconds() / 86_400))


def forecast_period(
    daily: Sequence[tuple[date, Decimal]],
    *,
    period_start: date,
    period_end: date,
    today: date,
    now: datetime | None = None,
) -> Forecast:
    """Forecast the total cost of ``period_start``..``period_end`` (inclusive) as of ``today``.

    Args:
        daily: cost per UTC day, any order; days absent between the first day given and
            ``today`` count as zero. History before ``period_start`` is what the model learns
            from, so pass several weeks of it. Days after ``today`` are ignored.
        period_start: first day of the period.
        period_end: last day of the period.
        today: the last day with data. It counts as complete unless ``now`` falls on it.
        now: the current moment; when it falls on ``today``, today is partial and the model
            adds the expected cost of the rest of the day.

    Returns:
        The forecast; ``spent`` is the exact sum of ``daily`` within the period through today.
    """
    if period_end < period_start:
        raise ValueError("period_end is before period_start")
    first, costs = _series(daily, today)
    fraction = _day_fraction(now, today)
    last_complete = today if fraction >= 1.0 else today - timedelta(days=1)
    history_days = [first + timedelta(days=i) for i in range((last_complete - first).days + 1)] \
        if first is not None else []  # fmt: skip
    values = np.array([float(costs.get(d, 0)) for d in history_days], dtype=np.float64)
    weekdays = [d.weekday() for d in history_days]
    model = fit(values, weekdays)

    actual = tuple(
        (period_start + timedelta(days=i), costs.get(period_start + timedelta(days=i), Decimal(0)))
        for i in range(max(0, (min(today, period_end) - period_start).days + 1))
    )
    spent = sum((c for _, c in actual), Decimal(0))
    ahead = [
        d
        for d in (
            period_start + timedelta(days=i) for i in range((period_end - period_start).days + 1)
        )
        if d > last_complete
    ]
    predicted = model.predict(
        [d.weekday() for d in ahead], [(d - last_complete).days for d in ahead]
    )
    if ahead and ahead[0] == today:
        # Only the rest of a partial today is still to come.
        predicted[0] *= 1.0 - fraction
    expected = tuple((d, _money(float(p))) for d, p in zip(ahead, predicted, strict=True))
    remaining = sum((c for _, c in expected), Decimal(0))
    horizon = max(1, math.ceil(len(ahead) - (1.0 - fraction)))
    spread = _spread(model, values, weekdays, horizon)
    rem = float(remaining)
    return Forecast(
        period_start=period_start, period_end=period_end, today=today, spent=spent,
        expected_total=spent + remaining,
        low=spent + _money(rem * math.exp(-Z80 * spread)),
        high=spent + _money(rem * math.exp(Z80 * spread)),
        low_95=spent + _money(rem * math.exp(-Z95 * spread)),
        high_95=spent + _money(rem * math.exp(Z95 * spread)),
        actual=actual, expected=expected, method=model.method, history_days=model.n,
    )  # fmt: skip


def _spread(model: _Model, values: Array, weekdays: Sequence[int], horizon: int) -> float:
    """Log-scale spread of the remaining spend: measured, or assumed when unmeasurable."""
    if model.n < 7:
        return 0.6
    # Daily noise averages out over the horizon; the level's own uncertainty does not.
    parametric = model.sigma * math.sqrt(1.0 / horizon + 1.0 / min(model.n, FIT_DAYS))
    return max(_horizon_spread(values, weekdays, horizon), parametric, 0.02)


#: Rollup dimensions a cost series can be filtered on (the columns of the rollups).
DIMENSIONS = ("provider", "model", "team", "feature", "customer", "user_id", "environment",
              "service")  # fmt: skip
#: Days of history a month-end forecast reads before the month starts.
HISTORY_DAYS = 56


def daily_costs(
    session: Session,
    project_id: int,
    *,
    start: date,
    end: date,
    filters: Mapping[str, str] | None = None,
) -> list[tuple[date, Decimal]]:
    """Cost per UTC day from ``start`` to ``end`` inclusive, zero-filled, from the rollups.

    ``filters`` maps rollup dimensions (:data:`DIMENSIONS`) to the value they must equal;
    ``""`` selects spans without that dimension. An unknown dimension raises InvalidInputError.
    """
    day = cast(func.timezone("UTC", UsageHourly.hour), Date)
    query = (
        select(day, func.sum(UsageHourly.cost))
        .where(UsageHourly.project_id == project_id)
        .where(UsageHourly.hour >= _midnight(start), UsageHourly.hour < _midnight(end + ONE_DAY))
        .group_by(day)
    )
    for name, value in (filters or {}).items():
        if name not in DIMENSIONS:
            raise InvalidInputError(f"unknown cost dimension {name!r}")
        query = query.where(getattr(UsageHourly, name) == value)
    found = {d: Decimal(c) for d, c in session.execute(query)}
    days = (end - start).days + 1
    return [
        (start + timedelta(i), found.get(start + timedelta(i), Decimal(0))) for i in range(days)
    ]


def forecast_month(
    session: Session,
    project_id: int,
    *,
    now: datetime,
    filters: Mapping[str, str] | None = None,
) -> Forecast:
    """The month-end forecast of a project's spend (or a filtered part of it) as of ``now``."""
    today = now.astimezone(UTC).date()
    period_start = today.replace(day=1)
    period_end = (period_start + timedelta(days=32)).replace(day=1) - ONE_DAY
    daily = daily_costs(session, project_id, start=period_start - timedelta(HISTORY_DAYS),
                        end=today, filters=filters)  # fmt: skip
    first = next((i for i, (_, cost) in enumerate(daily) if cost), len(daily))
    return forecast_period(daily[first:], period_start=period_start, period_end=period_end,
                           today=today, now=now.astimezone(UTC))  # fmt: skip


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


ONE_DAY = timedelta(days=1)

__all__ = [
    "DIMENSIONS",
    "Forecast",
    "daily_costs",
    "fit",
    "forecast_month",
    "forecast_period",
    "weekday_factors",
]
