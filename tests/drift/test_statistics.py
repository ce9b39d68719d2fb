"""The drift statistics on known inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from core import drift


def test_psi_is_zero_for_equal_histograms_and_grows_with_the_shift() -> None:
    base = [100] * 10
    assert drift.psi(base, base) == pytest.approx(0.0, abs=1e-9)
    small = drift.psi(base, [120, 120, 100, 100, 100, 100, 100, 100, 80, 80])
    large = drift.psi(base, [300, 200, 100, 100, 100, 50, 50, 50, 25, 25])
    assert 0 < small < 0.1 < 0.25 < large


def test_binned_ks_matches_scipy_when_the_bins_are_the_values() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 10, 400), rng.integers(2, 12, 300)
    bins = np.arange(0, 13)
    d, p = drift.ks_binned(np.histogram(a, bins)[0].tolist(), np.histogram(b, bins)[0].tolist())
    expected = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue, rel=0.5)  # scipy corrects small samples


def test_two_proportion_test_agrees_with_a_chi_square_on_the_same_table() -> None:
    z, p = drift.two_proportion(20, 1000, 45, 1000)
    chi2 = stats.chi2_contingency([[20, 980], [45, 955]], correction=False)
    assert z > 0
    assert p == pytest.approx(chi2.pvalue)
    assert drift.two_proportion(0, 100, 0, 100) == (0.0, 1.0)


def test_cohen_h_of_a_doubled_error_rate() -> None:
    assert drift.cohen_h(0.02, 0.04) == pytest.approx(0.1188, abs=1e-3)
    assert drift.cohen_h(0.5, 0.5) == 0.0


def test_js_divergence_bounds() -> None:
    assert drift.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert drift.js_divergence([3, 1], [3, 1]) == pytest.approx(0.0)
    assert 0 < drift.js_divergence([0.97, 0.03], [0.9, 0.1]) < 0.02


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    q = drift.benjamini_hochberg(p)
    assert q == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert drift.benjamini_hochberg([]) == []


def test_bh_over_many_null_tests_rarely_rejects_anything() -> None:
    rng = np.random.default_rng(11)
    runs_with_a_rejection = 0
    for _ in range(200):
        q = drift.benjamini_hochberg(rng.uniform(size=300).tolist())
        runs_with_a_rejection += min(q) <= 0.01
    assert runs_with_a_rejection <= 8  # FWER under the global null is at most the level (1 %)


def test_vocabulary_test_ignores_template_repetition_but_sees_new_words() -> None:
    template = {"summarise": 500, "the": 900, "ticket": 500, "for": 400, "engineer": 500}
    half = {k: v // 2 for k, v in template.items()}
    halves = (half, {k: v - v // 2 + 3 for k, v in template.items()})
    same = drift.vocabulary_test(template, {k: v // 3 for k, v in template.items()}, halves)
    assert same.p_value > 0.05
    moved = dict(template, previous=400, messages=400)
    changed = drift.vocabulary_test(template, moved, halves)
    assert changed.p_value < 1e-6
    assert changed.effect > same.effect


def test_category_test_on_a_finish_reason_mix() -> None:
    steady = drift.category_test({"stop": 970, "length": 30}, {"stop": 485, "length": 15})
    moved = drift.category_test({"stop": 970, "length": 30}, {"stop": 400, "length": 100})
    assert steady.p_value > 0.5
    assert moved.p_value < 1e-10
    assert moved.effect > 0.02
