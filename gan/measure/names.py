"""Names of every number the suite reports, and the rules that build them: one owner, so a number is
called the same in TensorBoard, metrics.jsonl, ``gan.summarize``, ``gan.analyze`` and the figures.

What each number means and how it is computed is the registry's (``gan.measure.metrics``); a run's records
and its headline are ``gan.run.records``'.
"""
from __future__ import annotations

import re

from gan.measure import depths as D
from gan.measure import spectral
from gan.measure.detectors import DETECTORS

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
#: A published detector's held-out result at a run's last evaluation (``gan.measure.detectors``):
#: ``detect/frank_auc``, its standard error and 95% interval, and the accuracy.
DETECTOR_AUC = "detect/{d}_auc"
DETECTOR_ACCURACY = "detect/{d}_accuracy"
# Grid-only depths (``gan.measure.depths``), fractions of the images' contrast (0.03 = 3%): NAME/pP
# (generated), NAME_real/pP (the data), NAME_excess/pP (the distance between the generated and the
# data's P-periodic patterns) and NAME_se/pP, NAME_excess_se/pP (standard errors of one evaluation).
DEPTH = "checkerboard_depth/p{p}"
PHASE_DEPTH = "phase_depth/p{p}"
FIXED_DEPTH = "fixed_depth/p{p}"
REPLICA_DEPTH = "replica_depth/p{p}"
#: The depth family of each part of ``gan.measure.depths``.
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


def base_name(name: str) -> str:
    """The registered name under a prefix: ``last/NAME``, ``ema/NAME`` and ``stageI/NAME`` -> ``NAME``."""
    name = name.removeprefix(LAST_PREFIX).removeprefix(EMA_PREFIX)
    return name[_STAGE.match(name).end():] if _STAGE.match(name) else name


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
#: table: the depths first (whole grid, content-following, fixed, P = 2, replica), then spectra,
#: quality, and the published detectors' AUC (at the last evaluation).
SUMMARY = (HEADLINE, PHASE_HEADLINE, FIXED_HEADLINE, P2_HEADLINE, REPLICA_HEADLINE, SPECTRAL_DISTANCE, SWD,
           *(DETECTOR_AUC.format(d=name) for name in DETECTORS))
#: The numbers whose differences between upsamplers ``gan.summarize`` tests (rank test, Holm): the
#: depths, and how detectable the images are to the published detectors.
COMPARED = (HEADLINE, PHASE_HEADLINE, FIXED_HEADLINE, P2_HEADLINE, REPLICA_HEADLINE,
            *(DETECTOR_AUC.format(d=name) for name in DETECTORS))


def periods_for(height: int, width: int | None = None) -> list[int]:
    """Checkerboard periods for ``height x width`` images: the powers of two P >= 2 that divide
    both sides, up to a quarter of the shorter side (the total upsampling factor of a DCGAN
    generator that starts at 4x4: 2, 4, 8 for 32x32)."""
    width = height if width is None else width
    return [p for p in spectral.periods_up_to(min(height, width) // 4) if height % p == 0 and width % p == 0]


def left_out(height: int, width: int, max_period: int | None = None) -> dict[int, str]:
    """The periods of ``periods_for`` (and beyond, up to ``max_period``) that are not read at
    ``height x width``, each with why."""
    why = {}
    for p in spectral.periods_up_to(max(max_period or 0, min(height, width) // 4)):
        if height % p or width % p:
            why[p] = f"{height}x{width} px is not divisible by {p}"
        elif max_period is not None and p > max_period:
            why[p] = f"above --max-period {max_period}"
        elif p > min(height, width) // 4:
            why[p] = "above a quarter of the side (a generator that starts at 4x4 has no larger period)"
        elif not D.fits(p, height, width):
            why[p] = f"its depths need {2 * p} rows and columns inside the {D.margin(p, height)} px margins"
    return why


def grid_period(height: int, width: int | None = None) -> int | None:
    """The whole grid's period: the largest of ``periods_for`` whose depths fit the images (2^L for
    the 4 * 2^L px images of a DCGAN generator with L x2 stages: 8 at 32 px, 16 at 64 px); None
    where no period fits."""
    width = height if width is None else width
    return max((p for p in periods_for(height, width) if D.fits(p, height, width)), default=None)


#: ``eval.generator``: whose numbers are a run's headline, convergence and comparison: the trained
#: generator's, or its exponential moving average's (``train.ema``), logged under ``ema/``.
GENERATORS = {"raw": "", "ema": EMA_PREFIX}


def of_generator(names: str | tuple[str, ...], generator: str = "raw") -> str | tuple[str, ...]:
    """``of_generator(HEADLINE, "ema")`` -> ``ema/checkerboard_depth_excess/p2`` (a tuple maps each)."""
    if isinstance(names, str):
        return GENERATORS[generator] + names
    return tuple(GENERATORS[generator] + n for n in names)


#: The numbers whose plateau says a run has converged: image quality and the headline.
CONVERGENCE = (SWD, HEADLINE)
