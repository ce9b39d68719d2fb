"""Synthetic daily cost series with known shapes (flat, trend, weekly pattern, noise, spikes)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

Daily = list[tuple[date, Decimal]]


def series(
    start: date, days: int, value: Callable[[date, int], float], seed: int = 1, noise: float = 0.0
) -> Daily:
    """``value(day, index)`` per day, times a log-normal-ish noise of relative size ``noise``."""
    rng = random.Random(seed)
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        v = value(day, i) * max(0.0, rng.gauss(1.0, noise)) if noise else value(day, i)
        out.append((day, Decimal(repr(round(max(0.0, v), 6)))))
    return out


def weekly(base: float, weekend: float = 0.35) -> Callable[[date, int], float]:
    """``base`` on weekdays, ``base * weekend`` on Saturday and Sunday."""
    return lambda day, _i: base * (weekend if day.weekday() >= 5 else 1.0)
