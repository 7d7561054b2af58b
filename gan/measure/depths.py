"""Grid-only depths: how much of an image set is a pattern on the P x P pixel grid, in units of the
images' contrast, estimated so that nothing but a grid reads above zero, with standard errors that
hold over independent sets.

An upsampler works on a fixed pixel grid, so what it leaves sits at the same phases
(i mod P, j mod P) in every sample. Three things can depend on the phase (the *parts*):

* ``phase``: the local contrast (a pattern whose amplitude follows the content). The across-image
  variance map of ``x + a (x - mean x) c`` (c = +-1 on a P-periodic grid) is ``s^2 (1 + a c)^2``;
  its P-periodic part over ``2 s^2`` reads ``a / (1 + a^2)``, a to first order.
* ``fixed``: the mean image (a pattern at the same place in every sample): ``x + b s c`` reads b.
* ``replica``: the correlation of neighbouring pixels (the spectral replicas of nearest, bilinear
  or other resampling, which change neither the mean nor the variance by phase): the RMS over the
  phases and the two directions of the relative change of the variance of the differences to the
  right and to the lower neighbour. Nearest x2 reads 1 (every other difference vanishes); a clean
  set reads 0.
* ``total``: ``sqrt(phase^2 + fixed^2)``, the whole P-periodic pattern of the mean and the contrast.

**Estimation.** The N images are split into ``DEPTH_GROUPS`` groups. Per group: the variance map
(across its images, each minus its own mean over the measured region), the mean image, and the
variance maps of the neighbour differences; each map minus a phase-free local trend
(``trend_kernel``), averaged per phase class over the region away from the border (``margin``): the
group's *profile* ``(C, P, P)``. A squared depth is a mean inner product between the profiles of
*different* groups over the same mean product of the groups' contrasts (a ratio of U-statistics),
so its expectation is 0 for every stationary set, and for every set whose statistics change
smoothly with position, at any N and size. Reported depths are signed square roots (negative:
below the sampling noise).

**Uncertainty.** The leave-one-group-out jackknife of the squared depth u, with every random
quantity (profiles and contrasts) recomputed in each replicate, less the jackknife's known excess
on pure sampling noise (``jackknife_excess_within``, ``noise_power``), gives its standard error
``se2``; the reported standard error of the depth is the half-width of the mapped one-SE interval,
``(g(u + se2) - g(u - se2)) / 2`` with ``g`` the signed square root (the delta method far from 0,
about the SD of the estimate near 0). The 95% interval inverts the skewed distribution of the
squared norm of the groups' mean profile (``_below``: a scaled chi-square matched to its mean and
its variance, the variance along the pattern included), so it holds near 0 as well, and never
goes below 0. ``experiments/calibrate_depths.py`` measures both over independent sets.

**Two sets.** ``distance(g, r)`` estimates the distance between the P-periodic patterns of two sets
(generated and data): ``|g - r|^2 = <g, g> + <r, r> - 2 <g, r>``, the first two from pairs of
different groups within a set, the last from every pair across the sets; a pattern opposite to
the data's reads twice its size, and with clean data it is the generated set's depth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import torch
import torch.nn.functional as F
from scipy import special
from scipy.optimize import brentq
from tqdm.auto import tqdm

from gan.core.runtime import release_freed_memory
from gan.data.imageset import ImageSet, pieces

#: Values (images x channels x pixels) of a group read at a time for its maps: 16M, i.e. 5 images of
#: 3 x 1024 x 1024 (their float64 copies take 0.6 GB); a larger group's moments are merged over pieces.
PIECE_VALUES = 2**24

#: Groups of images that the estimates cross (products between different groups only); the jackknife
#: over them gives the standard errors.
DEPTH_GROUPS = 16
#: The fewest images depths are estimated from: 4 groups of 2 (the noise power of the groups' profiles
#: is a U-statistic of 4 different groups).
MIN_IMAGES = 8
#: The parts of the P-periodic pattern that are measured (``total`` combines phase and fixed).
PARTS = ("phase", "fixed", "replica", "total")
#: Parts made of others, with the weight of each squared depth: the replica depth is the mean over
#: the two directions of differences (each relative to its own level, so an anisotropic image does
#: not read more than 1 when every other difference vanishes), the total the sum of phase and fixed.
COMPOSITE = {"replica": (("replica_x", 0.5), ("replica_y", 0.5)), "total": (("phase", 1.0), ("fixed", 1.0))}
#: Parts whose level is already in squared units (the fixed pattern's amplitude squared over s^2):
#: their squared depth divides by the mean level, the others' by the mean product of two groups' levels.
MEAN_LEVEL = ("fixed",)
#: Coverage of the interval ``Depth.low`` .. ``Depth.high``.
CONFIDENCE = 0.95


class Depth(NamedTuple):
    """One depth: ``value`` (signed square root of the squared estimate), its standard error and
    95% interval; NaN where the images are too small or too few for it."""

    value: float
    se: float
    low: float
    high: float


NAN_DEPTH = Depth(math.nan, math.nan, math.nan, math.nan)


def signed_sqrt(t: float) -> float:
    """``sign(t) sqrt(|t|)``: a squared depth back on the depth scale."""
    return math.copysign(math.sqrt(abs(t)), t)


@dataclass(frozen=True)
class Noise:
    """The sampling noise of a squared estimate ``u``: ``variance`` of u (the jackknife, less its
    known excess), and the covariance C of the mean m of the groups' normalised profiles behind it:
    ``trace`` tr(C), ``power`` tr(C^2) and ``along`` m' C m / |m|^2, the variance along m."""

    variance: float
    trace: float
    power: float
    along: float


def _below(x: float, theta: float, noise: Noise) -> float:
    """P(|m|^2 <= x) when the squared depth is ``theta``: |m|^2 has mean tr(C) + theta and variance
    2 tr(C^2) + 4 theta (m' C m / |m|^2), matched by a scaled chi-square (Patnaik)."""
    mean = noise.trace + theta
    var = 2 * noise.power + 4 * noise.along * theta
    scale, df = var / (2 * mean), 2 * mean * mean / var
    return float(special.chdtr(df, x / scale))


def _theta_at(x: float, probability: float, noise: Noise) -> float:
    """The squared depth at which ``x`` has ``probability`` below it (0 where even 0 leaves less)."""
    if _below(x, 0.0, noise) <= probability:
        return 0.0
    hi = max(x, noise.trace, 1e-300)
    while _below(x, hi, noise) > probability:
        hi *= 2
    return float(brentq(lambda t: _below(x, t, noise) - probability, 0.0, hi, xtol=1e-14 * hi + 1e-300))


def depth_from_squared(u: float, noise: Noise) -> Depth:
    """The ``Depth`` of a squared estimate ``u`` (a squared norm of a mean profile, estimated without
    bias) with its ``noise``. Standard error: the half-width of ``u +- sqrt(variance)`` mapped by
    ``signed_sqrt``. Interval: the squared depths theta that ``|m|^2 = u + tr(C)`` does not reject at
    the 5% level (``_below``: skewed, and wider above u where a larger pattern brings more noise;
    0 at the bottom, as the truth is a norm), mapped by ``sqrt``. Without a noise covariance
    (``trace`` or ``power`` 0: every group the same, as for a blank set) the interval is
    ``u +- 2 sqrt(variance)``, mapped by ``signed_sqrt``; NaN where ``u`` or the variance is."""
    if not (math.isfinite(u) and math.isfinite(noise.variance)):
        return NAN_DEPTH
    s = math.sqrt(max(noise.variance, 0.0))
    se = (signed_sqrt(u + s) - signed_sqrt(u - s)) / 2
    if noise.trace <= 0 or noise.power <= 0:
        return Depth(signed_sqrt(u), se, signed_sqrt(u - 2 * s), signed_sqrt(u + 2 * s))
    x = max(u + noise.trace, 0.0)
    tail = (1 - CONFIDENCE) / 2
    return Depth(signed_sqrt(u), se, math.sqrt(_theta_at(x, 1 - tail, noise)), math.sqrt(_theta_at(x, tail, noise)))


# ---------------------------------------------------------------------------------------------
# Where on the image: the margin and the phase-free local trend


def trend_reach(period: int) -> int:
    """How far the local trend filter reaches from a pixel: P / 2 (rounded down)."""
    return period // 2


def margin(period: int, size: int, part: str = "phase") -> int:
    """Rows and columns left out at each border, a multiple of P (every phase equally represented):
    an eighth of the side plus the reach of the trend filter, and one more for the neighbour
    differences of ``replica``. A DCGAN generator starts at 4 x 4; the zero padding of its first
    stride-2 stage touches one of 8 rows, which later stages widen to ``size / 8`` output rows; a
    band of that width on any side is never read, not even by the trend filter."""
    need = size // 8 + trend_reach(period) + (1 if part == "replica" else 0)
    return -(-max(need, period) // period) * period


def contrast_margin(size: int) -> int:
    """Rows and columns left out at each border where the contrast (and each image's own mean) is
    taken: the band a DCGAN generator's zero padding reaches (``size / 8``), the same at every
    period, so that every period and octave reports in one unit (the region each period reads lies
    inside this one, its trend filter included)."""
    return size // 8


def fits(period: int, height: int, width: int, part: str = "phase") -> bool:
    """Whether ``height x width`` images leave at least 2P rows and columns inside the margins."""
    return all(n - 2 * margin(period, n, part) >= 2 * period for n in (height, width))


def trend_kernel(period: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """The phase-free local trend filter ``(P + 1, P + 1)``, separable: taps ``[1/2, 1, ..., 1, 1/2] / P``
    in each direction. It maps every P x P-periodic map to its mean (the half-weight ends are one
    phase), keeps linear ramps, and leaves a constant of a quadratic (it is symmetric). The dense
    kernel is the reference that ``local_trend`` is tested against."""
    taps = torch.ones(period + 1, dtype=dtype, device=device)
    taps[0] = taps[-1] = 0.5
    taps = taps / period
    return taps[:, None] * taps[None, :]


def _trend_along(maps: torch.Tensor, period: int, dim: int) -> torch.Tensor:
    """The taps of ``trend_kernel`` along ``dim`` (valid positions: the size shrinks by P), as the
    mean of two adjacent length-P box sums read off one prefix sum: time and memory linear in the
    pixels at any P."""
    n = maps.shape[dim]
    zero = torch.zeros_like(maps.narrow(dim, 0, 1))
    prefix = torch.cat([zero, maps.cumsum(dim)], dim)  # prefix[i] = sum of maps[:i]
    box = prefix.narrow(dim, period, n - period + 1) - prefix.narrow(dim, 0, n - period + 1)
    return (box.narrow(dim, 0, n - period) + box.narrow(dim, 1, n - period)) / (2 * period)


def local_trend(maps: torch.Tensor, period: int) -> torch.Tensor:
    """The local trend of maps ``(..., H, W) -> (..., H - P, W - P)``: ``trend_kernel`` applied as a
    valid correlation (output [i, j] is centred on input [i + P/2, j + P/2]), separably."""
    return _trend_along(_trend_along(maps, period, -1), period, -2)


def phase_profile(maps: torch.Tensor, period: int, m: int) -> torch.Tensor:
    """The P-periodic part of maps ``(..., H, W)`` inside the margin ``m``, ``-> (..., P, P)``: each map
    minus its local trend (``trend_kernel``), averaged per phase class (i mod P, j mod P) over the
    rows and columns [m, H - m) x [m, W - m), minus the mean over classes."""
    h, w = maps.shape[-2:]
    r = trend_reach(period)
    region = (maps[..., m:h - m, m:w - m]
              - local_trend(maps[..., m - r:h - m + r, m - r:w - m + r], period))  # the trend only where read
    classes = region.unflatten(-1, (-1, period)).unflatten(-3, (-1, period)).mean(dim=(-4, -2))
    classes = classes - classes.mean(dim=(-2, -1), keepdim=True)
    return classes


# ---------------------------------------------------------------------------------------------
# Per group: profiles and contrasts


@dataclass
class GroupPatterns:
    """What the depths of one image set are computed from, per group k of its images (K groups):
    ``profiles[part]`` ``(K, D)`` (the phase profiles, flattened over channels and classes) and
    ``levels[part]`` ``(K,)``, what they are relative to (2 s^2 for phase, s^2 for fixed, with s^2
    the group's contrast over ``contrast_margin``'s region, the same for every period; the mean
    variance of the differences to the right and lower neighbour over the replica profile's own
    region for ``replica_x`` and ``replica_y``), so a squared depth is a ratio of means over
    pairs of different groups: mean <profile, profile'> / scale over mean (level level'), or for
    the parts in ``MEAN_LEVEL`` over the mean level (s^2 itself: the mean of unbiased contrasts,
    where a mean product of their square roots would read a fixed pattern too deep at small group
    sizes). ``scale[part]``: entries
    averaged over (D). ``period``: P. A part the images are too small for is absent."""

    profiles: dict[str, torch.Tensor]
    levels: dict[str, torch.Tensor]
    scale: dict[str, int]
    groups: int
    period: int

    @classmethod
    def merge(cls, patterns: list[GroupPatterns]) -> GroupPatterns:
        """The groups of several sets of the same kind as one set's (e.g. a large set in chunks)."""
        first = patterns[0]
        return cls({k: torch.cat([p.profiles[k] for p in patterns]) for k in first.profiles},
                   {k: torch.cat([p.levels[k] for p in patterns]) for k in first.levels},
                   first.scale, sum(p.groups for p in patterns), first.period)

    def octave(self, period: int) -> GroupPatterns:
        """The part of these P-periodic patterns that is ``period``-periodic and not ``period / 2``-
        periodic (``period`` a power of two, 2 .. P): the same groups and levels, every profile
        projected (``octave_projection``). The octaves 2, 4, .., P are orthogonal and add up to the
        whole, so their squared depths add up to the whole's, estimate by estimate."""
        if not (2 <= period <= self.period and self.period % period == 0 and period & (period - 1) == 0):
            raise ValueError(f"octave {period} of a {self.period}-periodic pattern: a power of two from 2 to {self.period}")
        return GroupPatterns({k: octave_projection(v, self.period, period) for k, v in self.profiles.items()},
                             self.levels, self.scale, self.groups, self.period)

    def parts(self) -> list[str]:
        """The parts of ``PARTS`` these patterns hold."""
        return [p for p in PARTS if all(sub in self.profiles for sub, _ in COMPOSITE.get(p, ((p, 1),)))]


def periodic_projection(profiles: torch.Tensor, period: int, q: int) -> torch.Tensor:
    """Profiles ``(K, C * P * P)`` of period P (flattened ``(C, P, P)``) projected onto the
    q-periodic ones (q divides P): every class replaced by the mean of the classes with the same
    phase modulo q. Orthogonal; ``q = 1`` leaves each channel's mean, ``q = P`` the profile."""
    k = profiles.shape[0]
    blocks = profiles.reshape(k, -1, period // q, q, period // q, q)  # (K, C, P/q, q, P/q, q)
    return blocks.mean(dim=(2, 4), keepdim=True).expand_as(blocks).reshape(k, -1)


def octave_projection(profiles: torch.Tensor, period: int, octave: int) -> torch.Tensor:
    """The octave part of profiles ``(K, C * P * P)``: q-periodic minus (q/2)-periodic, q = ``octave``."""
    return periodic_projection(profiles, period, octave) - periodic_projection(profiles, period, octave // 2)


class Moments(NamedTuple):
    """Per-pixel mean ``(...)`` and sum of squared deviations ``m2`` of ``count`` images: what a
    variance over the images is made of, merged over pieces of a group (Chan et al. 1979)."""

    count: int
    mean: torch.Tensor
    m2: torch.Tensor

    @classmethod
    def of(cls, t: torch.Tensor) -> Moments:
        """Of the images ``t`` ``(n, ...)``."""
        mean = t.mean(dim=0, keepdim=True)
        return cls(t.shape[0], mean[0], (t - mean).square().sum(dim=0))

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets of images together."""
        n = self.count + other.count
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * (other.count / n),
                       self.m2 + other.m2 + delta.square() * (self.count * other.count / n))

    @property
    def variance(self) -> torch.Tensor:
        """Unbiased variance over the images (written out: ``Tensor.var`` is tens of times slower
        over a short leading dimension on the CPU)."""
        return self.m2 / (self.count - 1)


@dataclass
class GroupMaps:
    """One group's per-pixel statistics ``(C, H, W)``, which every period's profiles are read from:
    the variance over its images of each image minus its own mean over the contrast's region, the
    mean image, and the variances of the differences to the right and lower neighbour (None where
    no period read needs the replica parts); ``contrast``: the variance's mean over that region."""

    variance: torch.Tensor
    mean: torch.Tensor
    contrast: torch.Tensor
    neighbours: tuple[torch.Tensor, torch.Tensor] | None


def _piece_moments(xs: torch.Tensor, replica: bool) -> list[Moments]:
    """Moments of a piece of a group ``(n, C, H, W)`` (float64): of each image minus its own mean over
    the contrast's region, of the images, and (``replica``) of the differences to the right and the
    lower neighbour, the padded column or row in every period's margins."""
    h, w = xs.shape[-2:]
    ch, cw = contrast_margin(h), contrast_margin(w)  # the contrast's region: one for every period
    own_mean = xs[..., ch:h - ch, cw:w - cw].mean(dim=(-2, -1), keepdim=True)  # each image's mean over the region
    out = [Moments.of(xs - own_mean), Moments.of(xs)]
    if replica:
        out += [Moments.of(F.pad(xs[..., :, 1:] - xs[..., :, :-1], (0, 1))),  # to the right neighbour
                Moments.of(F.pad(xs[..., 1:, :] - xs[..., :-1, :], (0, 0, 0, 1)))]  # to the lower one
    return out


def group_maps(xs: Iterable[torch.Tensor], replica: bool) -> GroupMaps:
    """``GroupMaps`` of a group's images, given in one or more pieces ``(n_i, C, H, W)`` (read and
    turned to float64 one at a time, their moments merged); memory of a few copies of a piece."""
    total = None
    for piece in xs:
        moments = _piece_moments(piece.double(), replica)
        total = moments if total is None else [a.merge(b) for a, b in zip(total, moments)]
        del moments
    variance = total[0].variance
    h, w = variance.shape[-2:]
    ch, cw = contrast_margin(h), contrast_margin(w)
    neighbours = (total[2].variance, total[3].variance) if replica else None
    return GroupMaps(variance, total[1].mean, variance[..., ch:h - ch, cw:w - cw].mean(), neighbours)


def _profiles(maps: GroupMaps, period: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One group's profiles ``(D,)`` and levels ``()`` per part at period P, as ``GroupPatterns`` holds them."""
    h, w = maps.variance.shape[-2:]
    mh = margin(period, h)
    profiles = {"phase": phase_profile(maps.variance, period, mh).flatten(),
                "fixed": phase_profile(maps.mean, period, mh).flatten()}
    levels = {"phase": 2 * maps.contrast, "fixed": maps.contrast}  # phase: relative to 2 s^2; fixed: to s (MEAN_LEVEL)
    if fits(period, h, w, "replica"):
        mr = margin(period, h, "replica")
        for part, diff_var in zip(("replica_x", "replica_y"), maps.neighbours):
            profiles[part] = phase_profile(diff_var, period, mr).flatten()
            # over the region the profile reads: nearest x2 reads 1 there even where the level changes
            # with position (a generator stage's zero-padded maps); the replica depth has its own unit
            levels[part] = diff_var[..., mr:h - mr, mr:w - mr].mean()
    return profiles, levels


def group_patterns(x: torch.Tensor, period: int, groups: int = DEPTH_GROUPS) -> GroupPatterns:
    """``GroupPatterns`` of an image set ``(N, C, H, W)`` at period P: ``min(groups, N // 2)`` groups of
    consecutive images (the images past the last complete group are left out). Needs N >= ``MIN_IMAGES``."""
    return patterns_by_period(x, [period], groups)[period]


def patterns_by_period(x: ImageSet, periods: list[int], groups: int = DEPTH_GROUPS,
                       progress: bool = False) -> dict[int, GroupPatterns]:
    """``group_patterns`` at every period of ``periods``, each group's ``GroupMaps`` computed once for
    all of them (the same numbers as one period at a time), from pieces of at most ``PIECE_VALUES``
    values (a lazy ``ImageSet`` is read a piece at a time). ``progress``: a bar over the groups."""
    if len(x.shape) != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    groups = min(groups, n // 2)
    if n < MIN_IMAGES:
        raise ValueError(f"depths need at least {MIN_IMAGES} images, got {n}")
    periods = list(dict.fromkeys(periods))  # each once
    for period in periods:
        if not fits(period, h, w):
            raise ValueError(f"{h}x{w} images are too small for depths at period {period}: the margins "
                             f"({margin(period, h)} px) leave fewer than {2 * period} rows or columns")
    size = n // groups
    step = max(1, PIECE_VALUES // (c * h * w))  # images read at a time within a group
    replica = any(fits(p, h, w, "replica") for p in periods)
    parts: dict[int, list] = {p: [] for p in periods}
    for k in tqdm(range(groups), desc="depths by group", unit="group", disable=None if progress else True, leave=False):
        maps = group_maps(pieces(x, step, k * size, (k + 1) * size), replica)  # a group at a time
        for p in periods:
            parts[p].append(_profiles(maps, p))
        del maps
        release_freed_memory(8 * min(size, step) * c * h * w)
    out = {}
    for p, found in parts.items():
        profiles = {part: torch.stack([f[0][part] for f in found]) for part in found[0][0]}
        levels = {part: torch.stack([f[1][part] for f in found]) for part in found[0][1]}
        out[p] = GroupPatterns(profiles, levels, {part: p * p * c for part in profiles}, groups, p)
    return out


# ---------------------------------------------------------------------------------------------
# Mean products over pairs of groups, with their leave-one-group-out versions


def within_pairs(v: torch.Tensor) -> torch.Tensor:
    """Mean inner product between rows of ``v`` ``(K, D)`` of different groups (never a row with
    itself), and its K leave-one-out versions: ``(K + 1,)``, all groups first."""
    k = v.shape[0]
    gram = v @ v.T
    off = gram - torch.diag(torch.diag(gram))
    total = off.sum()
    loo = (total - 2 * off.sum(dim=1)) / ((k - 1) * (k - 2))
    return torch.cat([(total / (k * (k - 1)))[None], loo])


def across_pairs(v: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean inner product over every pair (row of ``v`` ``(K, D)``, row of ``w`` ``(L, D)``), with the
    versions leaving out one row of ``v`` and one of ``w``: ``((K + 1,), (L + 1,))``, all first."""
    k, l = v.shape[0], w.shape[0]
    gram = v @ w.T
    total = gram.sum()
    mean = (total / (k * l))[None]
    return (torch.cat([mean, (total - gram.sum(dim=1)) / ((k - 1) * l)]),
            torch.cat([mean, (total - gram.sum(dim=0)) / (k * (l - 1))]))


def leave_one_out_means(v: torch.Tensor) -> torch.Tensor:
    """The mean of ``v`` ``(K,)`` and its K leave-one-out versions: ``(K + 1,)``."""
    return torch.cat([v.mean()[None], (v.sum() - v) / (v.numel() - 1)])


def jackknife_variance(values: torch.Tensor) -> float:
    """Jackknife variance from ``(K + 1,)``: the all-groups value and its K leave-one-out values."""
    loo = values[1:]
    k = loo.numel()
    return float((k - 1) / k * (loo - loo.mean()).square().sum())


def _squared(pat: GroupPatterns, part: str) -> torch.Tensor:
    """The squared depth of one part ``(K + 1,)``: all groups first, then leaving out each one."""
    if part in COMPOSITE:
        return sum(weight * _squared(pat, sub) for sub, weight in COMPOSITE[part])
    num = within_pairs(pat.profiles[part]) / pat.scale[part]
    den = leave_one_out_means(pat.levels[part]) if part in MEAN_LEVEL else within_pairs(pat.levels[part][:, None])
    return torch.where(den > 0, num / den.clamp_min(torch.finfo(den.dtype).tiny), torch.zeros_like(num))


def _normalised(pat: GroupPatterns, part: str) -> torch.Tensor:
    """Each group's profile over its own level, in the unit of the squared depth, ``(K, D)``: a
    squared depth is about the mean product of two different rows (a composite part: its parts
    side by side, each times the square root of its weight). Their spread is the sampling noise of
    the depth, the contrast's variation included."""
    if part in COMPOSITE:
        return torch.cat([math.sqrt(weight) * _normalised(pat, sub) for sub, weight in COMPOSITE[part]], dim=1)
    level = pat.levels[part][:, None].sqrt() if part in MEAN_LEVEL else pat.levels[part][:, None]
    return pat.profiles[part] / math.sqrt(pat.scale[part]) / torch.where(level > 0, level, torch.ones_like(level))


def spread_factor(v: torch.Tensor) -> torch.Tensor:
    """``A`` ``(K, D)`` with ``A' A`` the unbiased covariance of the rows of ``v`` ``(K, D)``: the
    centred rows over sqrt(K - 1). Traces, quadratic forms and tr(S S') are read off it in time
    and memory linear in D; the D x D matrix is never formed (D = C P^2 is 196608 at P = 256)."""
    return (v - v.mean(dim=0)) / math.sqrt(v.shape[0] - 1)


def noise_power(v: torch.Tensor, w: torch.Tensor | None = None) -> float:
    """Unbiased estimate of tr(S_v S_w) (``w`` None: tr(S_v^2)), S the covariance of the rows of
    ``v`` ``(K, D)`` and ``w`` ``(L, D)``: the variance of the degenerate part of a mean product
    between rows, i.e. of pure sampling noise. It is the U-statistic of the squared inner products
    of differences of rows with no row twice (expectation 4 tr(S_v S_w) whatever the rows' mean), in
    closed form: tr(S_v S_w) = |A_v A_w'|^2 (``spread_factor``) for two independent sets, and for
    one (Himeno & Yamada 2014)
    (K-1) / (K (K-2) (K-3)) ((K-1) (K-2) tr(S^2) + tr(S)^2 - K Q), Q = sum_i |v_i - mean|^4 / (K-1)."""
    if w is not None:
        return float((spread_factor(v) @ spread_factor(w).T).square().sum())
    k = v.shape[0]
    centred = v - v.mean(dim=0)
    gram = centred @ centred.T
    trace, square = gram.trace() / (k - 1), gram.square().sum() / (k - 1) ** 2
    fourth = gram.diagonal().square().sum() / (k - 1)
    return float((k - 1) / (k * (k - 2) * (k - 3)) * ((k - 1) * (k - 2) * square + trace ** 2 - k * fourth))


def along(mean: torch.Tensor, factor: torch.Tensor) -> float:
    """``m' C m / |m|^2`` with ``C = factor' factor`` (``factor`` ``(R, D)``): the variance of C along
    ``mean`` (its mean eigenvalue if ``mean`` is 0)."""
    norm = float(mean @ mean)
    return float((factor @ mean).square().sum()) / norm if norm > 0 else float(factor.square().sum()) / factor.shape[1]


def jackknife_excess_within(k: int) -> float:
    """How much the leave-one-group-out jackknife overstates the variance of a mean product between
    different rows of K rows, per unit of noise power: its degenerate part has variance
    2 tr(S^2) / (K (K - 1)), and the jackknife reads 4 tr(S^2) / (K (K - 2))."""
    return 4 / (k * (k - 2)) - 2 / (k * (k - 1))


def _variance(jack: float, excess: float, k: int) -> float:
    """The jackknife variance less its known excess, never below the share of it that remains when
    everything is sampling noise ((K - 2) / (2 (K - 1)))."""
    return max(jack - excess, jack * (k - 2) / (2 * (k - 1)))


def depths(pat: GroupPatterns) -> dict[str, Depth]:
    """Every part's ``Depth`` of one set (``NAN_DEPTH`` where the images are too small for it)."""
    out = {}
    k = pat.groups
    for part in PARTS:
        if part not in pat.parts():
            out[part] = NAN_DEPTH
            continue
        u, v = _squared(pat, part), _normalised(pat, part)
        power, factor = noise_power(v), spread_factor(v) / math.sqrt(k)  # the mean profile's covariance
        variance = _variance(jackknife_variance(u), jackknife_excess_within(k) * power, k)
        noise = Noise(variance, float(factor.square().sum()), power / k ** 2, along(v.mean(dim=0), factor))
        out[part] = depth_from_squared(float(u[0]), noise)
    return out


def _cross(g: GroupPatterns, r: GroupPatterns, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``<g, r>`` of one part, leaving out each group of g and each group of r: ``((K + 1,), (L + 1,))``."""
    if part in COMPOSITE:
        crosses = [(weight, _cross(g, r, sub)) for sub, weight in COMPOSITE[part]]
        return sum(w * c[0] for w, c in crosses), sum(w * c[1] for w, c in crosses)
    num_g, num_r = across_pairs(g.profiles[part], r.profiles[part])
    lg, lr = leave_one_out_means(g.levels[part]), leave_one_out_means(r.levels[part])
    if part in MEAN_LEVEL:  # s_g s_r from the mean contrasts
        lg, lr = lg.sqrt(), lr.sqrt()
    den_g, den_r = lg * lr[0], lg[0] * lr
    tiny = torch.finfo(den_g.dtype).tiny
    return (torch.where(den_g > 0, num_g / g.scale[part] / den_g.clamp_min(tiny), torch.zeros_like(num_g)),
            torch.where(den_r > 0, num_r / g.scale[part] / den_r.clamp_min(tiny), torch.zeros_like(num_r)))


def distance(g: GroupPatterns, r: GroupPatterns) -> dict[str, Depth]:
    """The distance between the P-periodic patterns of two sets ``g`` (generated) and ``r`` (the
    data), per part, as a ``Depth``: ``|g - r|^2 = <g,g> + <r,r> - 2 <g,r>``, each term unbiased
    (different groups within a set; the two sets are independent). The standard error is the
    jackknife over the groups of both sets, less its known excess on the sampling noise (each
    set's, as in ``depths``, and the cross product's), floored as in ``_variance`` with the
    smaller set's number of groups. tests/depths_reference.py computes all of it a second way."""
    if g.scale != r.scale:  # the same parts, each averaged over as many entries
        raise ValueError(f"the two sets must have the same channels, period and parts: {g.scale} against {r.scale}")
    out = {}
    k, l = g.groups, r.groups
    for part in PARTS:
        if part not in g.parts():  # nor, then, in r's
            out[part] = NAN_DEPTH
            continue
        ug, ur = _squared(g, part), _squared(r, part)
        xg, xr = _cross(g, r, part)
        leave_g = ug + ur[0] - 2 * xg  # (K + 1,): all, then leaving out each group of g
        leave_r = ug[0] + ur - 2 * xr  # (L + 1,): leaving out each group of r
        vg, vr = _normalised(g, part), _normalised(r, part)
        # the jackknife over both sets reads 2 tr(S_g S_r) / (K L) for the cross product's noise, which is
        # half that; -2 <g, r> carries it four times
        excess = (jackknife_excess_within(k) * noise_power(vg) + jackknife_excess_within(l) * noise_power(vr)
                  + 4 * noise_power(vg, vr) / (k * l))
        jack = jackknife_variance(leave_g) + jackknife_variance(leave_r)
        factor = torch.cat([spread_factor(vg) / math.sqrt(k), spread_factor(vr) / math.sqrt(l)])  # cov_g/K + cov_r/L
        noise = Noise(_variance(jack, excess, min(k, l)), float(factor.square().sum()),
                      noise_power(vg) / k ** 2 + noise_power(vr) / l ** 2 + 2 * noise_power(vg, vr) / (k * l),
                      along(vg.mean(dim=0) - vr.mean(dim=0), factor))
        out[part] = depth_from_squared(float(leave_g[0]), noise)
    return out


def phase_depths(x: torch.Tensor, period: int = 2, groups: int = DEPTH_GROUPS) -> dict[str, Depth]:
    """Every part's ``Depth`` of an image set ``(N, C, H, W)`` at period P (see the module docstring)."""
    return depths(group_patterns(x, period, groups))
