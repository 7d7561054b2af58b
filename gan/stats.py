"""Statistics over seeds: intervals that respect a quantity's scale, comparisons that say when
they settle nothing. All from ``scipy.stats`` (Holm's adjustment is four lines here).

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


@dataclass(frozen=True)
class Comparison:
    """``group`` against ``reference`` on one metric: difference of means (group - reference) with
    Welch's 95% interval and p-value; ``p_holm`` after Holm's adjustment over the comparisons made
    together; ``verdict``: lower, higher or not settled; ``seeds_needed``: per group, for a test at
    the observed spread to detect the observed difference (80% power), if not settled; ``movement``:
    how far the two means may still move toward each other, which a settled verdict survives."""

    group: str
    reference: str
    metric: str
    difference: float
    low: float
    high: float
    p: float
    n: int
    n_reference: int
    p_holm: float = math.nan
    verdict: str = "not settled"
    seeds_needed: int | None = None
    movement: float = 0.0  # how far the two means may still move toward each other (gan.summarize.settle)


def welch(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """``(mean a - mean b, low, high, p)``: Welch's t-test and interval (unequal variances)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2 or (x.var() == 0 and y.var() == 0):
        return diff, math.nan, math.nan, math.nan
    result = stats.ttest_ind(x, y, equal_var=False)
    ci = result.confidence_interval(confidence)
    return diff, float(ci.low), float(ci.high), float(result.pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the family-wise error stays below the level over all tests."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    adjusted = [math.nan] * len(pvalues)
    running, m = 0.0, len(order)
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def seeds_needed(a: Sequence[float], b: Sequence[float], alpha: float, power: float = 0.8,
                 most: int = 1000) -> int | None:
    """Seeds per group for a two-sided Welch test at level ``alpha`` to detect the difference of
    means observed between ``a`` and ``b`` with probability ``power``, at their observed spreads
    (noncentral t). None when there is no difference or no spread to plan with; ``most + 1`` when
    even ``most`` seeds would not do."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    delta, var = abs(x.mean() - y.mean()), x.var(ddof=1) + y.var(ddof=1) if min(len(x), len(y)) > 1 else math.nan
    if not delta > 0 or not var > 0:
        return None
    for n in range(2, most + 1):
        se = math.sqrt(var / n)
        df = (var / n) ** 2 / ((x.var(ddof=1) / n) ** 2 / (n - 1) + (y.var(ddof=1) / n) ** 2 / (n - 1))
        crit = stats.t.ppf(1 - alpha / 2, df)
        if stats.nct.sf(crit, df, delta / se) + stats.nct.cdf(-crit, df, delta / se) >= power:
            return n
    return most + 1


def compare(groups: dict[str, Sequence[float]], reference: str, metric: str, alpha: float = 1 - CONFIDENCE,
            higher_is_worse: bool = True) -> list[Comparison]:
    """Every group against ``reference`` on one metric, Holm-adjusted over the groups; a verdict
    where the adjusted p is below ``alpha``, else the seeds a settled comparison would need
    (planned at the Bonferroni level alpha / number of comparisons)."""
    others = [g for g in groups if g != reference]
    rows = [Comparison(g, reference, metric, *welch(groups[g], groups[reference]), len(groups[g]),
                       len(groups[reference])) for g in others]
    adjusted = holm([r.p for r in rows])
    out = []
    for r, p_holm in zip(rows, adjusted):
        settled = not math.isnan(p_holm) and p_holm < alpha
        verdict = ("lower" if r.difference < 0 else "higher") if settled else "not settled"
        need = None if settled else seeds_needed(groups[r.group], groups[reference], alpha / max(len(rows), 1))
        out.append(Comparison(**{**r.__dict__, "p_holm": p_holm, "verdict": verdict, "seeds_needed": need}))
    return out
