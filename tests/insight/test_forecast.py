"""The month-end forecast on series whose answer is known."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.forecast import forecast_period
from tests.insight.series import series, weekly

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


def test_a_flat_series_forecasts_its_run_rate_exactly() -> None:
    daily = series(date(2026, 9, 1), 71, lambda _d, _i: 10.0)  # through Nov 10
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10))
    assert f.spent == Decimal(100)
    assert f.expected_total == Decimal(300)
    assert f.low <= f.expected_total <= f.high
    assert f.low_95 <= f.low
    assert f.high <= f.high_95
    assert f.expected_total == f.spent + sum(c for _, c in f.expected)


def test_spent_is_the_exact_decimal_sum_of_the_period_so_far() -> None:
    daily = [(date(2026, 10, 31), Decimal("5")), (NOV_1, Decimal("0.1")),
             (date(2026, 11, 2), Decimal("0.2"))]  # fmt: skip
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 2))
    assert f.spent == Decimal("0.3")


def test_a_weekly_pattern_is_forecast_day_by_day() -> None:
    daily = series(date(2026, 9, 1), 71, weekly(100.0))
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10))
    truth = sum(c for _, c in series(NOV_1, 30, weekly(100.0)))
    assert f.method.startswith("seasonal")
    assert abs(f.expected_total - truth) / truth < Decimal("0.01")
    by_day = dict(f.expected)
    assert by_day[date(2026, 11, 14)] < by_day[date(2026, 11, 16)] / 2  # Saturday vs Monday


def test_a_linear_trend_is_followed_damped_not_ignored() -> None:
    daily = series(date(2026, 9, 1), 76, lambda _d, i: 50.0 + 1.0 * i)  # through Nov 15
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 15))
    flat = f.spent + 15 * Decimal(daily[-1][1])
    truth = sum(c for _, c in series(date(2026, 9, 1), 91, lambda _d, i: 50.0 + i)[61:])
    assert flat < f.expected_total <= truth


def test_one_spike_moves_the_forecast_little() -> None:
    calm = series(date(2026, 9, 1), 71, weekly(100.0), noise=0.05)
    spiky = [(d, c * 8 if d == date(2026, 11, 5) else c) for d, c in calm]
    a = forecast_period(calm, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10))
    b = forecast_period(spiky, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10))
    spike = spiky[65][1] - calm[65][1]
    assert abs((b.expected_total - b.spent) - (a.expected_total - a.spent)) < spike * Decimal("0.1")


def test_a_partial_today_adds_the_rest_of_the_day() -> None:
    daily = series(date(2026, 9, 1), 71, lambda _d, _i: 24.0)
    daily[-1] = (daily[-1][0], Decimal(6))  # 06:00 on Nov 10, a quarter of the day
    now = datetime(2026, 11, 10, 6, tzinfo=UTC)
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10),
                        now=now)  # fmt: skip
    assert f.expected[0] == (date(2026, 11, 10), Decimal(18))
    assert f.expected_total == Decimal(24 * 30)


def test_projected_exhaustion_is_the_day_the_cumulative_spend_crosses_the_limit() -> None:
    daily = series(date(2026, 9, 1), 71, lambda _d, _i: 10.0)
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10))
    assert f.projected_exhaustion(Decimal(50)) == date(2026, 11, 5)  # already past
    assert f.projected_exhaustion(Decimal(150)) == date(2026, 11, 15)
    assert f.projected_exhaustion(Decimal(301)) is None


def test_no_history_forecasts_nothing_and_little_history_a_wide_run_rate() -> None:
    empty = forecast_period([], period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 3))
    assert (empty.spent, empty.expected_total, empty.high) == (Decimal(0),) * 3
    few = series(NOV_1, 3, lambda _d, _i: 10.0)
    f = forecast_period(few, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 3))
    assert f.method == "run-rate"
    assert f.expected_total == Decimal(300)
    assert f.high - f.low > Decimal(100)


def test_a_finished_period_is_exactly_what_was_spent() -> None:
    daily = series(date(2026, 9, 1), 100, weekly(10.0), noise=0.2)
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 12, 5))
    assert f.expected_total == f.spent == f.low == f.high_95
    assert f.expected == ()


def test_a_reversed_period_is_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        forecast_period([], period_start=NOV_30, period_end=NOV_1, today=NOV_1)


@pytest.mark.parametrize("noise", [0.1, 0.3])
def test_the_intervals_cover_the_truth_about_as_often_as_they_claim(noise: float) -> None:
    """100 noisy weekly series, forecast from day 10: the 80 % and 95 % bands' coverage."""
    hits80 = hits95 = 0
    runs = 100
    for seed in range(runs):
        daily = series(date(2026, 9, 1), 91, weekly(100.0), seed=seed, noise=noise)
        cut = date(2026, 11, 10)
        f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=cut)
        truth = sum(c for d, c in daily if d >= NOV_1)
        hits80 += f.low <= truth <= f.high
        hits95 += f.low_95 <= truth <= f.high_95
    assert 0.7 <= hits80 / runs <= 0.97
    assert 0.88 <= hits95 / runs <= 1.0


def test_history_before_the_first_day_given_is_not_taken_as_zero() -> None:
    daily = series(date(2026, 10, 20), 22, lambda _d, _i: 10.0)
    f = forecast_period(daily, period_start=NOV_1, period_end=NOV_30, today=date(2026, 11, 10))
    assert f.history_days == 22
    assert f.expected_total == Decimal(300)
    assert f.spent == Decimal(100)
