"""The statistics agree with scipy's reference tests and with textbook values."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from core.rightsizing_stats import (
    Sample,
    confidence_interval,
    non_inferiority,
    paired_non_inferiority,
)


def test_welch_matches_scipys_one_sided_welch_test_on_shifted_data() -> None:
    rng = random.Random(4)
    cand = [rng.gauss(0.80, 0.1) for _ in range(40)]
    cur = [rng.gauss(0.82, 0.15) for _ in range(60)]
    margin = 0.05
    ours = non_inferiority(Sample.of(cand), Sample.of(cur), margin)
    ref = stats.ttest_ind([c + margin for c in cand], cur, equal_var=False, alternative="greater")
    assert ours.method == "welch"
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)


def test_paired_matches_scipys_paired_t_test() -> None:
    rng = random.Random(5)
    diffs = [rng.gauss(-0.01, 0.05) for _ in range(30)]
    ours = paired_non_inferiority(diffs, 0.05)
    ref = stats.ttest_1samp(diffs, -0.05, alternative="greater")
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)


def test_agresti_caffo_by_hand() -> None:
    # 45/50 vs 90/100: adjusted 46/52 and 91/102.
    ours = non_inferiority(Sample(50, 0.9, 0.0, True), Sample(100, 0.9, 0.0, True), 0.1)
    p_c, p_b = 46 / 52, 91 / 102
    se = (p_c * (1 - p_c) / 52 + p_b * (1 - p_b) / 102) ** 0.5
    assert ours.method == "agresti-caffo"
    assert ours.difference == pytest.approx(p_c - p_b)
    assert ours.p_value == pytest.approx(float(stats.norm.sf((p_c - p_b + 0.1) / se)))
    assert ours.lower_bound == pytest.approx(p_c - p_b - 1.6448536269514722 * se)


def test_all_correct_arms_still_have_an_honest_interval() -> None:
    small = non_inferiority(Sample(5, 1.0, 0.0, True), Sample(5, 1.0, 0.0, True), 0.05)
    large = non_inferiority(Sample(500, 1.0, 0.0, True), Sample(500, 1.0, 0.0, True), 0.05)
    assert not small.non_inferior  # five perfect answers prove little
    assert large.non_inferior


def test_wilson_interval_textbook_value() -> None:
    interval = confidence_interval(Sample(10, 0.8, 0.0, True))
    assert interval is not None
    assert (round(interval.low, 3), round(interval.high, 3)) == (0.49, 0.943)


def test_t_interval_for_continuous_scores() -> None:
    values = [0.2, 0.4, 0.6, 0.8]
    interval = confidence_interval(Sample.of(values))
    assert interval is not None
    half = float(stats.t.ppf(0.975, 3)) * (Sample.of(values).variance / 4) ** 0.5
    assert (interval.low, interval.high) == pytest.approx((0.5 - half, 0.5 + half))
