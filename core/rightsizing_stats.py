"""The statistics right-sizing rests on: intervals for a mean and one-sided non-inferiority tests.

Scores are numbers where higher is better (most in [0, 1]). "Candidate non-inferior to the
current model within margin δ" is the alternative of a one-sided test:

    H0: μ_candidate − μ_current ≤ −δ        H1: μ_candidate − μ_current > −δ

rejected at level α when the one-sided (1 − α) lower confidence bound of the difference lies
above −δ (the same as p < α). For 0/1 scores the difference of proportions uses the
Agresti–Caffo adjusted Wald interval (one success and one failure added to each arm, which
keeps the interval honest when an arm is all 0s or all 1s); otherwise Welch's t with the
Welch–Satterthwaite degrees of freedom. Replays compare the same inputs, so their test is a
paired t on per-input differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it takes seconds to import, and the collector
    imports this module at start-up for routes that may never be called."""
    from scipy import stats

    return stats


ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class Sample:
    """Summary of one arm's scores: size, mean, sample variance, and whether all are 0/1."""

    n: int
    mean: float
    variance: float
    binary: bool

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        n = len(values)
        mean = sum(values) / n if n else 0.0
        variance = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
        return cls(n, mean, variance, all(v in (0.0, 1.0) for v in values))


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def confidence_interval(sample: Sample, level: float = 0.95) -> Interval | None:
    """Two-sided interval for the mean: Wilson for 0/1 scores, Student's t otherwise."""
    if sample.n == 0:
        return None
    if sample.binary:
        z = float(_scipy_stats().norm.ppf(0.5 + level / 2))
        p, n = sample.mean, sample.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return Interval(max(0.0, centre - half), min(1.0, centre + half))
    if sample.n == 1:
        return Interval(sample.mean, sample.mean)
    t = float(_scipy_stats().t.ppf(0.5 + level / 2, sample.n - 1))
    half = t * math.sqrt(sample.variance / sample.n)
    return Interval(sample.mean - half, sample.mean + half)


@dataclass(frozen=True, slots=True)
class NonInferiority:
    """The outcome of one test: observed difference, its lower bound, p-value, verdict."""

    method: str
    difference: float
    lower_bound: float
    p_value: float
    margin: float
    non_inferior: bool


def non_inferiority(
    candidate: Sample, current: Sample, margin: float, alpha: float = ALPHA
) -> NonInferiority:
    """One-sided test that ``candidate`` is at most ``margin`` worse than ``current``."""
    if candidate.n < 2 or current.n < 2:
        raise ValueError("each arm needs at least two scores")
    if candidate.binary and current.binary:
        x_c, x_b = candidate.mean * candidate.n, current.mean * current.n
        p_c, p_b = (x_c + 1) / (candidate.n + 2), (x_b + 1) / (current.n + 2)
        se = math.sqrt(p_c * (1 - p_c) / (candidate.n + 2) + p_b * (1 - p_b) / (current.n + 2))
        diff = p_c - p_b
        z = (diff + margin) / se
        p_value = float(_scipy_stats().norm.sf(z))
        lower = diff - float(_scipy_stats().norm.ppf(1 - alpha)) * se
        return NonInferiority("agresti-caffo", diff, lower, p_value, margin, p_value < alpha)
    diff = candidate.mean - current.mean
    a, b = candidate.variance / candidate.n, current.variance / current.n
    se = math.sqrt(a + b)
    if se == 0.0:  # both arms constant: the difference is known exactly
        ok = diff > -margin
        return NonInferiority("welch", diff, diff, 0.0 if ok else 1.0, margin, ok)
    df = (a + b) ** 2 / (a * a / (candidate.n - 1) + b * b / (current.n - 1))
    p_value = float(_scipy_stats().t.sf((diff + margin) / se, df))
    lower = diff - float(_scipy_stats().t.ppf(1 - alpha, df)) * se
    return NonInferiority("welch", diff, lower, p_value, margin, p_value < alpha)


def paired_non_inferiority(
    differences: Sequence[float], margin: float, alpha: float = ALPHA
) -> NonInferiority:
    """The paired version: ``differences`` are candidate − current on the same inputs."""
    n = len(differences)
    if n < 2:
        raise ValueError("a paired test needs at least two pairs")
    sample = Sample.of(differences)
    se = math.sqrt(sample.variance / n)
    if se == 0.0:
        ok = sample.mean > -margin
        return NonInferiority("paired-t", sample.mean, sample.mean, 0.0 if ok else 1.0, margin, ok)
    p_value = float(_scipy_stats().t.sf((sample.mean + margin) / se, n - 1))
    lower = sample.mean - float(_scipy_stats().t.ppf(1 - alpha, n - 1)) * se
    return NonInferiority("paired-t", sample.mean, lower, p_value, margin, p_value < alpha)


__all__ = [
    "ALPHA",
    "Interval",
    "NonInferiority",
    "Sample",
    "confidence_interval",
    "non_inferiority",
    "paired_non_inferiority",
]
