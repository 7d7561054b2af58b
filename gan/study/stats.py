"""Statistics over seeds: intervals that respect a quantity's scale, comparisons that say when
they settle nothing. All from ``scipy.stats`` (Holm's adjustment is four lines here).

* ``estimate``: mean and 95% t-interval; for positive (ratio-scale) quantities on the log scale:
  the geometric mean and an interval that never crosses zero.
* ``welch`` / ``holm``: difference of two groups' means with Welch's interval and p-value, and
  Holm's step-down adjustment over several comparisons.
* ``hodges_lehmann``: the rank-based shift between two groups with its Mann-Whitney interval;
  ``equivalent``: two one-sided tests within a margin; ``compare``: the verdicts of a study.
* ``rate`` / ``rates_differ``: a failure rate with its exact interval; Fisher's exact test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
    """``group`` against ``reference`` on one metric (differences are group - reference).

    The verdict rests on ranks, chosen before any study so that a few wild runs cannot drive it:
    the Hodges-Lehmann ``shift`` with its Mann-Whitney 95% interval and ``p_rank``, Holm-adjusted
    over the comparisons made together (``p_holm``): ``lower`` or ``higher`` where that is below
    0.05; else ``equivalent`` where the 90% interval (two one-sided tests) lies within +-``margin``;
    else ``undecided``, with ``seeds_needed`` per group for either verdict at the spread seen.
    Beside it, the difference of means with Welch's interval and p-value. ``movement``: how far
    the shift moves toward 0 when every run moves toward the other group by as much as it still
    moves (``settle``), which a lower or higher verdict survives."""

    group: str
    reference: str
    metric: str
    difference: float
    low: float
    high: float
    p: float
    n: int
    n_reference: int
    shift: float = math.nan
    shift_low: float = math.nan
    shift_high: float = math.nan
    p_rank: float = math.nan
    equivalence_low: float = math.nan
    equivalence_high: float = math.nan
    margin: float = math.nan
    p_holm: float = math.nan
    verdict: str = "undecided"
    seeds_needed: int | None = None
    movement: float = 0.0  # how far the shift may still move toward 0 (``settle``)


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


def compare(groups: dict[str, Sequence[float]], reference: str, metric: str, margin: float = math.nan,
            alpha: float = 1 - CONFIDENCE) -> list[Comparison]:
    """Every group against ``reference`` on one metric (see ``Comparison``): the rank test
    Holm-adjusted over the groups, equivalence within +-``margin`` (none where it is NaN)."""
    others = [g for g in groups if g != reference]
    rows = []
    for g in others:
        a, b = groups[g], groups[reference]
        shift, ((low, high), (eq_low, eq_high)), p_rank = shift_intervals(a, b, (1 - alpha, 1 - 2 * alpha))
        rows.append(Comparison(g, reference, metric, *welch(a, b), len(a), len(b), shift, low, high, p_rank,
                               eq_low, eq_high, margin))
    adjusted = holm([r.p_rank for r in rows])
    out = []
    for r, p_holm in zip(rows, adjusted):
        need = None
        if not math.isnan(p_holm) and p_holm < alpha:
            verdict = "lower" if r.shift < 0 else "higher"
        elif equivalent(r.equivalence_low, r.equivalence_high, margin):
            verdict = "equivalent"
        else:
            verdict = "undecided"
            need = seeds_to_decide(min(r.n, r.n_reference), r.shift, (r.shift_high - r.shift_low) / 2,
                                   (r.equivalence_high - r.equivalence_low) / 2, margin,
                                   floor=rank_test_seeds(len(rows), alpha))
        out.append(replace(r, p_holm=p_holm, verdict=verdict, seeds_needed=need))
    return out


STILL_MOVING = "undecided (still moving)"


def settle(c: Comparison, a: Sequence[float], b: Sequence[float],
           move_a: Sequence[float], move_b: Sequence[float]) -> Comparison:
    """``c`` (the comparison of values ``a`` with ``b``) after every run moves toward the other group
    by its own ``move_a`` / ``move_b`` (>= 0, how far it may still move): the Hodges-Lehmann shift and
    its 95% interval of the moved values, by ranks like the verdict, so that a few runs that move a
    lot move it no more than a few wild values do. A lower or higher verdict whose moved interval
    reaches or crosses 0 becomes ``STILL_MOVING``, with the seeds per group with which the moved
    interval would clear 0 (``seeds_to_decide``), or None where the moved shift itself has reached
    or crossed 0 (no number of seeds settles it: longer training might). ``movement`` is how far
    the shift moved toward 0."""
    toward = -1.0 if c.shift > 0 else 1.0  # a above b moves down, b up; and the reverse
    moved_a = np.asarray(a, dtype=float) + toward * np.asarray(move_a, dtype=float)
    moved_b = np.asarray(b, dtype=float) - toward * np.asarray(move_b, dtype=float)
    shift, low, high, _ = hodges_lehmann(moved_a, moved_b)
    movement = abs(shift - c.shift) if math.isfinite(shift) else 0.0
    if c.verdict not in ("lower", "higher") or (high < 0 if c.verdict == "lower" else low > 0):
        return replace(c, movement=movement)
    same_side = shift < 0 if c.verdict == "lower" else shift > 0
    need = seeds_to_decide(min(c.n, c.n_reference), shift, (high - low) / 2, math.nan, math.nan) if same_side else None
    return replace(c, verdict=STILL_MOVING, movement=movement, seeds_needed=need)


# ---------------------------------------------------------------------------------------------
# Rank-based comparison, equivalence, failure rates


def hodges_lehmann(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """``(estimate, low, high, p)`` of the shift between ``a`` and ``b`` (a - b): the Hodges-Lehmann
    estimate (the median of every difference a_i - b_j), the interval of the shifts that the
    two-sided Mann-Whitney test (scipy.stats.mannwhitneyu) does not reject at ``1 - confidence``
    (its ends are differences a_i - b_j), and that test's p-value for no shift. A few wild values
    move neither: each counts by its rank."""
    estimate, ((low, high),), p = shift_intervals(a, b, (confidence,))
    return estimate, low, high, p


def shift_intervals(a: Sequence[float], b: Sequence[float],
                    confidences: Sequence[float]) -> tuple[float, list[tuple[float, float]], float]:
    """``hodges_lehmann`` at several confidences from one scan of the Mann-Whitney test over the
    candidate shifts: ``(estimate, [(low, high) per confidence], p)``."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 2 or len(y) < 2:
        estimate = float(np.median(np.subtract.outer(x, y))) if len(x) and len(y) else math.nan
        return estimate, [(math.nan, math.nan)] * len(confidences), math.nan
    d = np.sort(np.subtract.outer(x, y).ravel())
    p = float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    shifts = np.concatenate([[d[0] - 1], (d[:-1] + d[1:]) / 2, [d[-1] + 1]])  # one shift between each pair of ends
    p_shift = np.array([stats.mannwhitneyu(x - s, y, alternative="two-sided").pvalue for s in shifts])
    intervals = []
    for confidence in confidences:
        kept = np.flatnonzero(p_shift > 1 - confidence)
        low = d[kept[0] - 1] if kept[0] > 0 else -math.inf
        high = d[kept[-1]] if kept[-1] < len(d) else math.inf
        intervals.append((float(low), float(high)))
    return float(np.median(d)), intervals, p


def equivalent(low: float, high: float, margin: float) -> bool:
    """Two one-sided tests at level alpha: the (1 - 2 alpha) interval of a difference lies within
    +-``margin`` (pass the 90% interval for alpha = 0.05)."""
    return -margin < low and high < margin


def rank_test_seeds(comparisons: int, alpha: float = 1 - CONFIDENCE) -> int:
    """The fewest seeds per group with which the two-sided Mann-Whitney test can reach ``alpha`` after
    Holm's adjustment over ``comparisons`` tests: its smallest p-value, 2 / C(2n, n), times the
    number of comparisons (6 seeds for 9 comparisons, 4 for one)."""
    n = 2
    while 2 / math.comb(2 * n, n) * comparisons >= alpha:
        n += 1
    return n


def seeds_to_decide(n: int, estimate: float, half_width: float, equivalence_half_width: float, margin: float,
                    most: int = 1000, floor: int = 2) -> int:
    """Seeds per group for an undecided comparison to end in a verdict, if the spread stays as seen
    and the estimate does not move: intervals shrink as 1 / sqrt(n), so the 95% one excludes 0 from
    ``n (half_width / |estimate|)^2`` seeds, and the 90% one fits within +-``margin`` from
    ``n (equivalence_half_width / (margin - |estimate|))^2``; the fewer of the two, the first never
    below ``floor`` (the seeds the rank test needs to reach its level at all: ``rank_test_seeds``;
    ``most + 1``: more than ``most``)."""
    routes = []
    if abs(estimate) > 0 and math.isfinite(half_width):
        routes.append(max(floor, n * (half_width / abs(estimate)) ** 2))
    if abs(estimate) < margin and math.isfinite(equivalence_half_width):
        routes.append(n * (equivalence_half_width / (margin - abs(estimate))) ** 2)
    return min(most + 1, math.ceil(min(routes))) if routes else most + 1


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` with the exact (Clopper-Pearson) 95% interval of the rate."""

    k: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else math.nan


def rate(k: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    """The rate ``k / n`` with its exact interval (scipy.stats.binomtest)."""
    if n == 0:
        return Rate(0, 0, math.nan, math.nan)
    ci = stats.binomtest(k, n).proportion_ci(confidence, method="exact")
    return Rate(k, n, float(ci.low), float(ci.high))


def rates_differ(a: Rate, b: Rate) -> float:
    """Fisher's exact test of two rates: the two-sided p-value (scipy.stats.fisher_exact)."""
    if a.n == 0 or b.n == 0:
        return math.nan
    return float(stats.fisher_exact([[a.k, a.n - a.k], [b.k, b.n - b.k]]).pvalue)
