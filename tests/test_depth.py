"""Grid-only depths (``gan.spectral.phase_depths``): zero expectation for stationary sets at any
sample count and size, the modulation depth recovered, controls that are not a grid read as clean,
and agreement with a slow independent implementation."""
import math

import numpy as np
import pytest
import torch

from gan import artifacts, spectral
from gan.data import dead_leaves_images, stroke_images

PARTS = ("phase", "fixed")


def white(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


SOURCES = {
    "white noise": white,
    "dead leaves": lambda n, size, seed: dead_leaves_images(n, size, seed=seed).double(),
    "strokes": lambda n, size, seed: stroke_images(n, size, seed=seed).double(),
}


def squared(x: torch.Tensor, period: int = 2) -> dict[str, float]:
    """The unbiased squared depths D^2 = d |d| of one set."""
    return {k: v[0] * abs(v[0]) for k, v in spectral.phase_depths(x, period).items()}


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
                marks = [pytest.mark.slow] if cost > slow_from else []
                cases.append(pytest.param(source, n, size, marks=marks, id=f"{source}-{n}-{size}px"))
    return cases


@pytest.mark.parametrize("source,n,size", grid_cases(slow_from=64 * 32 * 32))
def test_clean_sets_read_zero_in_expectation(source, n, size):
    """The mean of D^2 over independent clean sets is within 3 standard errors of 0, for both parts."""
    sets = draws(source, n, size, count=max(12, 1024 // n))
    values = {k: np.array([squared(x)[k] for x in sets]) for k in PARTS}
    for k, v in values.items():
        se = v.std(ddof=1) / math.sqrt(len(v))
        assert abs(v.mean()) < 3 * se + 1e-15, (k, v.mean(), se)


def recovery_cases() -> list:
    cases = []
    for a in (0.01, 0.03, 0.1):
        for n in (16, 64, 256, 1024):
            for size in (16, 32, 64):
                slow = n * size * size > 64 * 32 * 32 or (a < 0.1 and (n, size) != (64, 32))
                cases.append(pytest.param(a, n, size, marks=[pytest.mark.slow] if slow else [], id=f"{a}-{n}-{size}px"))
    return cases


@pytest.mark.parametrize("a,n,size", recovery_cases())
def test_modulation_depth_is_recovered_at_every_sample_count_and_size(a, n, size):
    """White noise x + a (x - mean x) (-1)^(i+j) reads a / (1 + a^2) (a to first order): the mean
    D^2 over independent sets is within 10% of a (19% of a^2), or within 3 standard errors where
    2000 sets cannot pin it down that far (a 1% pattern in 16 images of 16 x 16 px: one set's
    standard error is 5% of the contrast, 5x the pattern)."""
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
    if se < 0.03 * a * a:
        assert math.sqrt(max(np.mean(values), 0.0)) == pytest.approx(a, rel=0.1)


def test_fixed_depth_is_the_amplitude_over_the_contrast():
    """x + b s (-1)^(i+j) (s the images' RMS contrast) reads b as the fixed depth, and no phase depth."""
    x = white(512, 32, 0)
    for b in (0.01, 0.1):
        d = spectral.phase_depths(x + b * artifacts.checkerboard(32, 32, torch.float64), 2)
        assert d["fixed"][0] == pytest.approx(b, rel=0.1, abs=3 * d["fixed"][1])
        assert abs(d["phase"][0]) < 4 * d["phase"][1] + 1e-3
        assert d["total"][0] == pytest.approx(math.hypot(d["fixed"][0], max(d["phase"][0], 0)), rel=0.05)


CONTROLS = ["control: dark border", "control: vignette", "control: off-centre vignette",
            "control: JPEG q75 4:4:4", "control: other texture", "control: half contrast", "control: blur"]


@pytest.fixture(scope="module")
def clean_band() -> dict[str, np.ndarray]:
    """The 95% band of each depth over 40 clean dead-leaves sets of 256 images of 32 x 32."""
    clean = [spectral.phase_depths(x, 2) for x in draws("dead leaves", 256, 32, count=40, seed=1)]
    return {k: np.percentile([d[k][0] for d in clean], [2.5, 97.5]) for k in PARTS}


@pytest.mark.parametrize("control", CONTROLS)
def test_controls_read_within_the_clean_band(control, clean_band):
    """Changes that are not a grid (a dark border, vignettes, 8 x 8 JPEG blocks at P = 2, another
    texture, ...) move neither depth out of the 95% band of clean dead-leaves sets of the same size."""
    changed = [spectral.phase_depths(artifacts.CONTROLS[control](x.float()).double(), 2)
               for x in draws("dead leaves", 256, 32, count=8, seed=2)]
    for k in PARTS:
        mean = np.mean([d[k][0] for d in changed])
        assert clean_band[k][0] <= mean <= clean_band[k][1], (k, mean, clean_band[k])


def test_grid_artifacts_read_large():
    """Zero insertion and an uneven transposed convolution read far outside the clean band."""
    x = dead_leaves_images(256, 32, seed=3)
    clean = spectral.phase_depths(x, 2)["total"]
    for name in ("zero insertion", "transposed k3 (random)", "modulated checkerboard"):
        d = spectral.phase_depths(artifacts.apply(x, artifacts.ARTIFACTS[name], 1.0), 2)["total"]
        assert d[0] > 0.2 and d[0] > clean[0] + 20 * d[1], (name, d, clean)


def slow_depths(x: np.ndarray, period: int, groups: int) -> dict[str, float]:
    """An independent loop implementation of the squared depths, straight from the definitions."""
    n, c, h, w = x.shape
    size = n // groups
    m = max(h // 8, period)
    m = -(-m // period) * period
    box = np.ones(period) / period
    tri = np.convolve(box, box)
    var_maps, mean_maps = [], []
    for g in range(groups):
        imgs = x[g * size:(g + 1) * size]
        free = imgs - imgs.mean(axis=(2, 3), keepdims=True)
        var_maps.append(free.var(axis=0, ddof=1))
        mean_maps.append(imgs.mean(axis=0))

    def profile(img: np.ndarray) -> np.ndarray:  # (C, H, W) -> (C, P, P)
        out = np.zeros((c, period, period))
        counts = np.zeros((period, period))
        for i in range(m, h - m):
            for j in range(m, w - m):
                trend = sum(tri[a] * tri[b] * img[:, i + a - period + 1, j + b - period + 1]
                            for a in range(2 * period - 1) for b in range(2 * period - 1))
                out[:, i % period, j % period] += img[:, i, j] - trend
                counts[i % period, j % period] += 1
        out /= counts
        return out - out.mean(axis=(1, 2), keepdims=True)

    vp = [profile(v) for v in var_maps]
    mp = [profile(v) for v in mean_maps]
    contrast = np.mean([v[:, m:h - m, m:w - m].mean() for v in var_maps])
    pairs = [(k, l) for k in range(groups) for l in range(groups) if k != l]
    scale = period * period * c
    phase = np.mean([(vp[k] * vp[l]).sum() for k, l in pairs]) / scale / (2 * contrast) ** 2
    fixed = np.mean([(mp[k] * mp[l]).sum() for k, l in pairs]) / scale / contrast
    return {"phase": phase, "fixed": fixed}


@pytest.mark.parametrize("period,size", [(2, 16), (4, 16), (2, 24)])
def test_agrees_with_a_slow_independent_implementation(period, size):
    x = artifacts.apply(dead_leaves_images(40, size, seed=4), artifacts.ARTIFACTS["bilinear x2"], 0.5).double()
    fast = squared(x, period)
    slow = slow_depths(x.numpy(), period, groups=spectral.DEPTH_GROUPS)
    for k in PARTS:
        assert fast[k] == pytest.approx(slow[k], rel=1e-9, abs=1e-15), k


def test_too_few_images_or_too_small_images_are_refused():
    with pytest.raises(ValueError, match="at least 6 images"):
        spectral.phase_depths(white(5, 32, 0), 2)
    with pytest.raises(ValueError, match="too small"):
        spectral.phase_depths(white(16, 16, 0), 8)
