"""Statistics over seeds: intervals that respect a quantity's scale, comparisons that say when
they settle nothing. All from ``scipy.stats``.

* ``estimate``: mean and 95% t-interval; for positive (ratio-scale) quantities on the log scale:
  the geometric mean and an interval that never crosses zero.
* ``welch`` / ``holm``: difference of two groups' means with Welch's interval and p-value, and
  Holm's step-down adjustment over several comparisons.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """``center`` with the interval [``low``, ``high``] from ``n`` values; ``log``: computed on the log
    scale (``center`` is then the geometric mean). The interval is NaN for fewer than two values."""

    center: float
    low: float
    high: float
    n: int
    log: bool = False

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and two-sided t-interval; the interval is NaN for fewer than two values."""
    a = np.asarray(values, dtype=float)
    m = float(a.mean())
    if len(a) < 2:
        return m, math.nan, math.nan
    if float(a.std()) == 0.0:
        return m, m, m
    lo, hi = stats.t.interval(confidence, len(a) - 1, loc=m, scale=stats.sem(a))
    return m, float(lo), float(hi)


def estimate(values: Sequence[float], positive: bool = False, confidence: float = CONFIDENCE) -> Estimate:
    """The mean of finite ``values`` with its t-interval. ``positive`` (a ratio-scale quantity): on
    the log scale, so the geometric mean and an interval inside (0, inf); if a value is exactly 0
    (the log has no room for it) the arithmetic mean, with the interval cut at 0."""
    a = np.asarray(values, dtype=float)
    if len(a) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, positive)
    if positive and (a > 0).all():
        m, lo, hi = t_interval(np.log(a), confidence)
        return Estimate(math.exp(m), math.exp(lo), math.exp(hi), len(a), True)
    m, lo, hi = t_interval(a, confidence)
    return Estimate(m, max(lo, 0.0) if positive else lo, hi, len(a))
