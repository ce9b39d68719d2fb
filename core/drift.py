"""Drift statistics: pure functions over counts, no database.

Every test here works on aggregates the database computed (bin counts at the baseline's
quantiles, event counts, category counts, token counts of a document sample), so a window of
millions of spans never travels to Python. The job (:mod:`core.drift_job`) turns their p-values
into q-values with Benjamini–Hochberg and flags drift only where the q-value is small *and* the
effect is large enough to matter: a huge sample makes trivia significant, so significance
alone never raises an alert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it takes seconds to import, and the collector
    imports this module at start-up for routes that may never be called."""
    from scipy import stats

    return stats


#: Added to every bin's share before a log ratio, so an empty bin has a finite PSI term.
PSI_EPSILON = 1e-4


@dataclass(frozen=True, slots=True)
class TestResult:
    """One statistical test: its statistic, p-value and effect size (named)."""

    statistic: str
    value: float
    p_value: float
    effect_name: str
    effect: float


def shares(counts: Sequence[float]) -> np.ndarray:
    total = float(sum(counts))
    array = np.asarray(counts, dtype=float)
    return array / total if total > 0 else array


def psi(baseline: Sequence[float], recent: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins.

    Conventional reading: under 0.1 stable, 0.1–0.25 a moderate shift, over 0.25 a major one.
    """
    b = shares(baseline) + PSI_EPSILON
    r = shares(recent) + PSI_EPSILON
    return float(np.sum((r - b) * np.log(r / b)))


def ks_binned(baseline: Sequence[float], recent: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov on histograms: D is the largest gap between the two
    empirical CDFs at the bin edges, the p-value the asymptotic Kolmogorov one.

    Evaluated only at the edges (the baseline's deciles), D can only understate the gap of the
    raw samples, so the test errs on the side of fewer alarms.
    """
    n, m = float(sum(baseline)), float(sum(recent))
    if n == 0 or m == 0:
        return 0.0, 1.0
    gap = np.abs(np.cumsum(shares(baseline)) - np.cumsum(shares(recent)))
    d = float(np.max(gap)) if len(gap) else 0.0
    effective = math.sqrt(n * m / (n + m))
    return d, float(_scipy_stats().kstwobign.sf(d * effective))


def cohen_h(p1: float, p2: float) -> float:
    """Effect size of a change in a proportion (0.2 small, 0.5 medium, 0.8 large)."""
    return abs(2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1)))


def two_proportion(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test; (z, two-sided p). No events anywhere → (0, 1)."""
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x2 / n2 - x1 / n1) / se
    return z, float(2 * _scipy_stats().norm.sf(abs(z)))


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen–Shannon divergence in bits (0 identical … 1 disjoint)."""
    a, b = shares(p), shares(q)
    if not a.any() or not b.any():
        return 0.0
    m = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return max(0.0, (kl(a) + kl(b)) / 2)


def aligned(
    baseline: Mapping[str, float], recent: Mapping[str, float]
) -> tuple[list[float], list[float]]:
    """Two category→count maps as count vectors over the union of categories."""
    keys = sorted(set(baseline) | set(recent))
    return [baseline.get(k, 0.0) for k in keys], [recent.get(k, 0.0) for k in keys]


def category_test(baseline: Mapping[str, float], recent: Mapping[str, float]) -> TestResult:
    """Chi-square test of homogeneity on a category mix; effect is the JS divergence."""
    b, r = aligned(baseline, recent)
    table = np.array([b, r], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return TestResult("chi2", 0.0, 1.0, "js", 0.0)
    statistic, p_value, _, _ = _scipy_stats().chi2_contingency(table, correction=False)
    return TestResult("chi2", float(statistic), float(p_value), "js", js_divergence(b, r))


def g_statistic(baseline: Mapping[str, float], recent: Mapping[str, float]) -> tuple[float, int]:
    """The G statistic of homogeneity of two token-count maps, and its degrees of freedom."""
    b, r = aligned(baseline, recent)
    nb, nr = float(sum(b)), float(sum(r))
    if nb == 0 or nr == 0 or len(b) < 2:
        return 0.0, 0
    table = np.array([b, r], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / (nb + nr)
    mask = table > 0
    return float(2.0 * np.sum(table[mask] * np.log(table[mask] / expected[mask]))), len(b) - 1


def vocabulary_test(
    baseline: Mapping[str, float], recent: Mapping[str, float],
    halves: tuple[Mapping[str, float], Mapping[str, float]],
) -> TestResult:  # fmt: skip
    """Token-frequency shift between two document samples: JS divergence and a G-test
    corrected for overdispersion.

    Tokens of one document are not independent draws (a prompt template repeats itself), so
    the plain G-test would call every sample different. The baseline's two random halves of
    documents tell how far G strays when nothing changed: their G per degree of freedom is
    the dispersion factor (at least 1) that the baseline-vs-recent G is divided by
    (quasi-likelihood scaling).
    """
    g, df = g_statistic(baseline, recent)
    if df == 0:
        return TestResult("g_test", 0.0, 1.0, "js", 0.0)
    g_halves, df_halves = g_statistic(*halves)
    dispersion = max(1.0, g_halves / df_halves) if df_halves else 1.0
    p_value = float(_scipy_stats().chi2.sf(g / dispersion, df))
    b, r = aligned(baseline, recent)
    return TestResult("g_test", g / dispersion, p_value, "js", js_divergence(b, r))


def distribution_test(baseline: Sequence[float], recent: Sequence[float]) -> TestResult:
    """Binned KS (significance) with PSI (effect) over the same bins."""
    d, p_value = ks_binned(baseline, recent)
    return TestResult("ks", d, p_value, "psi", psi(baseline, recent))


def rate_test(x1: int, n1: int, x2: int, n2: int) -> TestResult:
    """Two-proportion z-test (significance) with Cohen's h (effect)."""
    z, p_value = two_proportion(x1, n1, x2, n2)
    return TestResult("two_proportion", z, p_value, "cohen_h", cohen_h(x1 / n1, x2 / n2))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """q-values (BH adjusted p-values) in the order given; controls the false discovery rate
    over every test of a run."""
    m = len(p_values)
    if m == 0:
        return []
    order = np.argsort(p_values)
    ranked = np.asarray(p_values, dtype=float)[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in q]


__all__ = [
    "PSI_EPSILON",
    "TestResult",
    "aligned",
    "benjamini_hochberg",
    "category_test",
    "cohen_h",
    "distribution_test",
    "g_statistic",
    "js_divergence",
    "ks_binned",
    "psi",
    "rate_test",
    "shares",
    "two_proportion",
    "vocabulary_test",
]
