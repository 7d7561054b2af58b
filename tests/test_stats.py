"""gan.study.stats against what its rules state and against scipy: intervals, Welch and Holm, the rank
test and its seeds, two one-sided tests, failure rates, and the movement a verdict survives."""
import math

import numpy as np
import pytest
from scipy import stats as st
from scipy.stats import binomtest, fisher_exact, mannwhitneyu

from gan.measure import names as N
from gan.study.stats import (STILL_MOVING, compare, equivalent, estimate, hodges_lehmann, holm, rank_test_seeds, rate,
                             rates_differ, seeds_to_decide, settle, t_interval, welch)


@pytest.mark.parametrize("low,high,expected", [
    (-0.01, 0.01, True),    # inside
    (-0.01, 0.03, False),   # the upper end outside
    (-0.03, 0.01, False),   # the lower end outside
    (-0.03, 0.03, False),   # both outside
    (-0.02, 0.01, False),   # an end on the margin: that one-sided test's p is alpha itself, not below it
    (-0.01, 0.02, False),
])
def test_equivalence_needs_both_ends_strictly_inside_the_margin(low, high, expected):
    assert equivalent(low, high, 0.02) is expected


def test_no_margin_never_reads_equivalent():
    assert not equivalent(-0.001, 0.001, math.nan)


def smallest_rank_p(n: int) -> float:
    """The two-sided Mann-Whitney p-value of two fully separated groups of n: the smallest it has."""
    return mannwhitneyu(range(n), range(n, 2 * n), alternative="two-sided", method="exact").pvalue


@pytest.mark.parametrize("comparisons", [1, 2, 3, 5, 9, 20, 60])
def test_rank_test_seeds_is_the_fewest_with_which_holm_can_reach_the_level(comparisons):
    n = rank_test_seeds(comparisons)
    assert smallest_rank_p(n) * comparisons < 0.05
    assert smallest_rank_p(n - 1) * comparisons >= 0.05


def test_seeds_to_decide_from_intervals_that_shrink_as_one_over_root_n():
    # 95% half-width 3 at 6 seeds, shift 1: 3 sqrt(6 / N) <= 1 from N = 54
    assert seeds_to_decide(6, 1.0, 3.0, math.nan, math.nan) == 54
    assert seeds_to_decide(6, -1.0, 3.0, math.nan, math.nan) == 54  # the sign does not matter
    # 90% half-width 1, shift 0.5, margin 2: 0.5 + sqrt(6 / N) < 2 from N = 6 / 1.5^2 = 2.67, so 3
    assert seeds_to_decide(6, 0.5, 3.0, 1.0, 2.0) == 3
    # the fewer of the two routes
    assert seeds_to_decide(6, 1.0, 3.0, 10.0, 2.0) == 54
    # the first route never below the rank test's floor (by default 2)
    assert seeds_to_decide(6, 1.0, 0.5, math.nan, math.nan, floor=6) == 6
    assert seeds_to_decide(6, 1.0, 0.5, math.nan, math.nan) == 2  # 6 (0.5 / 1)^2 = 1.5


def test_seeds_to_decide_without_a_route_or_beyond_the_cap_reads_more_than_most():
    assert seeds_to_decide(6, 0.0, 2.0, math.nan, math.nan) == 1001  # no shift, no margin: more than 1000
    assert seeds_to_decide(6, 0.0, 2.0, 1.0, 2.0) == 2  # no shift: equivalence only, 6 (1 / 2)^2 = 1.5
    # a shift at or beyond the margin can never be equivalent: the first route alone, 6 (6 / s)^2
    assert seeds_to_decide(6, 3.0, 6.0, 1.0, 2.0) == 24
    assert seeds_to_decide(6, 2.0, 6.0, 1.0, 2.0) == 54
    assert seeds_to_decide(6, 1e-3, 2.0, math.nan, math.nan, most=1000) == 1001
    assert seeds_to_decide(6, 1e-3, 2.0, math.nan, math.nan, most=50) == 51


def test_compare_keeps_the_margin_and_takes_equivalence_from_the_90_percent_rank_interval():
    rng = np.random.default_rng(0)
    groups = {"ref": rng.normal(0.2, 0.01, 8), "other": rng.normal(0.205, 0.01, 8)}
    (row,) = compare(groups, "ref", "m", margin=0.02)
    assert row.margin == 0.02
    assert (row.shift, row.shift_low, row.shift_high) == hodges_lehmann(groups["other"], groups["ref"], 0.95)[:3]
    assert (row.equivalence_low, row.equivalence_high) == hodges_lehmann(groups["other"], groups["ref"], 0.90)[1:3]


@pytest.mark.parametrize("a,b", [((3, 6), (0, 6)), ((1, 1), (0, 5)), ((2, 7), (5, 6))])
def test_rates_differ_is_fishers_exact_test_on_the_two_by_two_table(a, b):
    expected = fisher_exact([[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]).pvalue
    assert rates_differ(rate(*a), rate(*b)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("a,b", [((0, 0), (1, 5)), ((1, 5), (0, 0)), ((0, 0), (0, 0))])
def test_a_rate_of_no_runs_differs_from_nothing(a, b):
    assert math.isnan(rates_differ(rate(*a), rate(*b)))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_four_against_four_separated_reach_the_first_and_last_difference_at_any_scale(scale):
    """Four against four: the smallest two-sided p is 2/70 < 0.05 and the next 4/70 > 0.05, so the
    95% interval runs from the smallest to the largest difference, whatever the units (the
    Hodges-Lehmann estimate and interval are scale-equivariant)."""
    a, b = scale * np.array([0.0, 10, 20, 30]), scale * np.array([100.0, 110, 120, 130])
    d = np.sort(np.subtract.outer(a, b).ravel())
    shift, low, high, p = hodges_lehmann(a, b)
    assert shift == pytest.approx(np.median(d)) and (low, high) == (d[0], d[-1])
    assert p == pytest.approx(2 / 70)


def test_groups_too_small_for_an_interval_still_have_their_shift():
    shift, low, high, p = hodges_lehmann([1.0], [0.5, 0.7])
    assert shift == pytest.approx(0.4) and math.isnan(low) and math.isnan(high) and math.isnan(p)
    assert all(math.isnan(v) for v in hodges_lehmann([], [0.5, 0.7]))
    assert math.isfinite(hodges_lehmann([1.0, 2.0], [0.5, 0.7])[0])  # two a side: an interval (unbounded at 95%)
    assert hodges_lehmann([1.0, 2.0], [0.5, 0.7])[1:3] == (-math.inf, math.inf)


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy on a group without spread
@pytest.mark.parametrize("a,b", [([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]),
                                 ([1.0, 2.0], [0.0, 0.5]), ([1, 2, 4], [0, 1])])
def test_welch_is_scipys_where_either_group_varies(a, b):
    from scipy import stats as st
    diff, low, high, p = welch(a, b)
    result = st.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    assert diff == pytest.approx(np.mean(a) - np.mean(b)) and p == pytest.approx(result.pvalue)
    assert (low, high) == pytest.approx(tuple(result.confidence_interval(0.95)))


def test_welch_has_no_interval_for_one_run_or_no_spread():
    assert all(math.isnan(v) for v in welch([1.0], [1.0, 2.0])[1:])
    assert all(math.isnan(v) for v in welch([1.0, 2.0], [1.0])[1:])
    assert all(math.isnan(v) for v in welch([1.0, 1.0], [2.0, 2.0])[1:])


def test_holm_never_exceeds_one():
    assert holm([0.6, 0.7, 0.01]) == pytest.approx([1.0, 1.0, 0.03])


def test_compare_stores_the_holm_p_and_the_seeds_its_intervals_give():
    rng = np.random.default_rng(3)
    groups = {"ref": rng.normal(0.0, 1.0, 6), "a": rng.normal(0.5, 1.0, 6), "b": rng.normal(0.3, 2.0, 6)}
    rows = compare(groups, "ref", "m", margin=0.5, alpha=0.01)
    assert [r.p_holm for r in rows] == pytest.approx(holm([r.p_rank for r in rows]))
    for r in rows:
        assert r.verdict == "undecided"
        assert r.seeds_needed == seeds_to_decide(6, r.shift, (r.shift_high - r.shift_low) / 2,
                                                 (r.equivalence_high - r.equivalence_low) / 2, 0.5,
                                                 floor=rank_test_seeds(2, 0.01))


def test_an_interval_clear_of_zero_that_holm_does_not_settle_needs_the_rank_tests_floor():
    """Two overlapping runs a side: p = 8/924 < 0.01, but Holm over two comparisons doubles it. The
    99% interval already excludes 0, so the seeds are the fewest with which the rank test can
    reach 1% over two comparisons: 6 (at 5% it would be 5)."""
    groups = {"ref": [0, 1, 2, 3, 4, 5.0], "a": [4.5, 4.7, 20, 21, 22, 23.0], "b": [0.1, 1.1, 2.1, 3.1, 4.1, 5.1]}
    a = compare(groups, "ref", "m", margin=0.5, alpha=0.01)[0]
    assert a.p_rank == pytest.approx(8 / 924) and a.p_holm == pytest.approx(16 / 924) and a.shift_low > 0
    assert a.verdict == "undecided" and a.seeds_needed == rank_test_seeds(2, 0.01) == 6


@pytest.mark.parametrize("k,n,confidence", [(1, 1, 0.95), (3, 10, 0.90), (0, 6, 0.95)])
def test_rate_has_the_clopper_pearson_interval_at_its_confidence(k, n, confidence):
    r, ci = rate(k, n, confidence), binomtest(k, n).proportion_ci(confidence, method="exact")
    assert (r.k, r.n, r.rate) == (k, n, k / n) and (r.low, r.high) == pytest.approx((ci.low, ci.high))


def test_a_rate_of_no_runs_is_zero_of_zero_without_an_interval():
    r = rate(0, 0)
    assert (r.k, r.n) == (0, 0) and math.isnan(r.rate) and math.isnan(r.low) and math.isnan(r.high)


def t_ends(values, confidence):
    a = np.asarray(values, float)
    return st.t.interval(confidence, len(a) - 1, loc=a.mean(), scale=st.sem(a))


@pytest.mark.parametrize("confidence", [0.95, 0.80])
def test_estimate_of_a_positive_quantity_is_the_geometric_mean_with_the_interval_of_the_logs(confidence):
    e = estimate([1.0, 10.0, 100.0], positive=True, confidence=confidence)
    low, high = t_ends(np.log([1.0, 10.0, 100.0]), confidence)
    assert e.log and e.n == 3 and e.center == pytest.approx(10.0)
    assert (e.low, e.high) == pytest.approx((math.exp(low), math.exp(high)))


@pytest.mark.parametrize("confidence", [0.95, 0.80])
def test_estimate_of_a_difference_is_the_mean_with_its_t_interval(confidence):
    e = estimate([-1.0, 0.0, 2.0], confidence=confidence)
    assert not e.log and e.n == 3 and e.center == pytest.approx(1 / 3)
    assert (e.low, e.high) == pytest.approx(t_ends([-1.0, 0.0, 2.0], confidence))  # below 0: kept


def test_a_positive_quantity_with_a_zero_is_averaged_and_its_interval_cut_at_zero():
    e = estimate([0.0, 1.0, 2.0], positive=True)
    low, high = t_ends([0.0, 1.0, 2.0], 0.95)
    assert not e.log and e.center == pytest.approx(1.0) and low < 0
    assert e.low == 0.0 and e.high == pytest.approx(high)


@pytest.mark.parametrize("positive", [False, True])
def test_estimate_of_nothing_is_nan_with_no_values(positive):
    e = estimate([], positive=positive)
    assert e.n == 0 and e.log is positive and all(math.isnan(v) for v in (e.center, e.low, e.high))


# ---------------------------------------------------------------------------------------------
# Moved from the summary's tests: rules of gan.study.stats on synthetic groups


def test_mean_ci_edge_cases():
    m, lo, hi = t_interval([1.0])
    assert m == 1.0 and math.isnan(lo) and math.isnan(hi)
    assert t_interval([2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_welch_and_holm_from_independent_formulas():
    from scipy import stats as st
    a, b = [10.1, 12.3, 9.5, 11.0], [2.0, 3.1, 1.2, 2.5, 2.2]
    diff, lo, hi, p = welch(a, b)
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 5
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 4)  # Welch-Satterthwaite
    half = st.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert diff == pytest.approx(np.mean(a) - np.mean(b))
    assert (lo, hi) == pytest.approx((diff - half, diff + half))
    assert p == pytest.approx(2 * st.t.sf(abs(diff) / math.sqrt(va + vb), df))
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])  # by hand: 4p, 3p, max(.., 2p), p


def test_hodges_lehmann_interval_is_the_classic_order_statistics():
    """Ten against ten, no ties: the estimate is the median of the 100 differences and the 95%
    interval runs from the 24th to the 77th of them (Mann-Whitney's two-sided 5% critical value
    of U is 23 for n = m = 10, from its table)."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(1, 1, 10), rng.normal(0, 1, 10)
    d = np.sort(np.subtract.outer(a, b).ravel())
    shift, low, high, p = hodges_lehmann(a, b)
    assert shift == pytest.approx(np.median(d)) and (low, high) == (d[23], d[76])
    assert p == pytest.approx(mannwhitneyu(a, b).pvalue)


def groups_of(seed=0, n=10, **means):
    rng = np.random.default_rng(seed)
    return {name: list(rng.normal(m, 0.004, n)) for name, m in means.items()}


def test_a_planted_blow_up_moves_the_mean_but_not_the_rank_verdict():
    groups = groups_of(transposed=0.30, blurred=0.05)
    before = {c.group: c for c in compare(groups, "transposed", N.HEADLINE, margin=0.02)}["blurred"]
    groups["blurred"][0] = 0.9  # one run blew up
    after = {c.group: c for c in compare(groups, "transposed", N.HEADLINE, margin=0.02)}["blurred"]
    assert before.verdict == after.verdict == "lower"
    assert after.difference - before.difference > 0.08  # the mean moved by a tenth of the blow-up
    assert after.high > 0 > before.high  # and Welch's interval no longer settles it
    assert abs(after.shift - before.shift) < 0.005


def test_two_groups_of_one_distribution_read_equivalent_and_a_small_gap_undecided_with_seeds():
    groups = groups_of(transposed=0.30, same=0.30, near=0.315)
    rows = {c.group: c for c in compare(groups, "transposed", N.HEADLINE, margin=0.02)}
    assert rows["same"].verdict == "equivalent" and rows["same"].seeds_needed is None
    assert rows["same"].equivalence_low > -0.02 and rows["same"].equivalence_high < 0.02
    assert rows["near"].verdict in ("higher", "undecided")
    wide = {c.group: c for c in compare(groups_of(transposed=0.3, near=0.3, n=3), "transposed", N.HEADLINE,
                                        margin=0.0001)}["near"]
    assert wide.verdict == "undecided" and wide.seeds_needed > 3  # three seeds settle nothing


def test_the_rank_test_needs_six_seeds_to_settle_one_of_nine_comparisons():
    assert rank_test_seeds(9) == 6 and rank_test_seeds(1) == 4
    assert mannwhitneyu([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).pvalue * 9 > 0.05  # the most extreme five: not enough
    assert mannwhitneyu(list(range(6)), list(range(6, 12))).pvalue * 9 < 0.05
    rows = compare(groups_of(transposed=0.3, **{f"g{i}": 0.05 for i in range(9)}, n=5), "transposed", N.HEADLINE)
    assert {r.verdict for r in rows} == {"undecided"} and {r.seeds_needed for r in rows} == {6}


def test_failure_rates_with_exact_intervals_and_fishers_test():
    r = rate(2, 10)
    ci = binomtest(2, 10).proportion_ci(0.95, method="exact")
    assert (r.rate, r.low, r.high) == (0.2, pytest.approx(ci.low), pytest.approx(ci.high))
    assert rates_differ(rate(0, 10), rate(6, 10)) == pytest.approx(fisher_exact([[0, 10], [6, 4]]).pvalue)
    assert rates_differ(rate(0, 10), rate(6, 10)) < 0.05 < rates_differ(rate(0, 10), rate(2, 10))


# ---------------------------------------------------------------------------------------------
# settle: a verdict survives the runs' remaining movement, counted by ranks

LOW, HIGH = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5], [10.0, 10.5, 11.0, 11.5, 12.0, 12.5, 13.0, 13.5]


def one_comparison(a, b):
    (c,) = compare({"group": a, "reference": b}, "reference", "depth", margin=0.5)
    return c


@pytest.mark.parametrize("wild", [20.0, 1e3, 1e6])
def test_one_run_that_moves_a_lot_moves_the_verdict_no_more_than_one_wild_value(wild):
    """Eight runs against eight, apart; one of the eight may still rise past every reference run. By
    ranks that is one value of eight on the other side: U = 8 of 64 pairs, exact two-sided p =
    2 x 67 / C(16, 8) = 0.0104 (67 ways to place at most 8 pairs), so the verdict stands, and how far
    the run moves beyond the reference does not matter. A mean over the group's runs would move
    it by wild / 8."""
    c = one_comparison(LOW, HIGH)
    assert c.verdict == "lower"
    assert mannwhitneyu(LOW[:-1] + [LOW[-1] + wild], HIGH).pvalue == pytest.approx(2 * 67 / math.comb(16, 8))
    moved = settle(c, LOW, HIGH, [0.0] * 7 + [wild], [0.0] * 8)
    assert moved.verdict == "lower"
    same = settle(c, LOW, HIGH, [0.0] * 7 + [20.0], [0.0] * 8)
    assert moved.movement == same.movement < wild / 8  # the same however far it goes; less than a mean would move


@pytest.mark.parametrize("towards_zero", [0.9, 1.1])
def test_every_run_moving_alike_moves_the_interval_by_as_much(towards_zero):
    """Moving every run of a group by d moves every difference a_i - b_j by d: the shift and both
    ends of its interval move by exactly d. The verdict stands while the near end stays clear of 0."""
    c = one_comparison(LOW, HIGH)
    d = towards_zero * -c.shift_high
    moved = settle(c, LOW, HIGH, [d] * 8, [0.0] * 8)
    assert moved.movement == pytest.approx(d, rel=1e-12)
    assert moved.verdict == ("lower" if towards_zero < 1 else STILL_MOVING)
    if towards_zero > 1:  # the moved shift is still below 0: seeds narrow the (unchanged) width as 1 / sqrt(n)
        half = (c.shift_high - c.shift_low) / 2
        assert moved.seeds_needed == math.ceil(8 * (half / abs(c.shift + d)) ** 2) > 8
    # the reference moving toward the group is the same movement
    assert settle(c, LOW, HIGH, [0.0] * 8, [d] * 8) == moved


def test_a_higher_verdict_is_moved_down_and_a_crossing_is_not_a_verdict():
    c = one_comparison(HIGH, LOW)
    assert c.verdict == "higher"
    assert settle(c, HIGH, LOW, [0.5] * 8, [0.0] * 8).verdict == "higher"
    crossed = settle(c, HIGH, LOW, [30.0] * 8, [0.0] * 8)  # moved so far that the order reverses
    assert crossed.verdict == STILL_MOVING and crossed.movement == pytest.approx(30.0)
    assert crossed.seeds_needed is None  # no number of seeds settles a shift that has reached 0


def test_an_undecided_comparison_keeps_its_verdict_and_reports_its_movement():
    a, b = [1.0, 3.0, 5.0, 7.0], [2.0, 4.0, 6.0, 8.0]
    c = one_comparison(a, b)
    assert c.verdict == "undecided"
    moved = settle(c, a, b, [0.25] * 4, [0.25] * 4)
    assert moved.verdict == "undecided" and moved.movement == pytest.approx(0.5)
