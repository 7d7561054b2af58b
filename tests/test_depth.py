"""Grid-only depths (``gan.measure.depths``): zero expectation for stationary sets at any sample count and
size, the depths of known patterns recovered (content-following, fixed, resampling replicas),
borders of any side never read, the distance between two sets' patterns, standard errors and
intervals that hold over independent draws, and agreement with a slow independent implementation."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan.data.procedural import dead_leaves_images, stroke_images
from gan.measure import artifacts
from gan.measure import depths as D
from tests import depths_reference

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
import calibrate_depths  # noqa: E402

PARTS = ("phase", "fixed", "replica")


def white(n: int, size: int, seed: int, channels: int = 1) -> torch.Tensor:
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


SOURCES = {
    "white noise": white,
    "dead leaves": lambda n, size, seed: dead_leaves_images(n, size, seed=seed).double(),
    "strokes": lambda n, size, seed: stroke_images(n, size, seed=seed).double(),
}


def squared(x: torch.Tensor, period: int = 2) -> dict[str, float]:
    """The unbiased squared depths u = d |d| of one set."""
    return {k: v.value * abs(v.value) for k, v in D.phase_depths(x, period).items()}


def draws(source: str, n: int, size: int, count: int, seed: int = 0) -> list[torch.Tensor]:
    """``count`` independent sets of ``n`` images (disjoint slices of one pool)."""
    pool = SOURCES[source](n * count, size, seed)
    return list(pool.split(n))


def grid_cases(slow_from: int) -> list:
    cases = []
    for source in SOURCES:
        for n in (16, 64, 256, 1024):
            for size in (16, 32, 64):
                cost = n * size * size * (3 if source == "dead leaves" else 1)
                study = (source, n, size) == ("strokes", 256, 32)  # the study's sample count and size
                marks = [pytest.mark.slow] if (cost > slow_from or n < 64 and size > 16) and not study else []
                cases.append(pytest.param(source, n, size, marks=marks, id=f"{source}-{n}-{size}px"))
    return cases


@pytest.mark.parametrize("source,n,size", grid_cases(slow_from=16 * 32 * 32))
def test_clean_sets_read_zero_in_expectation(source, n, size):
    """The mean of u over independent clean sets is within 3 standard errors of 0, for every part."""
    sets = draws(source, n, size, count=max(12, 1024 // n))
    values = {k: np.array([squared(x)[k] for x in sets]) for k in PARTS}
    for k, v in values.items():
        if not np.isfinite(v).all():  # the replica depth needs one more pixel of margin
            assert k == "replica" and not D.fits(2, size, size, "replica")
            continue
        se = v.std(ddof=1) / math.sqrt(len(v))
        assert abs(v.mean()) < 3 * se + 1e-15, (k, v.mean(), se)


def recovery_cases() -> list:
    cases = []
    for a in (0.01, 0.03, 0.1):
        for n in (16, 64, 256, 1024):
            for size in (16, 32, 64):
                slow = n * size * size > 64 * 32 * 32 or (a < 0.1 and (n, size) != (64, 32)) or a < 0.03
                cases.append(pytest.param(a, n, size, marks=[pytest.mark.slow] if slow else [], id=f"{a}-{n}-{size}px"))
    return cases


@pytest.mark.parametrize("a,n,size", recovery_cases())
def test_modulation_depth_is_recovered_at_every_sample_count_and_size(a, n, size):
    """White noise x + a (x - mean x) (-1)^(i+j) reads a / (1 + a^2) (a to first order): the mean
    u over independent sets is within 10% of a (19% of a^2), or within 3 standard errors where
    2000 sets cannot pin it down that far."""
    c = artifacts.checkerboard(size, size, torch.float64)
    gen = torch.Generator().manual_seed(int(a * 1000) + n + size)
    values = []
    while True:  # draws until the mean is known to 3% of a^2 (or a cap)
        x = torch.randn(n, 1, size, size, generator=gen, dtype=torch.float64)
        values.append(squared(x + a * (x - x.mean(dim=(-2, -1), keepdim=True)) * c)["phase"])
        if len(values) >= 8:
            se = np.std(values, ddof=1) / math.sqrt(len(values))
            if se < 0.03 * a * a or len(values) >= 2000:
                break
    expected = (a / (1 + a * a)) ** 2
    assert abs(np.mean(values) - expected) < max(0.19 * a * a, 3 * se), (np.mean(values), se, len(values))


def test_fixed_depth_is_the_amplitude_over_the_contrast():
    """x + b s (-1)^(i+j) (s the images' RMS contrast) reads b as the fixed depth, no phase depth, and
    its interval holds b."""
    x = white(512, 32, 0)
    for b in (0.01, 0.1):
        d = D.phase_depths(x + b * artifacts.checkerboard(32, 32, torch.float64), 2)
        assert d["fixed"].value == pytest.approx(b, rel=0.1, abs=3 * d["fixed"].se)
        assert d["fixed"].low <= b <= d["fixed"].high
        assert abs(d["phase"].value) < 4 * d["phase"].se + 1e-3
        assert d["total"].value == pytest.approx(math.hypot(d["fixed"].value, max(d["phase"].value, 0)), rel=0.05)


def test_replica_depth_of_nearest_and_bilinear_x2_from_theory():
    """Nearest x2 makes every other neighbour difference 0: the replica depth is 1. Bilinear x2 of
    white noise: the differences within and across the source pixels have variances 1/8 and 1/2
    of 2 s^2 (the other direction's weights act alike on both phases), a relative change of +-0.6:
    the replica depth is 0.6. Neither changes the mean or the variance by phase. (One draw: its
    interval misses the truth 5% of the time; coverage is tested over independent sets below.)"""
    h = white(1024, 16, 1)
    near = F.interpolate(h, scale_factor=2, mode="nearest")
    bil = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
    for x, expected in ((near, 1.0), (bil, 0.6)):
        d = D.phase_depths(x, 2)
        assert d["replica"].value == pytest.approx(expected, abs=3 * d["replica"].se + 0.005)
        for part in ("phase", "fixed"):
            assert abs(d[part].value) < 0.02, part


def test_a_content_following_or_fixed_checkerboard_leaves_no_replica():
    """The replica depth is blind to the patterns the other parts measure (their neighbour
    differences have the same variance in both phases)."""
    x = white(512, 32, 2)
    c = artifacts.checkerboard(32, 32, torch.float64)
    for y in (x + 0.1 * (x - x.mean(dim=(-2, -1), keepdim=True)) * c, x + 0.1 * c):
        d = D.phase_depths(y, 2)["replica"]
        assert d.low <= 0.0 <= d.high or abs(d.value) < 3 * d.se, d


@pytest.mark.parametrize("size", [16, 32, pytest.param(64, marks=pytest.mark.slow)])
@pytest.mark.parametrize("period", [2, 4])
def test_dark_bands_on_any_side_are_never_read(size, period):
    """Bands x 0.8 on one, two or four sides, 1 px up to size/8 px wide: every depth is exactly
    the clean set's (the margin covers the band and the trend filter's reach)."""
    if not D.fits(period, size, size):
        pytest.skip(f"no depths at P={period} for {size} px")
    x = dead_leaves_images(64, size, seed=6).double()
    clean = D.phase_depths(x, period)
    for sides in (("top",), ("right",), ("top", "left"), ("bottom", "right"), artifacts.SIDES):
        for width in range(1, size // 8 + 1):
            banded = D.phase_depths(artifacts.dark_band(sides, width)(x), period)
            for part in D.PARTS:
                if math.isnan(clean[part].value):
                    continue
                assert banded[part].value == pytest.approx(clean[part].value, rel=1e-9, abs=1e-12), (sides, width, part)
                assert banded[part].se == pytest.approx(clean[part].se, rel=1e-6, abs=1e-12), (sides, width, part)


def test_trend_kernel_maps_periodic_maps_to_their_mean_and_keeps_ramps():
    for period in (2, 4, 8):
        k = D.trend_kernel(period)
        assert k.shape == (period + 1, period + 1) and float(k.sum()) == pytest.approx(1.0)
        periodic = torch.rand(period, period, dtype=torch.float64).repeat(6, 6)
        out = F.conv2d(periodic[None, None], k[None, None])[0, 0]
        torch.testing.assert_close(out, torch.full_like(out, float(periodic.mean())))
        i = torch.arange(6 * period, dtype=torch.float64)
        ramp = 0.3 * i[:, None] - 0.7 * i[None, :]
        r = period // 2
        torch.testing.assert_close(F.conv2d(ramp[None, None], k[None, None])[0, 0], ramp[r:-r, r:-r])


def test_the_trend_kernel_is_made_where_the_maps_are():
    assert D.trend_kernel(4, device="meta").device.type == "meta"


def test_noise_power_is_the_u_statistic_of_differences():
    """The closed form equals its definition: the mean over 4 (2 + 2) different rows of the squared
    inner product of two row differences, over 4."""
    g = torch.Generator().manual_seed(7)
    v = torch.randn(7, 5, generator=g, dtype=torch.float64) * torch.rand(5, generator=g, dtype=torch.float64) + 0.4
    w = torch.randn(6, 5, generator=g, dtype=torch.float64) - 0.2
    gram, cross = v @ v.T, v @ w.T
    within = [(gram[i, j] - gram[i, l] - gram[k, j] + gram[k, l]) ** 2 / 4
              for i in range(7) for j in range(7) for k in range(7) for l in range(7) if len({i, j, k, l}) == 4]
    across = [(cross[a, c] - cross[a, d] - cross[b, c] + cross[b, d]) ** 2 / 4
              for a in range(7) for b in range(7) if a != b for c in range(6) for d in range(6) if c != d]
    assert D.noise_power(v) == pytest.approx(float(np.mean(within)), rel=1e-10)
    assert D.noise_power(v, w) == pytest.approx(float(np.mean(across)), rel=1e-10)


@pytest.mark.parametrize("period,size", [(8, 32), (16, 64), (4, 16)])
def test_the_replica_depth_is_read_only_where_its_own_margin_leaves_room(period, size):
    """The whole grid at 32 and 64 px: the phase part has room, the replica part (one more row of
    margin for its neighbour differences) has not, so it reads NaN; half the period it has room."""
    assert D.fits(period, size, size) and not D.fits(period, size, size, "replica")
    assert "replica" not in D.group_patterns(white(64, size, 0), period).parts()  # not computed at all
    d = D.phase_depths(white(64, size, 0), period)
    assert math.isfinite(d["phase"].value) and math.isnan(d["replica"].value)
    assert D.fits(period // 2, size, size, "replica")
    assert math.isfinite(D.phase_depths(white(64, size, 0), period // 2)["replica"].value)


def test_pair_means_and_their_leave_one_out_versions_from_their_definitions():
    """``within_pairs``: the mean of <v_i, v_j> over i != j, and the same without row m;
    ``across_pairs``: the mean of <v_i, w_j> over all pairs, and without a row of either side."""
    g = torch.Generator().manual_seed(3)
    v, w = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)

    def mean_within(rows):
        return np.mean([float(v[i] @ v[j]) for i in rows for j in rows if i != j])

    def mean_across(rows_v, rows_w):
        return np.mean([float(v[i] @ w[j]) for i in rows_v for j in rows_w])

    expected = [mean_within(range(6))] + [mean_within([i for i in range(6) if i != m]) for m in range(6)]
    np.testing.assert_allclose(D.within_pairs(v).numpy(), expected, rtol=1e-12)
    by_v, by_w = D.across_pairs(v, w)
    np.testing.assert_allclose(by_v.numpy(), [mean_across(range(6), range(5))]
                               + [mean_across([i for i in range(6) if i != m], range(5)) for m in range(6)], rtol=1e-12)
    np.testing.assert_allclose(by_w.numpy(), [mean_across(range(6), range(5))]
                               + [mean_across(range(6), [j for j in range(5) if j != m]) for m in range(5)], rtol=1e-12)


def test_the_jackknife_excess_and_floor_on_pure_sampling_noise_from_theory():
    """K rows of pure noise (mean 0, covariance S): the mean product over pairs of different rows has
    variance 2 tr(S^2) / (K (K - 1)) and its leave-one-out jackknife reads 4 tr(S^2) / (K (K - 2)) in
    expectation; ``jackknife_excess_within`` is their difference per unit of tr(S^2), and the floor of
    ``_variance`` the share of the jackknife that is real, their ratio (K - 2) / (2 (K - 1)). Both
    checked over 4000 draws (K = 16, D = 40, S diagonal, uneven): Monte Carlo errors about 2%."""
    k, dim, draws = 16, 40, 4000
    g = torch.Generator().manual_seed(11)
    sd = torch.linspace(0.3, 1.5, dim, dtype=torch.float64)
    rows = torch.randn(draws, k, dim, generator=g, dtype=torch.float64) * sd
    power = float(sd.pow(4).sum())  # tr(S^2)
    u, jack = [], []
    for v in rows:
        pairs = D.within_pairs(v)
        u.append(float(pairs[0]))
        jack.append(D.jackknife_variance(pairs))
    variance, mean_jack = np.var(u, ddof=1), np.mean(jack)
    assert variance == pytest.approx(2 * power / (k * (k - 1)), rel=0.06)
    assert mean_jack == pytest.approx(4 * power / (k * (k - 2)), rel=0.06)
    assert (mean_jack - variance) / power == pytest.approx(D.jackknife_excess_within(k), rel=0.08)
    for n in (4, 6, 16, 64):  # the floor: the real share of a jackknife that is all sampling noise
        real_share = (2 / (n * (n - 1))) / (4 / (n * (n - 2)))
        assert D._variance(1.0, 1.0, n) == pytest.approx(real_share, rel=1e-12)
        assert D.jackknife_excess_within(n) == pytest.approx(4 / (n * (n - 2)) * (1 - real_share), rel=1e-12)


def synthetic_patterns(rng: np.random.Generator, k: int, pattern: dict, amount: float):
    """Profiles ``(K, 12)`` of every base part (a common ``pattern`` times ``amount`` plus unit
    noise) and levels in [0.5, 2]: numpy arrays, and the ``GroupPatterns`` of them (P = 4, scale 4)."""
    profiles = {p: amount * pattern[p][None, :] + rng.normal(size=(k, 12)) for p in pattern}
    levels = {p: rng.uniform(0.5, 2.0, size=k) for p in pattern}
    pat = D.GroupPatterns({p: torch.tensor(v) for p, v in profiles.items()},
                          {p: torch.tensor(v) for p, v in levels.items()}, {p: 4 for p in pattern}, k, 4)
    return profiles, levels, pat


def squared_and_noise(monkeypatch, fn, *args) -> dict:
    """What ``fn`` (``depths`` or ``distance``) passes to ``depth_from_squared`` per part: the
    squared estimate and its ``Noise``."""
    calls, original = [], D.depth_from_squared

    def record(u, noise):
        calls.append({"u": u, "variance": noise.variance, "trace": noise.trace, "power": noise.power,
                      "along": noise.along})
        return original(u, noise)
    with monkeypatch.context() as m:
        m.setattr(D, "depth_from_squared", record)
        fn(*args)
    return dict(zip(D.PARTS, calls))


@pytest.mark.parametrize("k,l,amount", [(7, 6, 1.0), (6, 8, 1.0), (7, 6, 0.0)])
def test_depths_and_distances_agree_with_a_second_implementation_term_by_term(k, l, amount, monkeypatch):
    """tests/depths_reference.py computes every part's squared depth and distance, jackknife
    variance less its excess (floored), trace, power and along, with loops over groups and pairs
    from the definitions; the two agree to rounding. Sets of unequal sizes either way round (the
    distance's floor takes the smaller), with a pattern (the data's partly different) and without
    (pure noise, where the floor binds often)."""
    rng = np.random.default_rng(12345 + k)
    base = ("phase", "fixed", "replica_x", "replica_y")
    pattern = {p: rng.normal(size=12) for p in base}
    gp, gl, g = synthetic_patterns(rng, k, pattern, amount)
    rp, rl, r = synthetic_patterns(rng, l, {p: 0.5 * pattern[p] + 0.5 * rng.normal(size=12) for p in base}, amount)
    scale = {p: 4 for p in base}
    own, between = squared_and_noise(monkeypatch, D.depths, g), squared_and_noise(monkeypatch, D.distance, g, r)
    expected_distance = {p: depths_reference.ref_distance(gp, gl, rp, rl, scale, p) for p in D.PARTS}
    if amount == 0.0:  # pure noise: the floor decides some parts' variance
        assert any(e["variance"] == e["floor"] for e in expected_distance.values())
    for part in D.PARTS:
        expected = depths_reference.ref_depth(gp, gl, scale, k, part)
        for term, value in own[part].items():
            assert value == pytest.approx(expected[term], rel=1e-9, abs=1e-15), ("depth", part, term)
        expected = expected_distance[part]
        for term, value in between[part].items():
            assert value == pytest.approx(expected[term], rel=1e-9, abs=1e-15), ("distance", part, term)


@pytest.mark.parametrize("theta", [0.0, 3e-6, 4e-5])
def test_the_intervals_law_has_the_mean_and_variance_of_the_squared_norm(theta):
    """``_below`` is the law of |m|^2 for a mean profile m with covariance C around a pattern of
    squared norm theta: mean tr(C) + theta and variance 2 tr(C^2) + 4 theta m'Cm/|m|^2 (the moments
    of a non-central quadratic form), matched by a scaled chi-square. Its moments from the CDF by
    quadrature: E X = int (1 - F), E X^2 = int 2 x (1 - F). The scale is that of depths of about
    0.1-1% (squared 1e-6 to 1e-4)."""
    from scipy.integrate import quad
    noise = D.Noise(variance=1e-11, trace=2e-6, power=3e-13, along=1.5e-7)
    survival = lambda x: 1 - D._below(x, theta, noise)  # noqa: E731
    top = 60 * (noise.trace + theta)
    mean = quad(survival, 0, top, limit=200, epsabs=1e-16)[0]
    second = quad(lambda x: 2 * x * survival(x), 0, top, limit=200, epsabs=1e-22)[0]
    assert mean == pytest.approx(noise.trace + theta, rel=1e-6, abs=0)
    assert second - mean ** 2 == pytest.approx(2 * noise.power + 4 * noise.along * theta, rel=1e-5, abs=0)


@pytest.mark.parametrize("u", [-1e-6, 5e-7, 1e-5, 2e-4])
def test_the_interval_ends_leave_two_and_a_half_percent_on_either_side(u):
    """The 95% interval is the squared depths theta that the observed |m|^2 = u + tr(C) does not
    reject: at its upper end 2.5% of the law lies below the observation, at its lower end 97.5%
    (or 0, where even theta = 0 leaves less than 97.5% below), to the solver's precision."""
    noise = D.Noise(variance=4e-12, trace=2e-6, power=3e-13, along=1.5e-7)
    d = D.depth_from_squared(u, noise)
    x = u + noise.trace
    assert D._below(x, d.high ** 2, noise) == pytest.approx(0.025, abs=1e-9)
    if d.low > 0:
        assert D._below(x, d.low ** 2, noise) == pytest.approx(0.975, abs=1e-9)
    else:
        assert D._below(x, 0.0, noise) <= 0.975
    assert d.low <= math.sqrt(max(u, 0.0)) <= d.high


def test_without_a_noise_covariance_the_interval_is_two_standard_errors_and_nan_stays_nan():
    for noise in (D.Noise(4e-10, 0.0, 1e-12, 0.0), D.Noise(4e-10, 1e-6, 0.0, 0.0)):
        d = D.depth_from_squared(1e-4, noise)  # s = 2e-5
        assert (d.value, d.low, d.high) == pytest.approx((1e-2, math.sqrt(1e-4 - 4e-5), math.sqrt(1e-4 + 4e-5)))
    for u, variance in ((math.nan, 1e-10), (1e-4, math.nan)):
        assert all(math.isnan(v) for v in D.depth_from_squared(u, D.Noise(variance, 1e-6, 1e-12, 1e-7)))


def test_the_variance_along_no_pattern_is_the_mean_eigenvalue():
    factor = torch.diag(torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64)).sqrt()  # factor' factor = diag(1, 2, 6)
    assert D.along(torch.zeros(3, dtype=torch.float64), factor) == pytest.approx(3.0)
    assert D.along(torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64), factor) == pytest.approx(6.0)
    assert D.along(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), factor) == pytest.approx(1.5)


def test_the_spread_factor_gives_the_unbiased_covariance_and_its_traces():
    g = torch.Generator().manual_seed(0)
    v, w = torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randn(4, 5, generator=g, dtype=torch.float64)
    a = D.spread_factor(v)
    np.testing.assert_allclose((a.T @ a).numpy(), np.cov(v.numpy(), rowvar=False), rtol=1e-12)
    cov_v, cov_w = np.cov(v.numpy(), rowvar=False), np.cov(w.numpy(), rowvar=False)
    assert D.noise_power(v, w) == pytest.approx(float(np.sum(cov_v * cov_w)), rel=1e-12)


@pytest.mark.parametrize("period", [2, 4, 8, 16])
def test_the_local_trend_is_the_dense_trend_kernel(period):
    """The prefix-sum trend against the dense (P + 1)^2 kernel, on rectangular maps with leading dims."""
    maps = torch.randn(2, 3, 3 * period + 5, 2 * period + 3, generator=torch.Generator().manual_seed(period),
                       dtype=torch.float64)
    dense = F.conv2d(maps.reshape(-1, 1, *maps.shape[-2:]), D.trend_kernel(period)[None, None]).reshape(
        2, 3, maps.shape[-2] - period, maps.shape[-1] - period)
    torch.testing.assert_close(D.local_trend(maps, period), dense, rtol=1e-12, atol=1e-12)


def test_depths_at_256_px_and_period_64_in_memory_linear_in_the_pixels():
    """What crashed before (the dense trend kernel unfolded; a D x D covariance at D = 3 * 64^2):
    a planted content-following checkerboard at P = 2 reads about its depth at P = 64 too."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 3, 256, 256, generator=g)
    i = torch.arange(256)
    checker = ((i[:, None] + i[None, :]) % 2 * 2 - 1).float()
    pattern = x + 0.2 * (x - x.mean(dim=(-2, -1), keepdim=True)) * checker
    d = D.depths(D.group_patterns(pattern, 64))
    assert d["phase"].value == pytest.approx(0.2, abs=0.02)


def test_a_blank_set_reads_zero_with_no_error_and_no_nan():
    """A collapsed generator's constant images: no contrast, no pattern, every part 0 +- 0."""
    blank = D.phase_depths(torch.zeros(64, 1, 32, 32, dtype=torch.float64), 2)
    assert all(tuple(d) == (0.0, 0.0, 0.0, 0.0) for d in blank.values())


def test_the_jackknife_of_a_mean_is_its_classic_variance():
    """Leave-one-out means of K values, and their jackknife variance (K - 1)/K sum (loo - mean loo)^2,
    which for the mean equals s^2 / K exactly."""
    v = torch.tensor([0.3, -1.2, 2.5, 0.7, 1.1, -0.4], dtype=torch.float64)
    loo = D.leave_one_out_means(v)
    np.testing.assert_allclose(loo.numpy(), [v.mean().item()] + [(v.sum() - x).item() / 5 for x in v], rtol=1e-12)
    assert D.jackknife_variance(loo) == pytest.approx(v.var().item() / 6, rel=1e-12)


def patterns(x: torch.Tensor) -> D.GroupPatterns:
    return D.group_patterns(x, 2)


def test_distance_between_patterns_from_theory():
    """With the data carrying a 5% fixed pattern c1 (c1 = (-1)^(i+j)): a generated set with the
    opposite pattern reads 10%, an orthogonal 2-periodic one (c2 = (-1)^i) 7.1%, the data's own
    plus 5% of c2 reads 5%; each within its interval. The same for content-following patterns."""
    c1 = artifacts.checkerboard(32, 32, torch.float64)
    c2 = c1[:, :1].expand(32, 32)  # (-1)^i
    b = 0.05
    def with_pattern(x, pattern, amount, kind):
        return x + amount * (x - x.mean(dim=(-2, -1), keepdim=True)) * pattern if kind == "content" else x + amount * pattern

    for kind, part in (("fixed", "fixed"), ("content", "phase")):
        def put(x, pattern, amount, kind=kind):
            return with_pattern(x, pattern, amount, kind)
        data = patterns(put(white(1024, 32, 3), c1, b))
        for generated, expected in ((put(white(512, 32, 4), c1, -b), 2 * b),
                                    (put(white(512, 32, 5), c2, b), math.sqrt(2) * b),
                                    (put(put(white(512, 32, 6), c1, b), c2, b), b)):
            d = D.distance(patterns(generated), data)[part]
            assert d.value == pytest.approx(expected, rel=0.1, abs=3 * d.se), (kind, expected, d)
            assert d.low <= expected <= d.high, (kind, expected, d)


def test_a_distance_needs_two_sets_of_the_same_kind_and_has_no_part_neither_holds():
    """Sets whose channels, period or parts differ (the replica depth has room at P = 4 on 32 px,
    not on 16 px) are refused; at P = 8 on 32 px neither set has room for the replica depth: NaN."""
    with pytest.raises(ValueError, match="same channels, period and parts"):
        D.distance(patterns(white(64, 32, 0)), patterns(white(64, 32, 1).expand(-1, 3, -1, -1)))
    with pytest.raises(ValueError, match="same channels, period and parts"):
        D.distance(D.group_patterns(white(64, 32, 0), 4), D.group_patterns(white(64, 16, 1), 4))
    assert D.fits(4, 32, 32, "replica") and not D.fits(4, 16, 16, "replica")
    d = D.distance(D.group_patterns(white(64, 32, 0), 8), D.group_patterns(white(64, 32, 1), 8))
    assert all(math.isnan(v) for v in d["replica"]) and all(math.isfinite(v) for v in d["total"])


def test_distance_to_clean_data_is_the_generated_depth_in_expectation():
    """With clean data, E[distance^2] = E[depth^2] of the generated set (its mean over independent
    draws, within 3 standard errors), and an identical pattern on both sides reads 0."""
    c = artifacts.checkerboard(32, 32, torch.float64)
    dist, own, same = [], [], []
    for k in range(12):
        g = white(256, 32, 100 + k) + 0.03 * c
        r = white(256, 32, 200 + k)
        dist.append(D.distance(patterns(g), patterns(r))["fixed"].value ** 2)
        own.append(D.phase_depths(g, 2)["fixed"].value ** 2)
        same.append(D.distance(patterns(g), patterns(r + 0.03 * c))["fixed"])
    assert abs(np.mean(dist) - np.mean(own)) < 3 * np.std(np.subtract(dist, own), ddof=1) / math.sqrt(12) + 1e-9
    assert sum(d.low <= 0.0 <= d.high for d in same) >= 10  # 0 inside the interval, as a 95% one should be


@pytest.mark.parametrize("n_generated,n_data,delta", [(256, 256, 0.02), (64, 1024, 0.0)])
def test_the_distance_standard_error_holds_when_both_sets_carry_patterns(n_generated, n_data, delta):
    """The data carry a 5% fixed pattern c1; the generated sets the same plus delta of an orthogonal
    c2 (the distance's truth is delta). Over 60 independent pairs of sets (sizes unequal in the
    second case, so each set's own noise enters the SE differently), the SD of the distance is
    0.75-1.33 times its mean SE and its 95% interval holds delta in at least 85% of the pairs
    (60 draws: Monte Carlo errors about 0.09 and 3 points)."""
    c1 = artifacts.checkerboard(32, 32, torch.float64)
    c2 = c1[:, :1].expand(32, 32)
    found = []
    for k in range(60):
        data = white(n_data, 32, 1000 + k) + 0.05 * c1
        generated = white(n_generated, 32, 2000 + k) + 0.05 * c1 + delta * c2
        found.append(D.distance(patterns(generated), patterns(data))["fixed"])
    values, ses = np.array([d.value for d in found]), np.array([d.se for d in found])
    assert 0.75 < values.std(ddof=1) / ses.mean() < 1.33, (values.std(ddof=1), ses.mean())
    assert np.mean([d.low <= delta <= d.high for d in found]) >= 0.85


def test_standard_errors_and_intervals_hold_at_the_study_settings():
    """The study's settings and headline: 100 independent sets of 256 stroke images of 32 x 32 (a
    non-stationary source, its truth from an independent set of 16384), read at the whole grid
    (P = 8). For clean sets and a 3% pattern of either kind, every part's SD over the sets is
    0.8-1.25 times the mean reported SE and its 95% interval holds the truth in 90-98% of the sets,
    each within two Monte Carlo errors of the check (``calibrate_depths.failures``)."""
    conditions = ("clean", "content 3%", "fixed 3%")
    truth = calibrate_depths.truths("strokes", 32, 8, seed=10_000, conditions=conditions)
    info = {"cells": [calibrate_depths.cell("strokes", 256, 32, 100, 8, seed=0, truth=truth, conditions=conditions)]}
    assert calibrate_depths.failures(info) == []
    assert {p for c in info["cells"] for parts in c["conditions"].values() for p in parts} == {"phase", "fixed", "total"}


@pytest.mark.slow
def test_standard_errors_and_intervals_hold_over_the_grid():
    """The calibration grid of ``experiments/calibrate_depths.py`` where docs/metrics.md says it holds:
    white noise, dead leaves, strokes; n = 64 and 256; 16, 32, 64 px; clean, content 1/3/10%, fixed
    1/3%; 200 sets each: every cell part within two Monte Carlo errors of SD/SE 0.8-1.25 and
    coverage 90-98%. (At n = 1024 the docs report the fixed part's SE up to a quarter too small in a
    few cells; those are not asserted here.)"""
    info = calibrate_depths.compute(list(calibrate_depths.SOURCES), [64, 256], [16, 32, 64], 200, 2, seed=0)
    assert calibrate_depths.failures(info) == []


CONTROLS = ["control: dark border", "control: dark band top-left, 1/8", "control: vignette",
            "control: off-centre vignette", "control: JPEG q75 4:4:4", "control: other texture",
            "control: half contrast", "control: blur"]


@pytest.fixture(scope="module")
def clean_band() -> dict[str, np.ndarray]:
    """The 95% band of each squared depth u over 40 clean dead-leaves sets of 256 images of 32 x 32."""
    clean = [squared(x) for x in draws("dead leaves", 256, 32, count=40, seed=1)]
    return {k: np.percentile([u[k] for u in clean], [2.5, 97.5]) for k in PARTS}


def control_squared(control: str) -> list[dict[str, float]]:
    return [squared(artifacts.CONTROLS[control](x.float()).double()) for x in draws("dead leaves", 256, 32, count=8, seed=2)]


@pytest.mark.parametrize("control", CONTROLS)
def test_controls_read_within_the_clean_band(control, clean_band):
    """Changes that are not a grid (borders, vignettes, 8 x 8 JPEG blocks at P = 2, another texture,
    ...): over 8 sets of 256 images of 32 x 32, the mean squared depth (unbiased, unlike its square
    root) is within 4 of its standard errors of 0 and inside the 95% band of single clean sets;
    JPEG's block edges are the exception for the replica depth (next test)."""
    changed = control_squared(control)
    for k in PARTS:
        if k == "replica" and "JPEG" in control:
            continue
        values = [u[k] for u in changed]
        mean, se = np.mean(values), np.std(values, ddof=1) / math.sqrt(len(values))
        assert abs(mean) <= 4 * se and mean <= clean_band[k][1], (k, mean, se, clean_band[k])


def test_jpeg_block_edges_read_as_replicas_at_p2(clean_band):
    """An 8 x 8 block edge lies between an odd and an even column (and row), so the neighbour
    differences across it all fall in one phase at P = 2: the replica depth reads JPEG's blocks."""
    changed = control_squared("control: JPEG q75 4:4:4")
    assert np.mean([u["replica"] for u in changed]) > clean_band["replica"][1]


def test_grid_artifacts_read_large():
    """Zero insertion, an uneven transposed convolution and a modulated checkerboard read far
    outside the clean band; nearest and bilinear x2 and bicubic down-up as replicas."""
    x = dead_leaves_images(256, 32, seed=3)
    clean = D.phase_depths(x, 2)
    for name in ("zero insertion", "transposed k3 (random)", "modulated checkerboard"):
        d = D.phase_depths(artifacts.apply(x, artifacts.ARTIFACTS[name], 1.0), 2)["total"]
        assert d.value > 0.2 and d.low > clean["total"].high, (name, d, clean["total"])
    for name in ("nearest x2", "bilinear x2", "bicubic down-up"):
        d = D.phase_depths(artifacts.apply(x, artifacts.ARTIFACTS[name], 1.0), 2)["replica"]
        assert d.value > 0.02 and d.low > clean["replica"].high, (name, d, clean["replica"])


def slow_squared(x: np.ndarray, period: int, groups: int) -> dict[str, float]:
    """An independent loop implementation of the squared depths, straight from the definitions."""
    n, c, h, w = x.shape
    size = n // groups
    r = period // 2

    def margin(extra: int) -> int:
        need = max(h // 8 + r + extra, period)
        return -(-need // period) * period

    taps = np.ones(period + 1) / period
    taps[0] = taps[-1] = 0.5 / period

    def profile(img: np.ndarray, m: int) -> np.ndarray:  # (C, H, W) -> (C, P, P)
        out = np.zeros((img.shape[0], period, period))
        counts = np.zeros((period, period))
        for i in range(m, h - m):
            for j in range(m, w - m):
                trend = sum(taps[a] * taps[b] * img[:, i + a - r, j + b - r]
                            for a in range(period + 1) for b in range(period + 1))
                out[:, i % period, j % period] += img[:, i, j] - trend
                counts[i % period, j % period] += 1
        out /= counts
        return out - out.mean(axis=(1, 2), keepdims=True)

    m, mr, cm = margin(0), margin(1), h // 8  # cm: the contrast's region, the same at every period
    var_p, mean_p, rep_x, rep_y, contrast, level_x, level_y = [], [], [], [], [], [], []
    for g in range(groups):
        imgs = x[g * size:(g + 1) * size]
        free = imgs - imgs[..., cm:h - cm, cm:w - cm].mean(axis=(2, 3), keepdims=True)
        var = free.var(axis=0, ddof=1)
        var_p.append(profile(var, m))
        mean_p.append(profile(imgs.mean(axis=0), m))
        contrast.append(var[:, cm:h - cm, cm:w - cm].mean())
        dx = np.zeros((c, h, w))
        dy = np.zeros((c, h, w))
        dx[:, :, :-1] = (imgs[..., 1:] - imgs[..., :-1]).var(axis=0, ddof=1)
        dy[:, :-1, :] = (imgs[:, :, 1:, :] - imgs[:, :, :-1, :]).var(axis=0, ddof=1)
        rep_x.append(profile(dx, mr))
        rep_y.append(profile(dy, mr))
        level_x.append(dx[:, mr:h - mr, mr:w - mr].mean())
        level_y.append(dy[:, mr:h - mr, mr:w - mr].mean())
    pairs = [(k, l) for k in range(groups) for l in range(groups) if k != l]
    scale = period * period * c

    def ratio(profiles, levels, entries):
        num = np.mean([(profiles[k] * profiles[l]).sum() for k, l in pairs]) / entries
        return num / np.mean([levels[k] * levels[l] for k, l in pairs])

    fixed = np.mean([(mean_p[k] * mean_p[l]).sum() for k, l in pairs]) / scale / np.mean(contrast)
    return {"phase": ratio(var_p, [2 * v for v in contrast], scale),
            "fixed": fixed,
            "replica": (ratio(rep_x, level_x, scale) + ratio(rep_y, level_y, scale)) / 2}


@pytest.mark.parametrize("period,size", [(2, 16), (4, 24), (2, 24)])
def test_agrees_with_a_slow_independent_implementation(period, size):
    x = artifacts.apply(dead_leaves_images(40, size, seed=4), artifacts.ARTIFACTS["bilinear x2"], 0.5).double()
    fast = squared(x, period)
    slow = slow_squared(x.numpy(), period, groups=D.DEPTH_GROUPS)
    for k in PARTS:
        if math.isnan(fast[k]):
            assert not D.fits(period, size, size, k)
            continue
        assert fast[k] == pytest.approx(slow[k], rel=1e-9, abs=1e-15), k


def test_too_few_images_or_too_small_images_are_refused():
    with pytest.raises(ValueError, match="at least 8 images"):
        D.phase_depths(white(7, 32, 0), 2)
    with pytest.raises(ValueError, match="too small.* fewer than 16 rows or columns"):
        D.phase_depths(white(16, 16, 0), 8)
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\), got shape \(64, 32, 32\)"):
        D.phase_depths(white(64, 32, 0)[:, 0], 2)
    assert math.isfinite(D.phase_depths(white(8, 32, 0), 2)["total"].value)  # the fewest it takes


def test_the_region_read_must_hold_two_periods():
    """Margins are whole periods; one period left between them cannot tell a phase from the local
    trend: 24 px at P = 8 keeps one period (refused), 32 px keeps two."""
    assert D.margin(8, 24) == D.margin(8, 32) == 8
    assert not D.fits(8, 24, 24) and D.fits(8, 32, 32)


def test_phase_depths_are_the_depths_of_the_groups_asked_for_at_p2_by_default():
    x = dead_leaves_images(64, 32, seed=9).double()
    assert D.phase_depths(x) == D.depths(D.group_patterns(x, 2))
    assert D.phase_depths(x, 4, groups=8) == D.depths(D.group_patterns(x, 4, groups=8)) != D.phase_depths(x, 4)


def test_phase_profiles_stay_on_the_maps_device():
    """The local trend is made from the maps themselves (prefix sums): nothing is created on another
    device (no second device here: the meta device carries the shapes)."""
    maps = torch.zeros(3, 1, 16, 16, dtype=torch.float64, device="meta")
    assert D.phase_profile(maps, 4, 4).device.type == "meta" and D.local_trend(maps, 4).shape == (3, 1, 12, 12)


def test_sets_merged_in_chunks_are_the_set_grouped_at_once():
    """A large set read in chunks (``GroupPatterns.merge``) is the same set grouped at once, each
    chunk's groups in order: the same profiles, levels, scale, period and number of groups."""
    x = dead_leaves_images(96, 32, seed=8).double()
    chunks = D.GroupPatterns.merge([D.group_patterns(x[:48], 4), D.group_patterns(x[48:], 4)])  # 16 groups of 3 each
    whole = D.group_patterns(x, 4, groups=32)
    assert (chunks.groups, chunks.period, chunks.scale) == (whole.groups, whole.period, whole.scale) == (32, 4, whole.scale)
    for part in whole.profiles:
        torch.testing.assert_close(chunks.profiles[part], whole.profiles[part], rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(chunks.levels[part], whole.levels[part], rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# The whole grid: every period in one unit, octaves that add up, no small-sample bias


def coarse_pattern(size: int, period: int) -> torch.Tensor:
    """A unit-RMS pattern ``(size, size)`` that is ``period``-periodic and orthogonal to every
    ``period / 2``-periodic one: cos(2 pi i / P) cos(2 pi j / P) / RMS."""
    i = torch.arange(size, dtype=torch.float64)
    c = torch.cos(2 * math.pi * i / period)[:, None] * torch.cos(2 * math.pi * i / period)[None, :]
    return c / c.square().mean().sqrt()


def test_octaves_add_up_to_the_whole_estimate_by_estimate():
    """The octave projections are orthogonal and sum to the identity on mean-free profiles, so the
    squared depths (and distances) of the octaves 2, 4, 8 add up to the whole 8-periodic one's."""
    x = artifacts.apply(dead_leaves_images(128, 32, seed=5), artifacts.ARTIFACTS["transposed k3 (random)"], 0.3)
    r = dead_leaves_images(128, 32, seed=6)
    g, gr = D.group_patterns(x, 8), D.group_patterns(r, 8)
    for estimate in (lambda a, b: D.depths(a), lambda a, b: D.distance(a, b)):
        whole = estimate(g, gr)
        octaves = [estimate(g.octave(q), gr.octave(q)) for q in (2, 4, 8)]
        for part in ("phase", "fixed", "total"):
            parts = sum(o[part].value * abs(o[part].value) for o in octaves)
            assert parts == pytest.approx(whole[part].value * abs(whole[part].value), rel=1e-9, abs=1e-15), part
    profiles = g.profiles["phase"]
    assert torch.allclose(sum(D.octave_projection(profiles, 8, q) for q in (2, 4, 8)), profiles, atol=1e-15)
    with pytest.raises(ValueError, match="power of two"):
        g.octave(3)
    six = D.group_patterns(dead_leaves_images(32, 48, seed=2), 6)  # 3 divides 6 but is no octave
    with pytest.raises(ValueError, match="power of two"):
        six.octave(3)


def test_an_octave_is_an_orthogonal_projection_of_the_same_patterns():
    """Taking an octave twice changes nothing and the other octaves of it are 0; it keeps the
    period, groups and levels (the profiles are still P-periodic)."""
    x = artifacts.apply(dead_leaves_images(64, 32, seed=3), artifacts.ARTIFACTS["transposed k3 (random)"], 0.3)
    g = D.group_patterns(x, 8)
    four = g.octave(4)
    assert (four.period, four.groups, four.levels) == (g.period, g.groups, g.levels)
    for part in g.profiles:
        torch.testing.assert_close(four.octave(4).profiles[part], four.profiles[part], rtol=1e-12, atol=1e-14)
        assert float(four.octave(8).profiles[part].abs().max()) < 1e-12
        assert float(four.profiles[part].abs().max()) > 1e-6


@pytest.mark.parametrize("kind", ["fixed", "content-following"])
def test_a_two_periodic_pattern_reads_the_same_depth_at_every_period(kind):
    """Dead leaves with a 3% checkerboard: one unit at P = 2, 4 and 8 (the contrast is taken over one
    region for every period), the depths within 3 combined standard errors of each other."""
    x = dead_leaves_images(1024, 32, seed=7).double()
    c = artifacts.checkerboard(32, 32, torch.float64)
    s = D.group_patterns(x, 2).levels["fixed"].mean().sqrt()  # the contrast, as every period takes it
    y = x + 0.03 * s * c if kind == "fixed" else x + 0.03 * (x - x.mean(dim=(-2, -1), keepdim=True)) * c
    found = {p: D.phase_depths(y, p)["total"] for p in (2, 4, 8)}
    for p in (4, 8):
        assert abs(found[p].value - found[2].value) < 3 * math.hypot(found[p].se, found[2].se), found
    if kind == "fixed":
        assert found[2].value == pytest.approx(0.03, abs=3 * found[2].se)


def test_a_pattern_at_the_coarse_period_only_reads_zero_at_p2_and_its_depth_on_the_whole_grid():
    x = dead_leaves_images(1024, 32, seed=8).double()
    s = D.group_patterns(x, 8).levels["fixed"].mean().sqrt()
    y = x + 0.05 * s * coarse_pattern(32, 8)
    p2 = D.phase_depths(y, 2)["total"]
    assert abs(p2.value) < 3 * p2.se + 1e-3
    g = D.group_patterns(y, 8)
    whole, octave8 = D.depths(g)["total"], D.depths(g.octave(8))["total"]
    for d in (whole, octave8):
        assert d.low <= 0.05 <= d.high and d.value == pytest.approx(0.05, abs=3 * d.se)
    for q in (2, 4):
        low = D.depths(g.octave(q))["total"]
        assert abs(low.value) < 3 * low.se + 1e-3, q


@pytest.mark.parametrize("period", [pytest.param(2, marks=pytest.mark.slow), pytest.param(4, marks=pytest.mark.slow), 8])
def test_squared_depths_are_unbiased_at_64_images(period):
    """White noise, 64 images of 32 x 32, over 200 independent sets, against the closed forms with the
    contrast region's R pixels (each image's own mean taken there): a fixed b (-1)^(i+j) reads
    u = b^2 / (1 - 1/R); a content-following a reads (a / (1 + a^2))^2 ((1 - 2/R) / (1 - 1/R))^2;
    neither reads in the other part nor as replicas; clean sets read 0. Tolerance: 4 Monte Carlo
    standard errors of the mean."""
    size, n, sets, b, a = 32, 64, 200, 0.05, 0.05
    R = (size - 2 * D.contrast_margin(size)) ** 2
    c = artifacts.checkerboard(size, size, torch.float64)
    gen = torch.Generator().manual_seed(period)
    fixed_u = b * b / (1 - 1 / R)
    phase_u = (a / (1 + a * a)) ** 2 * ((1 - 2 / R) / (1 - 1 / R)) ** 2
    cases = {"clean": (lambda x: x, {"phase": 0, "fixed": 0, "total": 0, "replica": 0}),
             "fixed": (lambda x: x + b * c, {"phase": 0, "fixed": fixed_u, "total": fixed_u, "replica": 0}),
             "content": (lambda x: x * (1 + a * c), {"phase": phase_u, "fixed": 0, "total": phase_u, "replica": 0})}
    for name, (plant, expected) in cases.items():
        values = {k: [] for k in expected}
        for _ in range(sets):
            u = squared(plant(torch.randn(n, 1, size, size, generator=gen, dtype=torch.float64)), period)
            for k in values:
                values[k].append(u[k])
        for k, v in values.items():
            if not D.fits(period, size, size, k):
                assert all(math.isnan(x) for x in v)
                continue
            mean, se = np.mean(v), np.std(v, ddof=1) / math.sqrt(sets)
            assert abs(mean - expected[k]) < 4 * se, (name, k, mean, expected[k], se)


@pytest.mark.parametrize("n", [pytest.param(16, marks=pytest.mark.slow), 64])
def test_a_fixed_pattern_well_above_the_noise_floor_reads_its_depth_within_one_percent(n):
    """Dead leaves (correlated pixels, contrast varying from image to image), sets of n images: a
    fixed 10% checkerboard over the contrast of the whole pool reads 10% within 1% relative, on
    average over the pool's sets (Monte Carlo SE about 0.2% relative). Dividing by the mean product
    of the groups' square-root contrasts read it 1.5% too deep at n = 16, 0.6% at n = 64."""
    pool = dead_leaves_images(6400, 32, seed=9).double()
    s = D.group_patterns(pool, 2).levels["fixed"].mean().sqrt()
    y = pool + 0.1 * s * artifacts.checkerboard(32, 32, torch.float64)
    u = [squared(x)["fixed"] for x in y.split(n)]
    assert math.sqrt(np.mean(u)) == pytest.approx(0.1, rel=0.01)


def test_every_period_from_one_pass_over_the_groups_is_each_period_alone():
    """``patterns_by_period`` reads each group's maps once for every period: the same profiles and
    levels, bit for bit, as ``group_patterns`` at one period, including where the replica parts fit
    at some of the periods only (32 px: P = 2 and 4 with them, P = 8 without)."""
    x = dead_leaves_images(40, 32, seed=4)
    periods = [2, 4, 8]
    together = D.patterns_by_period(x, periods)
    assert "replica" in together[4].parts() and "replica" not in together[8].parts()
    for p in periods:
        alone = D.group_patterns(x, p)
        assert together[p].parts() == alone.parts() and together[p].groups == alone.groups
        for k in alone.profiles:
            assert torch.equal(together[p].profiles[k], alone.profiles[k]) and torch.equal(together[p].levels[k],
                                                                                            alone.levels[k])


@pytest.mark.parametrize("sizes", [(1, 9), (4, 3, 3), (5, 5)])
def test_a_groups_maps_merged_over_pieces_are_its_maps_at_once(sizes):
    """``group_maps`` merges the moments of a group read in pieces (a set larger than memory): the
    variance, mean and neighbour maps and the contrast of the whole group, within float64 error."""
    x = dead_leaves_images(10, 32, seed=5).double() + 0.05 * artifacts.checkerboard(32, 32, torch.float64)
    whole = D.group_maps([x], replica=True)
    parts = D.group_maps(list(x.split(list(sizes))), replica=True)
    for a, b in [(whole.variance, parts.variance), (whole.mean, parts.mean), (whole.contrast, parts.contrast),
                 *zip(whole.neighbours, parts.neighbours)]:
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-15)
    moments = D.Moments.of(x)
    torch.testing.assert_close(moments.variance, x.var(dim=0), rtol=1e-12, atol=0)  # the unbiased variance
