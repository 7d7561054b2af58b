"""Every number the suite reports about images: its meaning, direction and how it is computed.

``REGISTRY`` holds one ``Metric`` per number (or per family: ``{p}`` a period, ``{i}`` a generator
stage), each with its function: ``fn`` reads one set's statistics (``gan.measure.imagestats``) and
optionally a reference set's, per period; ``measure`` reads the evaluated ``Sample`` (images, stages,
network, detector images) against the evaluation's cached reference and returns a family's numbers at
once (SWD with its levels, FID with KID, the detectors, the stage depths). ``gan.measure.evaluation``
calls every one of them; adding a metric is one function and one ``register`` line. The names are
``gan.measure.names``'. ``detail`` entries (the superseded dB detectors, the parts per period) are
computed only on request (``eval.detail``).
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import torch

from gan.data.imageset import ImageSet, head, on_device
from gan.measure import depths as D
from gan.measure import detectors, fid, spectral
from gan.measure.detectors import DETECTORS
from gan.measure.imagestats import SpectralStats
from gan.measure.names import (CE, CE_FIXED, DC_CHECKERBOARD, DEPTH_PARTS, FID, KID, PHASE_SPREAD, SATURATION,
                               SATURATION_REAL, SPECTRAL_DISTANCE, SWD, SWD_LEVEL, base_name, excess_name, grid_name,
                               octave_name, periods_for, real_name, se_name, stage_name)
from gan.model.convmath import dc_checkerboard, dc_response

#: Equivalence margins, fixed before the comparisons they serve: two upsamplers whose 90% rank
#: interval of the difference lies within +-2 points of contrast (a depth) or +-0.01 (a detector's
#: AUC, about one evaluation's DeLong standard error near 0.95 on 256 + 256 images) are equivalent.
DEPTH_MARGIN, AUC_MARGIN = 0.02, 0.01


@dataclass(frozen=True)
class Metric:
    """One reported number. ``name`` may hold ``{p}`` (one value per checkerboard period).
    ``fn(fake, real, period, f_min)`` computes it from statistics; an entry without ``fn`` has a
    ``measure`` that computes its family from the sample (SWD, FID, ...). ``higher_is_worse`` is
    None where no direction applies (a property of the data);
    ``positive``: a ratio-scale quantity (intervals on the log scale), not a difference or dB."""

    name: str
    description: str
    higher_is_worse: bool | None
    positive: bool = True
    needs_reference: bool = False
    percent: bool = False  # a fraction shown as a percentage (the depths)
    part: str | None = None  # the gan.measure.depths part it reads: reported only where the images fit it
    octave: bool = False  # ``{p}`` is an octave of the whole grid: reported for p up to the grid's period
    margin: float = math.nan  # equivalence margin of two groups' difference, in its unit (NaN: none; gan.study.stats.compare)
    detail: bool = False  # computed only with eval.detail (superseded or per-part numbers no table reads)
    fn: Callable[[SpectralStats, SpectralStats | None, int | None, float], float] | None = None
    #: ``measure(evaluation, sample) -> {name: value}``: a family computed at once from the sample
    #: (``evaluation``: the ``gan.measure.evaluation.Evaluator`` with the cached reference)
    measure: Callable[[Any, "Sample"], dict[str, float]] | None = None

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

    return (Metric(name, description, True, detail=True, fn=lambda f, r, p, _: value(f, p)),
            Metric(real_name(name), f"{description}, on real images", None, needs_reference=True, detail=True,
                   fn=lambda f, r, p, _: value(r, p)),
            Metric(excess_name(name), f"dB of {name} above the data (floor: {spectral.FLOOR_DB:g} dB re white noise)",
                   True, positive=False, needs_reference=True, detail=True, fn=excess))


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
    """A signed depth (``gan.measure.depths`` part ``part``) on generated images, its standard error, on the
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

    # per period, the content-following and fixed parts are detail: the whole grid's carry them
    kind = dict(percent=True, part=part, octave=octave, margin=DEPTH_MARGIN,
                detail=scope == "period" and part in ("phase", "fixed"))
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


#: A detector's numbers (``gan.measure.detectors.Detection`` field -> name suffix, description, higher is worse,
#: positive: a ratio-scale quantity).
_DETECTOR_NUMBERS = {
    "auc": ("_auc", "held-out AUC of the {d} detector, generated vs real (0.5: not told apart; gan.measure.detectors)", True,
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
    """The numbers of detector ``name``, computed at a run's last evaluation (``_detectability``)."""
    return tuple(Metric(f"detect/{name}{suffix}", text.format(d=name), worse, positive=positive, needs_reference=True,
                        margin=AUC_MARGIN if field == "auc" else math.nan, measure=_detectability)
                 for field, (suffix, text, worse, positive) in _DETECTOR_NUMBERS.items())


# ---------------------------------------------------------------------------------------------
# Numbers of the sample itself (``measure``): each function returns its family's numbers at once,
# or nothing where the sample or the evaluation lacks what it reads


@dataclass
class Sample:
    """What one evaluation reads of one generator: ``images`` ``(N, C, S, S)`` and their statistics;
    optionally its stage outputs ``[(N, C_i, S_i, S_i), ...]``, its network (an ``Upsampler``-holding
    generator) and images for the published detectors ``(M, C, S, S)``."""

    images: ImageSet
    stats: SpectralStats
    stages: list[torch.Tensor] | None = None
    generator: torch.nn.Module | None = None
    detector_images: ImageSet | None = None


def _swd(ev, s: Sample) -> dict[str, float]:
    return ev.swd(head(s.images, ev.swd_count)) if ev.swd is not None else {}


def _fid(ev, s: Sample) -> dict[str, float]:
    return fid.fid_kid(ev.real_images, s.images[:].cpu(), ev.fid_weights, str(ev.device)) if ev.fid_weights else {}


def _stages(ev, s: Sample) -> dict[str, float]:
    return stage_depths(s.stages, ev.detail) if s.stages is not None else {}


def _layers(ev, s: Sample) -> dict[str, float]:
    return layer_checkerboard(s.generator) if s.generator is not None else {}


def _detectability(ev, s: Sample) -> dict[str, float]:
    if s.detector_images is None or ev.detector_real is None:
        return {}
    ev.detections = detectors.detectability(on_device(s.detector_images, torch.device("cpu")), ev.detector_real,
                                            seed=ev.seed)
    return detector_numbers(ev.detections)


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
    Metric(SWD, "multi-scale sliced Wasserstein distance x 1e3 (Karras et al. 2018)", True, needs_reference=True,
           measure=_swd),
    Metric(SWD_LEVEL, "sliced Wasserstein distance x 1e3 at one Laplacian pyramid level", True, needs_reference=True,
           measure=_swd),
    Metric(FID, "Frechet Inception distance (torch-fidelity)", True, needs_reference=True, measure=_fid),
    Metric(KID, "kernel Inception distance (torch-fidelity)", True, needs_reference=True, measure=_fid),
    Metric(DC_CHECKERBOARD, "per generator stage: spread of the polyphase DC responses relative to their mean",
           True, positive=False, measure=_layers),
    Metric(stage_name("{i}", DEPTH_PARTS["total"]), "depth of generator stage i's output feature maps at period P "
           "(every part with eval.detail): where in the generator a pattern is born", True, positive=False,
           percent=True, measure=_stages),
    *(m for name in DETECTORS for m in _detector_family(name)),
)


#: A depth (a fraction of the images' contrast) is shown in % of the contrast: the one scaling of the suite.
PERCENT = 100.0


def units(metric: str) -> tuple[float, str]:
    """How ``metric``'s numbers are shown, (scale, unit): ``percent`` entries (the depths) in %."""
    info = find(metric)
    return (PERCENT, "%") if info is not None and info.percent else (1.0, "")


def number_text(metric: str, value: float, spec: str = ".3g", unit: str | None = None) -> str:
    """One number as shown: ``number_text(HEADLINE, 0.25, ".1f")`` -> ``25.0%`` (``unit``: another word
    than ``units``', e.g. `` points`` for a difference of depths)."""
    scale, shown = units(metric)
    return f"{scale * value:{spec}}{shown if unit is None or not shown else unit}"


@functools.lru_cache(maxsize=None)
def find(name: str) -> Metric | None:
    """The registry entry of a concrete name (``checkerboard/p4`` -> the ``checkerboard/p{p}`` entry;
    ``last/NAME``, ``ema/NAME`` and ``stageI/NAME`` are NAME's)."""
    name = base_name(name)
    for m in REGISTRY:
        pattern = re.escape(m.name).replace(r"\{p\}", r"\d+").replace(r"\{i\}", r"\d+").replace(r"\{size\}", r"\d+")
        if re.fullmatch(pattern, name):
            return m
    return None


def register(metric: Metric) -> Metric:
    """Add ``metric`` to ``REGISTRY``: every evaluation computes it from then on, and logging,
    summaries and dashboards find it by name."""
    global REGISTRY
    REGISTRY = (*REGISTRY, metric)
    find.cache_clear()
    return metric


def measures() -> list[Callable[[Any, Sample], dict[str, float]]]:
    """Every registered ``measure`` function, once each, in registry order."""
    return list(dict.fromkeys(m.measure for m in REGISTRY if m.measure is not None))


def compute(stats: SpectralStats, reference: SpectralStats | None = None, f_min: float = 0.0,
            detail: bool = True) -> dict[str, float]:
    """Flat metrics of ``stats``: every registered spectral metric (``fn``), per period where it has
    one; those that need a reference (real data) only when ``reference`` is given; ``detail`` entries
    only with ``detail``."""
    out: dict[str, float] = {}
    usable = [m for m in REGISTRY if m.fn is not None and (reference is not None or not m.needs_reference)
              and (detail or not m.detail)]
    for p in stats.ce:
        for m in usable:
            if m.per_period and m.applies(stats, p):
                out[m.name.format(p=p)] = m.fn(stats, reference, p, f_min)
    for m in usable:
        if not m.per_period and m.applies(stats, None):
            out[m.name] = m.fn(stats, reference, None, f_min)
    return out


def detector_numbers(found: dict) -> dict[str, float]:
    """``gan.measure.detectors.detectability``'s results (detector name -> ``Detection``) as flat named numbers."""
    return {f"detect/{name}{suffix}": getattr(d, field) for name, d in found.items()
            for field, (suffix, *_) in _DETECTOR_NUMBERS.items()}


def stage_depths(outputs: list[torch.Tensor], detail: bool = True) -> dict[str, float]:
    """The depths (every part with ``detail``, else the total; with standard errors) of each generator
    stage's output feature maps ``[(N, C_i, S_i, S_i), ...]`` at every period of its resolution (``periods_for``), as
    ``stageI/NAME/pP``: where in the generator a pattern is born and whether later stages keep it
    (a pattern of stage I at period P is one of period 2P after the next x2 stage)."""
    out = {}
    for i, x in enumerate(outputs):
        fitting = [p for p in periods_for(*x.shape[-2:]) if D.fits(p, *x.shape[-2:])] if x.shape[0] >= D.MIN_IMAGES else []
        for p, patterns in (D.patterns_by_period(x, fitting) if fitting else {}).items():  # each group's maps once
            for part, depth in D.depths(patterns).items():
                if not D.fits(p, *x.shape[-2:], part) or not (detail or part == "total"):
                    continue
                name = DEPTH_PARTS[part].format(p=p)
                out[stage_name(i, name)], out[stage_name(i, se_name(name))] = depth.value, depth.se
    return out


def layer_checkerboard(G) -> dict[str, float]:
    """``dc_checkerboard/stageI``: how far each upsampler of generator ``G`` is from mapping a constant
    input to a constant output (0 = checkerboard-free at DC; see ``gan.model.convmath.dc_checkerboard``)."""
    values = torch.stack([dc_checkerboard(dc_response(up, up.in_channels)) for up in G.upsampling_layers()])
    return {DC_CHECKERBOARD.format(i=i): v for i, v in enumerate(values.tolist())}  # one host sync
