"""Every number the suite reports about images: names, meaning, direction, and how each is computed.

``image_stats`` reduces a set of images to what the spectral metrics need (per-image CE_P, the
fixed-pattern CE_P, the mean power spectrum); ``compute`` turns one set's statistics, and
optionally a reference set's, into flat named numbers (``checkerboard/p2``,
``checkerboard_excess_db/p2``, ``spectral/distance``, ...) through ``REGISTRY``. Training
(``gan.evaluation``), ``gan.analyze``, ``gan.summarize`` and the figure scripts take names and
periods from here, so a number means the same everywhere. Image quality (SWD, FID) is computed in
``gan.swd`` and ``gan.fid`` under the names defined here.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from scipy.stats import linregress
from scipy.stats import t as student_t

from gan import depths as D
from gan import spectral
from gan.convmath import dc_checkerboard, dc_response
from gan.detectors import DETECTORS

# Names; "{p}" is a checkerboard period, "{i}" a generator stage, "{size}" a pyramid level. A family
# of positive quantities is reported three ways: NAME/pP (generated), NAME_real/pP (the data) and
# NAME_excess_db/pP = 10 log10((generated + floor) / (real + floor)).
CE = "checkerboard/p{p}"
CE_EXCESS_DB = "checkerboard_excess_db/p{p}"
CE_FIXED = "checkerboard_fixed/p{p}"
PHASE_SPREAD = "phase_spread/p{p}"
SPECTRAL_DISTANCE = "spectral/distance"
SATURATION = "saturation/generated"
SATURATION_REAL = "saturation/real"
SWD = "quality/swd"
SWD_LEVEL = "quality/swd_level_{size}"
FID = "quality/fid"
KID = "quality/kid"
DC_CHECKERBOARD = "dc_checkerboard/stage{i}"
#: A published detector's held-out result at a run's last evaluation (``gan.detectors``):
#: ``detect/frank_auc``, its standard error and 95% interval, and the accuracy.
DETECTOR_AUC = "detect/{d}_auc"
DETECTOR_ACCURACY = "detect/{d}_accuracy"
# Grid-only depths (``gan.depths``), fractions of the images' contrast (0.03 = 3%): NAME/pP
# (generated), NAME_real/pP (the data), NAME_excess/pP (the distance between the generated and the
# data's P-periodic patterns) and NAME_se/pP, NAME_excess_se/pP (standard errors of one evaluation).
DEPTH = "checkerboard_depth/p{p}"
PHASE_DEPTH = "phase_depth/p{p}"
FIXED_DEPTH = "fixed_depth/p{p}"
REPLICA_DEPTH = "replica_depth/p{p}"
#: The depth family of each part of ``gan.depths``.
DEPTH_PARTS = {"total": DEPTH, "phase": PHASE_DEPTH, "fixed": FIXED_DEPTH, "replica": REPLICA_DEPTH}
#: The whole grid: a depth family's numbers of the 2^L-periodic pattern that holds every period a
#: generator of L x2 stages leaves (``grid_period``), by a name that is the same at any image size:
#: ``checkerboard_depth_excess/grid``.
GRID = "grid"
#: One octave of the whole grid: the part of it that is P-periodic and not P/2-periodic (P = 2: the
#: last stage's x2; P = 2^L: the first stage's), ``checkerboard_depth_excess/octave8``. The squares
#: of the octaves add up to the square of the whole.
OCTAVE = "octave{p}"

#: Prefixes of other kinds of numbers under the same names: the generator's exponential moving
#: average (train.ema), the last evaluation of a run (its headline is the window mean), the final
#: numbers in HParams, and the training statistics.
EMA_PREFIX = "ema/"
LAST_PREFIX = "last/"
FINAL_PREFIX = "final/"
TRAIN_PREFIX = "train/"
LOSS_D, LOSS_G = f"{TRAIN_PREFIX}loss_D", f"{TRAIN_PREFIX}loss_G"
D_REAL, D_FAKE = f"{TRAIN_PREFIX}D_real", f"{TRAIN_PREFIX}D_fake"
#: The key of a metrics.jsonl record that marks a replica frozen after a NaN/Inf.
DIVERGED = "diverged"
#: The depths of generator stage I's output feature maps: ``stage0/checkerboard_depth/p2``.
STAGE_PREFIX = "stage{i}/"
_STAGE = re.compile(r"stage\d+/")


def grid_name(name: str) -> str:
    """``checkerboard_depth/p{p}`` -> ``checkerboard_depth/grid``."""
    return f"{name.partition('/')[0]}/{GRID}"


def octave_name(name: str) -> str:
    """``checkerboard_depth/p{p}`` -> ``checkerboard_depth/octave{p}``."""
    return f"{name.partition('/')[0]}/{OCTAVE}"


def stage_name(stage: int, name: str) -> str:
    """``stage_name(1, "phase_depth/p2")`` -> ``stage1/phase_depth/p2``."""
    return STAGE_PREFIX.format(i=stage) + name


def real_name(name: str) -> str:
    """``checkerboard/p2`` -> ``checkerboard_real/p2``."""
    family, _, period = name.partition("/")
    return f"{family}_real/{period}"


def excess_name(name: str, unit: str = "_db") -> str:
    """``checkerboard/p2`` -> ``checkerboard_excess_db/p2`` (``unit=""``: ``checkerboard_excess/p2``)."""
    family, _, period = name.partition("/")
    return f"{family}_excess{unit}/{period}"


def se_name(name: str) -> str:
    """``phase_depth/p2`` -> ``phase_depth_se/p2``: the standard error of one evaluation's value."""
    family, _, period = name.partition("/")
    return f"{family}_se/{period}"


#: The number a sweep ranks upsamplers by, and the default Hydra ``objective``: the distance of
#: the whole grid's pattern (every period the generator's stages leave) from the data's.
HEADLINE = grid_name(excess_name(DEPTH, ""))
#: Its two parts: the pattern that follows the content and the one fixed in every sample.
PHASE_HEADLINE = grid_name(excess_name(PHASE_DEPTH, ""))
FIXED_HEADLINE = grid_name(excess_name(FIXED_DEPTH, ""))
#: The P = 2 pattern alone (the last stage's grid; the headline before the whole grid).
P2_HEADLINE = excess_name(DEPTH, "").format(p=2)
#: What resampling leaves (nearest, bilinear x2): the replica depth's distance from the data's, at
#: P = 2 (the whole grid's is there only where the images have room for it).
REPLICA_HEADLINE = excess_name(REPLICA_DEPTH, "").format(p=2)
#: The headline's octaves (``OCTAVE``), one name per period: ``octave_headline(8)``.
OCTAVE_HEADLINE = octave_name(excess_name(DEPTH, ""))
#: The numbers of a run's closing summary and HParams row, and the columns of ``gan.summarize``'s
#: table: the depths first (whole grid, content-following, fixed, P = 2, replica), then the dB
#: detectors, spectra, quality, and the published detectors' AUC (at the last evaluation).
SUMMARY = (HEADLINE, PHASE_HEADLINE, FIXED_HEADLINE, P2_HEADLINE, REPLICA_HEADLINE, CE_EXCESS_DB.format(p=2),
           excess_name(PHASE_SPREAD).format(p=2), SPECTRAL_DISTANCE, SWD,
           *(DETECTOR_AUC.format(d=name) for name in DETECTORS))
#: The numbers whose differences between upsamplers ``gan.summarize`` tests (Welch, Holm).
COMPARED = (HEADLINE, PHASE_HEADLINE, FIXED_HEADLINE, P2_HEADLINE, REPLICA_HEADLINE)


def periods_for(height: int, width: int | None = None) -> list[int]:
    """Checkerboard periods for ``height x width`` images: the powers of two P >= 2 that divide
    both sides, up to a quarter of the shorter side (the total upsampling factor of a DCGAN
    generator that starts at 4x4: 2, 4, 8 for 32x32)."""
    width = height if width is None else width
    return [p for p in spectral.periods_up_to(min(height, width) // 4) if height % p == 0 and width % p == 0]


def grid_period(height: int, width: int | None = None) -> int | None:
    """The whole grid's period: the largest of ``periods_for`` whose depths fit the images (2^L for
    the 4 * 2^L px images of a DCGAN generator with L x2 stages: 8 at 32 px, 16 at 64 px); None
    where no period fits."""
    width = height if width is None else width
    return max((p for p in periods_for(height, width) if D.fits(p, height, width)), default=None)


# ---------------------------------------------------------------------------------------------
# Statistics of an image set


@dataclass
class SpectralStats:
    """Statistics of N images ``(N, C, H, W)``."""

    ce: dict[int, torch.Tensor]          # period -> CE_P per image, (N,)
    ce_pooled: dict[int, float]          # period -> sum of P-periodic energy / sum of mean-free energy
    ce_periodic: dict[int, torch.Tensor]  # period -> CE_P of the periodic component per image, (N,)
    ce_fixed: dict[int, float]           # period -> CE_P of the mean image (mean over groups)
    phase_spread: dict[int, float]       # period -> PS_P of the pooled moments (mean over groups)
    depths: dict[int, dict[str, D.Depth]]  # period -> part (gan.depths.PARTS) -> depth with SE and interval
    patterns: dict[int, D.GroupPatterns | None]  # period -> what depths and distances are computed from
    grid: int | None                     # the whole grid's period (grid_period), None where no depth fits
    saturation: float                    # share of values at tanh's limits (before any treatment)
    mean_power: torch.Tensor             # (H, W) batch-mean power spectrum, unshifted
    n: int
    group: int                           # images per group in the set statistics (ce_fixed, phase_spread)
    distances: dict = field(default_factory=dict, repr=False)  # (id of the reference, period) -> distances
    octaves: dict = field(default_factory=dict, repr=False)  # octave period -> depths of that octave

    def octave_depths(self, period: int) -> dict[str, D.Depth]:
        """Per part, the depths of the whole grid's octave at ``period`` (computed once)."""
        if period not in self.octaves:
            self.octaves[period] = D.depths(self.patterns[self.grid].octave(period))
        return self.octaves[period]

    @property
    def radial(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(freqs (K,), profile (K,)) of the mean power, out to the corner."""
        return spectral.radial_profile(self.mean_power)

    @property
    def log_spectrum(self) -> torch.Tensor:
        """(H, W) log10 mean power, DC at the centre."""
        return spectral.mean_log_spectrum(self.mean_power[None])

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.mean_power.shape[-2:])


def image_stats(images: torch.Tensor, periods: list[int], window: str = "none", channels: str = "mean",
                residual: bool = False, boundary: str = "none", saturation: str = "none", group: int | None = None,
                batch_size: int = 1024) -> SpectralStats:
    """Reduce ``images`` ``(N, C, H, W)`` (any device) to ``SpectralStats``, ``batch_size`` at a time.

    ``window``, ``channels``, ``residual`` and ``boundary`` shape the power spectrum; the CE values
    follow their exact definitions (``gan.spectral``). ``saturation="atanh"`` measures everything
    but the saturation share on ``spectral.pre_tanh(images)``. ``group``: the statistics of a whole
    set (fixed-pattern CE, phase spread) are means over consecutive groups of that many images, so
    a reference set is compared at the generated set's sample count (default: all N at once).
    """
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch (N, C, H, W), got shape {tuple(images.shape)}")
    if saturation not in spectral.SATURATION_TREATMENTS:
        raise ValueError(f"saturation must be one of {', '.join(spectral.SATURATION_TREATMENTS)}, got {saturation!r}")
    n = images.shape[0]
    group = min(group or n, n)
    ce: dict[int, list[torch.Tensor]] = {p: [] for p in periods}
    ce_periodic: dict[int, list[torch.Tensor]] = {p: [] for p in periods}
    moments: dict[int, list[torch.Tensor]] = {p: [] for p in periods}
    counts: dict[int, torch.Tensor] = {}
    pooled_num: dict[int, Any] = {p: 0.0 for p in periods}
    pooled_den: Any = 0.0
    power_sum: Any = 0.0
    saturated: Any = 0.0
    for chunk in images.split(batch_size):  # everything stays on the images' device until the end
        chunk = chunk.float() if chunk.dtype not in (torch.float32, torch.float64) else chunk
        saturated = saturated + spectral.saturation_share(chunk) * len(chunk)
        if saturation == "atanh":
            chunk = spectral.pre_tanh(chunk)
        nums, energy = spectral.periodic_energies(chunk, periods)
        nums_periodic, _ = spectral.periodic_energies(spectral.periodic_component(chunk), periods)
        for p, v in spectral.energy_shares(chunk, nums, energy).items():
            ce[p].append(v)
            pooled_num[p] = pooled_num[p] + nums[p].sum()
        for p, v in spectral.energy_shares(chunk, nums_periodic, energy).items():
            ce_periodic[p].append(v)
        products, terms = spectral.lag_products(chunk.double())  # shared by every period
        for p in periods:
            moments[p].append(spectral.phase_sums(products, p))
            counts[p] = spectral.phase_sums(terms, p)
        pooled_den = pooled_den + energy.sum()
        power_sum = power_sum + spectral.half_power_spectrum(chunk, window, channels, residual, boundary).sum(dim=0)
    whole = n // group * group  # images in complete groups
    treated = spectral.pre_tanh(images.float()) if saturation == "atanh" else images.float()
    mean_images = treated[:whole].reshape(n // group, group, *images.shape[1:]).mean(dim=1)
    fixed = spectral.checkerboard_energies(mean_images, periods)
    patterns = {p: D.group_patterns(treated, p) if D.fits(p, *images.shape[-2:]) and n >= D.MIN_IMAGES else None
                for p in periods}  # unbiased at any N: all images
    spread = {}
    for p in periods:
        per_group = torch.cat(moments[p])[:whole].reshape(n // group, group, *counts[p].shape).sum(dim=1)
        spread[p] = torch.stack([spectral.phase_spread_of(g, counts[p] * group) for g in per_group]).mean()
    host = _to_host({  # one wait for the device, after all the work is queued
        "ce": {p: torch.cat(v) for p, v in ce.items()}, "ce_periodic": {p: torch.cat(v) for p, v in ce_periodic.items()},
        "pooled": {p: torch.as_tensor(pooled_num[p]) / torch.as_tensor(pooled_den) for p in periods},
        "den": torch.as_tensor(pooled_den), "fixed": {p: v.mean() for p, v in fixed.items()}, "spread": spread,
        "saturation": torch.as_tensor(saturated) / n, "power": spectral.full_spectrum(power_sum / n, images.shape[-1]),
    })
    return SpectralStats(
        ce=host["ce"],
        ce_pooled={p: float(v) if float(host["den"]) > 0 else 0.0 for p, v in host["pooled"].items()},
        ce_periodic=host["ce_periodic"],
        ce_fixed={p: float(v) for p, v in host["fixed"].items()},
        phase_spread={p: float(v) for p, v in host["spread"].items()},
        depths={p: D.depths(pat) if pat is not None else dict.fromkeys(D.PARTS, D.NAN_DEPTH)
                for p, pat in patterns.items()},
        patterns=patterns,
        grid=grid_period(*images.shape[-2:]) if n >= D.MIN_IMAGES else None,
        saturation=float(host["saturation"]),
        mean_power=host["power"],
        n=n,
        group=group,
    )


def _to_host(tree: Any) -> Any:
    """Every tensor of a nested dict on the CPU."""
    if isinstance(tree, dict):
        return {k: _to_host(v) for k, v in tree.items()}
    return tree.cpu() if isinstance(tree, torch.Tensor) else tree


# ---------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Metric:
    """One reported number. ``name`` may hold ``{p}`` (one value per checkerboard period).
    ``fn(fake, real, period, f_min)`` computes it from statistics (None: computed elsewhere, e.g.
    SWD). ``higher_is_worse`` is None where no direction applies (a property of the data);
    ``positive``: a ratio-scale quantity (intervals on the log scale), not a difference or dB."""

    name: str
    description: str
    higher_is_worse: bool | None
    positive: bool = True
    needs_reference: bool = False
    percent: bool = False  # a fraction shown as a percentage (the depths)
    part: str | None = None  # the gan.depths part it reads: reported only where the images fit it
    octave: bool = False  # ``{p}`` is an octave of the whole grid: reported for p up to the grid's period
    fn: Callable[[SpectralStats, SpectralStats | None, int | None, float], float] | None = None

    @property
    def per_period(self) -> bool:
        return "{p}" in self.name

    def applies(self, stats: SpectralStats, period: int | None) -> bool:
        """Whether images of ``stats``' size have room for this metric at ``period`` (None: at the
        whole grid, for a depth of ``GRID``)."""
        if self.part is None:
            return True
        if self.octave:
            return stats.grid is not None and period <= stats.grid
        period = stats.grid if period is None else period
        return period is not None and D.fits(period, *stats.size, self.part)


def _family(name: str, description: str, value: Callable[[SpectralStats, int], float]) -> tuple[Metric, ...]:
    """A positive per-period quantity on generated images, on the data, and the excess in dB."""
    def excess(f: SpectralStats, r: SpectralStats, p: int, _f_min: float) -> float:
        floor = spectral.ce_floor(p, *f.size)
        return float(spectral.excess_db(value(f, p), value(r, p), floor))

    return (Metric(name, description, True, fn=lambda f, r, p, _: value(f, p)),
            Metric(real_name(name), f"{description}, on real images", None, needs_reference=True,
                   fn=lambda f, r, p, _: value(r, p)),
            Metric(excess_name(name), f"dB of {name} above the data (floor: {spectral.FLOOR_DB:g} dB re white noise)",
                   True, positive=False, needs_reference=True, fn=excess))


def _distance(f: SpectralStats, r: SpectralStats, p: int, octave: bool = False) -> dict[str, D.Depth]:
    """Per part, the distance between the generated and the data's P-periodic patterns (``octave``:
    of the whole grid's octave at P), computed once per pair of sets and period."""
    key = (id(r), p, octave)
    if key not in f.distances:
        grid = f.grid if octave else p
        pf, pr = f.patterns.get(grid), r.patterns.get(grid)
        if pf is None or pr is None:
            f.distances[key] = dict.fromkeys(D.PARTS, D.NAN_DEPTH)
        else:
            f.distances[key] = D.distance(pf.octave(p), pr.octave(p)) if octave else D.distance(pf, pr)
    return f.distances[key]


def _depth_family(part: str, description: str, scope: str = "period") -> tuple[Metric, ...]:
    """A signed depth (``gan.depths`` part ``part``) on generated images, its standard error, on the
    data, and the distance between the two sets' patterns with its standard error; ``scope``: per
    period (``NAME/pP``), of the whole grid (``NAME/grid``) or per octave of it (``NAME/octaveP``)."""
    name = {"period": DEPTH_PARTS[part], "grid": grid_name(DEPTH_PARTS[part]),
            "octave": octave_name(DEPTH_PARTS[part])}[scope]
    excess = excess_name(name, unit="")
    octave = scope == "octave"

    def depth(stats: SpectralStats, p: int | None) -> D.Depth:
        if octave:
            return stats.octave_depths(p)[part]
        return stats.depths[stats.grid if p is None else p][part]

    def distance(f: SpectralStats, r: SpectralStats, p: int | None) -> D.Depth:
        return _distance(f, r, f.grid if p is None else p, octave)[part]

    kind = dict(percent=True, part=part, octave=octave)
    return (Metric(name, description, True, positive=False, fn=lambda f, r, p, _: depth(f, p).value, **kind),
            Metric(se_name(name), f"standard error of {name} (jackknife over groups of images)", None,
                   fn=lambda f, r, p, _: depth(f, p).se, **kind),
            Metric(real_name(name), f"{description}, on real images", None, positive=False, needs_reference=True,
                   fn=lambda f, r, p, _: depth(r, p).value, **kind),
            Metric(excess, f"distance between the generated and the data's patterns of {name} (the generated "
                   "depth when the data have none)", True, positive=False, needs_reference=True,
                   fn=lambda f, r, p, _: distance(f, r, p).value, **kind),
            Metric(se_name(excess), f"standard error of {excess}", None, needs_reference=True,
                   fn=lambda f, r, p, _: distance(f, r, p).se, **kind))


def _spectral_distance(fake: SpectralStats, real: SpectralStats, _p: int | None, f_min: float) -> float:
    freqs, profile = fake.radial
    floor = float(real.mean_power.mean()) * 10 ** (spectral.FLOOR_DB / 10)
    return float(spectral.spectral_distance(profile, real.radial[1], freqs, f_min, floor))


#: A detector's numbers (``gan.detectors.Detection`` field -> name suffix, description, higher is worse,
#: positive: a ratio-scale quantity).
_DETECTOR_NUMBERS = {
    "auc": ("_auc", "held-out AUC of the {d} detector, generated vs real (0.5: not told apart; gan.detectors)", True,
            False),
    "auc_se": ("_auc_se", "DeLong standard error of the {d} detector's AUC", None, True),
    "auc_low": ("_auc_low", "lower end of the 95% interval of the {d} detector's AUC", None, False),
    "auc_high": ("_auc_high", "upper end of the 95% interval of the {d} detector's AUC", None, False),
    "accuracy": ("_accuracy", "held-out accuracy of the {d} detector", True, False),
    "accuracy_low": ("_accuracy_low", "lower end of the exact 95% interval of the {d} detector's accuracy", None,
                     False),
    "accuracy_high": ("_accuracy_high", "upper end of the exact 95% interval of the {d} detector's accuracy", None,
                      False),
}


def _detector_family(name: str) -> tuple[Metric, ...]:
    """The numbers of detector ``name``, computed at a run's last evaluation (``detector_numbers``)."""
    return tuple(Metric(f"detect/{name}{suffix}", text.format(d=name), worse, positive=positive, needs_reference=True)
                 for suffix, text, worse, positive in _DETECTOR_NUMBERS.values())


REGISTRY: tuple[Metric, ...] = (
    *_depth_family("total", "depth of the whole grid's pattern: every period the generator's x2 stages leave "
                   "(2^L-periodic), a fraction of the images' contrast", scope="grid"),
    *_depth_family("phase", "the whole grid's pattern that follows the content", scope="grid"),
    *_depth_family("fixed", "the whole grid's pattern at the same place in every sample", scope="grid"),
    *_depth_family("replica", "the whole grid's replica depth", scope="grid"),
    *_depth_family("total", "depth of one octave of the whole grid's pattern: P-periodic and not P/2-periodic "
                   "(one generator stage's grid, seen in the image)", scope="octave"),
    *_depth_family("total", "depth of the whole P-periodic pattern, sqrt(phase_depth^2 + fixed_depth^2), "
                   "a fraction of the images' contrast"),
    *_depth_family("phase", "equivalent modulation depth of a P-periodic pattern that follows the "
                   "content (x + a (x - mean x) c reads a), from the variance map away from the border"),
    *_depth_family("fixed", "RMS amplitude of the P-periodic part of the mean image, over the "
                   "images' RMS contrast (a pattern at the same place in every sample)"),
    *_depth_family("replica", "RMS relative change of the variance of neighbour differences across the P x P "
                   "phases (what resampling leaves: 1 when every other difference vanishes, as after nearest x2)"),
    *_family(CE, "CE_P: share of the mean-free image energy that is exactly P-periodic, mean over images",
             lambda s, p: float(s.ce[p].mean())),
    *_family(CE_FIXED, "CE_P of the mean generated image (mean over groups of the evaluated sample count): "
             "artifacts at the same place in every sample", lambda s, p: s.ce_fixed[p]),
    *_family("checkerboard_pooled/p{p}", "energy-weighted CE_P: P-periodic energy over mean-free energy, "
             "both summed over the images", lambda s, p: s.ce_pooled[p]),
    *_family("checkerboard_periodic/p{p}", "CE_P without boundary leakage: P-periodic energy of Moisan's "
             "periodic component over the image's mean-free energy, mean over images",
             lambda s, p: float(s.ce_periodic[p].mean())),
    *_family(PHASE_SPREAD, "PS_P: spread of the local second moments across the P x P phase classes, pooled over "
             "the images (content-following checkerboards, spectral replicas)", lambda s, p: s.phase_spread[p]),
    Metric(SATURATION, "share of generated values within half an 8-bit step of +-1", None, positive=False,
           fn=lambda f, r, p, _: f.saturation),
    Metric(SATURATION_REAL, "share of real values within half an 8-bit step of +-1", None, positive=False,
           needs_reference=True, fn=lambda f, r, p, _: r.saturation),
    Metric(SPECTRAL_DISTANCE, "mean |log10 P_fake - log10 P_real| over radial profile bins f >= f_min (decades)",
           True, needs_reference=True, fn=_spectral_distance),
    Metric(SWD, "multi-scale sliced Wasserstein distance x 1e3 (Karras et al. 2018)", True, needs_reference=True),
    Metric(SWD_LEVEL, "sliced Wasserstein distance x 1e3 at one Laplacian pyramid level", True, needs_reference=True),
    Metric(FID, "Frechet Inception distance (torch-fidelity)", True, needs_reference=True),
    Metric(KID, "kernel Inception distance (torch-fidelity)", True, needs_reference=True),
    Metric(DC_CHECKERBOARD, "per generator stage: spread of the polyphase DC responses relative to their mean",
           True, positive=False),
    *(m for name in DETECTORS for m in _detector_family(name)),
)


@functools.lru_cache(maxsize=None)
def find(name: str) -> Metric | None:
    """The registry entry of a concrete name (``checkerboard/p4`` -> the ``checkerboard/p{p}`` entry;
    ``last/NAME``, ``ema/NAME`` and ``stageI/NAME`` are NAME's)."""
    name = name.removeprefix(LAST_PREFIX).removeprefix(EMA_PREFIX)
    name = name[_STAGE.match(name).end():] if _STAGE.match(name) else name
    for m in REGISTRY:
        pattern = re.escape(m.name).replace(r"\{p\}", r"\d+").replace(r"\{i\}", r"\d+").replace(r"\{size\}", r"\d+")
        if re.fullmatch(pattern, name):
            return m
    return None


def compute(stats: SpectralStats, reference: SpectralStats | None = None, f_min: float = 0.0) -> dict[str, float]:
    """Flat metrics of ``stats``: every registered spectral metric, per period where it has one;
    those that need a reference (real data) only when ``reference`` is given."""
    out: dict[str, float] = {}
    usable = [m for m in REGISTRY if m.fn is not None and (reference is not None or not m.needs_reference)]
    for p in stats.ce:
        for m in usable:
            if m.per_period and m.applies(stats, p):
                out[m.name.format(p=p)] = m.fn(stats, reference, p, f_min)
    for m in usable:
        if not m.per_period and m.applies(stats, None):
            out[m.name] = m.fn(stats, reference, None, f_min)
    return out


def detector_numbers(name: str, found) -> dict[str, float]:
    """A ``gan.detectors.Detection`` of detector ``name`` as flat named numbers."""
    return {f"detect/{name}{suffix}": getattr(found, field) for field, (suffix, *_) in _DETECTOR_NUMBERS.items()}


def stage_depths(outputs: list[torch.Tensor]) -> dict[str, float]:
    """The depths (every part, with its standard error) of each generator stage's output feature maps
    ``[(N, C_i, S_i, S_i), ...]`` at every period of its resolution (``periods_for``), as
    ``stageI/NAME/pP``: where in the generator a pattern is born and whether later stages keep it
    (a pattern of stage I at period P is one of period 2P after the next x2 stage)."""
    out = {}
    for i, x in enumerate(outputs):
        for p in periods_for(*x.shape[-2:]):
            found = D.phase_depths(x, p) if D.fits(p, *x.shape[-2:]) and x.shape[0] >= D.MIN_IMAGES else {}
            for part, depth in found.items():
                if not D.fits(p, *x.shape[-2:], part):
                    continue
                name = DEPTH_PARTS[part].format(p=p)
                out[stage_name(i, name)], out[stage_name(i, se_name(name))] = depth.value, depth.se
    return out


def layer_checkerboard(G) -> dict[str, float]:
    """``dc_checkerboard/stageI``: how far each upsampler of generator ``G`` is from mapping a constant
    input to a constant output (0 = checkerboard-free at DC; see ``gan.convmath.dc_checkerboard``)."""
    values = torch.stack([dc_checkerboard(dc_response(up, up.in_channels)) for up in G.upsampling_layers()])
    return {DC_CHECKERBOARD.format(i=i): v for i, v in enumerate(values.tolist())}  # one host sync


def is_evaluation(record: dict) -> bool:
    """Whether a metrics.jsonl record is an evaluation (not a training-loss line)."""
    return CE.format(p=2) in record


def last_values(record: dict) -> dict[str, Any]:
    """An evaluation record's numbers as ``last/NAME`` (a run's final numbers keep its last
    evaluation beside the headline)."""
    return {f"{LAST_PREFIX}{k}": v for k, v in record.items() if k != "step"}


def headline_records(records: list[dict], window: float) -> list[dict]:
    """The evaluations a run's headline averages: those in the last ``window`` of the steps it
    trained (up to its last evaluation; ``window = 0``: the last one), diverged ones left out."""
    evaluations = [r for r in records if is_evaluation(r) and not r.get(DIVERGED)]
    if not evaluations:
        return []
    start = evaluations[-1]["step"] * (1 - window)
    return [r for r in evaluations if r["step"] >= start and r["step"] > 0] or evaluations[-1:]


def run_headline(records: list[dict], window: float) -> dict[str, float]:
    """A run's headline numbers from its evaluation records: per metric, the mean over the
    evaluations of ``headline_records`` (geometric for positive quantities, which keeps it
    consistent with their excess in dB). One evaluation moves by several dB from the next, their
    mean much less."""
    chosen = headline_records(records, window)
    if not chosen:
        return {}
    out = {}
    for key, last in chosen[-1].items():
        if key == "step" or isinstance(last, bool) or not isinstance(last, (int, float)):
            continue
        values = [float(r[key]) for r in chosen if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        if not values:
            continue
        info = find(key)
        if info is not None and info.positive and min(values) > 0:
            out[key] = math.exp(sum(math.log(v) for v in values) / len(values))
        else:
            out[key] = sum(values) / len(values)
    return out


def describe(numbers: dict[str, Any], generator: str = "raw") -> str:
    """The headline in words: ``the whole grid's pattern (P=8) 30.1% of the contrast away from the
    data's (SE 0.8 points, the sampling of one evaluation), by octave 5.2% at P=2, 10.3% at P=4,
    28.0% at P=8; 20.1% following the content, 22.4% fixed; at P=2 alone 5.3%, 23.3% replicas``."""
    def value(name: str) -> float:
        v = numbers.get(of_generator(name, generator), math.nan)
        return float(v) if isinstance(v, (int, float)) else math.nan

    whole = value(HEADLINE)
    if math.isnan(whole):
        return "no depths (no evaluation with a reference)"
    octave = re.compile(re.escape(of_generator(OCTAVE_HEADLINE, generator)).replace(r"\{p\}", r"(\d+)") + "$")
    octaves = sorted((int(m.group(1)), float(v)) for k, v in numbers.items() if (m := octave.match(k)))
    se = value(se_name(HEADLINE))
    pm = f" (SE {100 * se:.2g} points, the sampling of one evaluation)" if math.isfinite(se) else ""
    grid = f" (P={octaves[-1][0]})" if octaves else ""
    by = ", by octave " + ", ".join(f"{100 * v:.1f}% at P={p}" for p, v in octaves) if octaves else ""
    replica = value(REPLICA_HEADLINE)
    replica_text = f", {100 * replica:.1f}% replicas" if math.isfinite(replica) else ""
    whose = " of the weight average" if generator == "ema" else ""
    return (f"the whole grid's pattern{grid}{whose} {100 * whole:.1f}% of the contrast away from the data's{pm}{by}; "
            f"{100 * value(PHASE_HEADLINE):.1f}% following the content, {100 * value(FIXED_HEADLINE):.1f}% fixed; "
            f"at P=2 alone {100 * value(P2_HEADLINE):.1f}%{replica_text}")


#: The numbers whose plateau says a run has converged: image quality and the headline.
CONVERGENCE = (SWD, HEADLINE)
#: ``eval.generator``: whose numbers are a run's headline, convergence and comparison: the trained
#: generator's, or its exponential moving average's (``train.ema``), logged under ``ema/``.
GENERATORS = {"raw": "", "ema": EMA_PREFIX}


def of_generator(names: str | tuple[str, ...], generator: str = "raw") -> str | tuple[str, ...]:
    """``of_generator(HEADLINE, "ema")`` -> ``ema/checkerboard_depth_excess/p2`` (a tuple maps each)."""
    if isinstance(names, str):
        return GENERATORS[generator] + names
    return tuple(GENERATORS[generator] + n for n in names)


@dataclass(frozen=True)
class Plateau:
    """The change of one metric over a run's headline window: slope x window length from a least
    squares line through its evaluations, with the 95% t-interval (scipy.stats.linregress)."""

    metric: str
    change: float
    low: float
    high: float
    n: int

    @property
    def flat(self) -> bool:
        """Whether no trend is seen: the interval of the change holds 0."""
        return self.low <= 0 <= self.high


def plateau(records: list[dict], window: float, metric: str) -> Plateau | None:
    """``Plateau`` of ``metric`` over the evaluations of ``headline_records``; None with fewer than 3."""
    points = [(r["step"], float(r[metric])) for r in headline_records(records, window)
              if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
    if len(points) < 3 or len({s for s, _ in points}) < 2:
        return None
    steps, values = zip(*points)
    fit = linregress(steps, values)
    span = steps[-1] - steps[0]
    half = student_t.ppf(0.975, len(points) - 2) * fit.stderr * span
    return Plateau(metric, fit.slope * span, fit.slope * span - half, fit.slope * span + half, len(points))


def plateaus(records: list[dict], window: float, generator: str = "raw") -> list[Plateau]:
    """``plateau`` of each metric of ``CONVERGENCE`` (of ``generator``) that has enough evaluations to tell."""
    return [p for m in of_generator(CONVERGENCE, generator) if (p := plateau(records, window, m)) is not None]


def all_flat(found: list[Plateau]) -> bool | None:
    """The convergence rule: True when none of ``found`` shows a trend; None when it is empty."""
    return all(p.flat for p in found) if found else None


def converged(records: list[dict], window: float, generator: str = "raw") -> bool | None:
    """A run has converged when none of ``CONVERGENCE`` (of ``generator``) shows a trend over its
    headline window; None when it has too few evaluations there to tell."""
    return all_flat(plateaus(records, window, generator))
