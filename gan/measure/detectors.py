"""Published spectrum-based detectors of generated images, implemented from their definitions, and
how well each tells a set of generated images from the data.

* ``frank``: Frank et al. (ICML 2020), a linear classifier on the log magnitude of the 2-D DCT
  (type II, orthonormal) of each image's luma, every coefficient standardised.
* ``durall``: Durall et al. (CVPR 2020), a linear classifier on the azimuthal average of each
  image's log power spectrum (luma, DC left out; ``gan.measure.spectral.radial_profile``'s bins, out to the
  corners).

``detect(fake, real)`` splits each set into two disjoint halves at random, trains an L2-regularised
logistic regression on one half of each (its strength, one of 8 on a log grid, chosen by the log
loss of 5-fold cross-validation on that half only: scikit-learn's ``LogisticRegressionCV``) and
reports on the other half: the AUC with DeLong's standard error and a 95% interval on the logit
scale, and the accuracy at the classifier's own threshold with its exact (Clopper-Pearson)
interval. Real against real reads 0.5.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy import fft as sfft
from scipy import stats
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gan.measure import spectral

#: Coverage of the reported intervals.
CONFIDENCE = 0.95
#: Added to magnitudes and powers before the log, relative to the reference set's mean (no log of
#: 0); the same floor for both sets, so that it cannot tell them apart (a blank set's features sit on it).
LOG_FLOOR = 1e-8
#: The floor where the reference set is blank too (its mean is 0).
BLANK_FLOOR = 1e-30


def luma(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W) -> (N, H, W)``: BT.601 luma of RGB, the channel itself of one, else the channel mean."""
    if x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
        return (x * w[None, :, None, None]).sum(dim=1)
    return x.mean(dim=1)


def dct_magnitudes(x: torch.Tensor) -> np.ndarray:
    """Frank et al.: ``(N, C, H, W) -> (N, H * W)``, |DCT-II| (orthonormal) of each image's luma."""
    return np.abs(sfft.dctn(luma(x.double()).cpu().numpy(), type=2, norm="ortho", axes=(-2, -1))).reshape(len(x), -1)


def azimuthal_powers(x: torch.Tensor) -> np.ndarray:
    """Durall et al.: ``(N, C, H, W) -> (N, K)``, the azimuthally averaged power spectrum of each
    image's luma (DC left out, bins out to the corners)."""
    _, profile = spectral.radial_profile(spectral.power_spectrum(luma(x.double())[:, None]))  # (N, K)
    return profile.cpu().numpy()


@dataclass(frozen=True)
class Detector:
    """A published detector's features: a non-negative spectrum per image and the log it is read in."""

    spectrum: Callable[[torch.Tensor], np.ndarray]
    log: Callable[[np.ndarray], np.ndarray]

    def features(self, x: torch.Tensor, reference: np.ndarray | None = None) -> np.ndarray:
        """``(N, C, H, W) -> (N, F)``: the log of the spectrum plus the floor of ``reference`` (the
        reference set's spectra; default: these images' own)."""
        values = self.spectrum(x)
        return self.log(values + log_floor(values if reference is None else reference))


def log_floor(reference: np.ndarray) -> float:
    """``LOG_FLOOR`` times the mean of the reference set's spectra (``BLANK_FLOOR`` if it is 0)."""
    mean = float(np.mean(reference))
    return LOG_FLOOR * mean if mean > 0 else BLANK_FLOOR


#: Detector name -> its features.
DETECTORS: dict[str, Detector] = {"frank": Detector(dct_magnitudes, np.log), "durall": Detector(azimuthal_powers, np.log10)}


@dataclass(frozen=True)
class Detection:
    """One detector's held-out result: AUC and accuracy with their 95% intervals, the test sizes,
    and the trained weights per feature (in standardised units: which features give it away)."""

    auc: float
    auc_se: float
    auc_low: float
    auc_high: float
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    n_test: int
    weights: np.ndarray


def auc_delong(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """The AUC (Mann-Whitney: P(score of a positive > a negative's), ties half) of scores ``(m,)``
    and ``(n,)``, with DeLong's standard error (the variances of the two sets' placement values)."""
    greater = (positive[:, None] > negative[None, :]) + 0.5 * (positive[:, None] == negative[None, :])
    auc = float(greater.mean())
    se = math.sqrt(greater.mean(axis=1).var(ddof=1) / len(positive) + greater.mean(axis=0).var(ddof=1) / len(negative))
    return auc, se


def auc_interval(auc: float, se: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """``auc +- z se`` on the logit scale (inside (0, 1)); the point itself where the SE is 0 (test
    halves separated perfectly: the accuracy's exact interval, reported beside it, then bounds it)."""
    if se <= 0 or not 0 < auc < 1:
        return auc, auc
    z = stats.norm.ppf(0.5 + confidence / 2)
    centre, half = math.log(auc / (1 - auc)), z * se / (auc * (1 - auc))
    return 1 / (1 + math.exp(-(centre - half))), 1 / (1 + math.exp(-(centre + half)))


def halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``range(n)`` into two disjoint halves (train, test)."""
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2: 2 * (n // 2)]


def detect(fake: torch.Tensor, real: torch.Tensor, detector: Detector, seed: int = 0) -> Detection:
    """Train on one half of ``fake`` ``(N, C, H, W)`` and of ``real`` ``(M, C, H, W)``, test on the
    other halves (see the module docstring), both sets' features on the floor of ``real``. Needs at
    least 16 images of each, all finite; a blank (constant) set is told apart perfectly from a
    set that is not."""
    if min(len(fake), len(real)) < 16:
        raise ValueError(f"detectors need at least 16 images of each set, got {len(fake)} and {len(real)}")
    for name, x in (("generated", fake), ("reference", real)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"detectors need finite pixels: the {name} images hold NaN or Inf")
    rng = np.random.default_rng(seed)
    reference = detector.spectrum(real)
    f, r = detector.features(fake, reference), detector.features(real, reference)
    (f_train, f_test), (r_train, r_test) = halves(len(f), rng), halves(len(r), rng)
    x_train = np.concatenate([f[f_train], r[r_train]])
    y_train = np.concatenate([np.ones(len(f_train)), np.zeros(len(r_train))])
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=8, cv=5, scoring="neg_log_loss", max_iter=2000,
                                                                 random_state=seed))
    with warnings.catch_warnings():  # scikit-learn's notices of future defaults; the settings used are explicit
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(x_train, y_train)
    score_f, score_r = model.decision_function(f[f_test]), model.decision_function(r[r_test])
    auc, se = auc_delong(score_f, score_r)
    low, high = auc_interval(auc, se)
    correct = int((score_f > 0).sum() + (score_r <= 0).sum())
    n = len(score_f) + len(score_r)
    ci = stats.binomtest(correct, n).proportion_ci(CONFIDENCE, method="exact")
    weights = model[-1].coef_[0]
    return Detection(auc, se, low, high, correct / n, ci.low, ci.high, n, weights)


def detectability(fake: torch.Tensor, real: torch.Tensor, seed: int = 0) -> dict[str, Detection]:
    """Every detector of ``DETECTORS`` on the same images."""
    return {name: detect(fake, real, detector, seed) for name, detector in DETECTORS.items()}
