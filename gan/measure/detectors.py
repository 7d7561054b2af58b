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

from gan.data.imageset import ImageSet, pieces
from gan.measure import spectral
from gan.measure.imagestats import chunk_size

#: Pixels of one set that ``gan.analyze`` gives the detectors (``max_images``): their features take
#: up to 4 bytes a pixel per set (Frank's DCT), 0.5 GB here: 128 images of 1024 px, 2048 of 256 px.
MAX_PIXELS = 2**27


def max_images(h: int, w: int) -> int:
    """The most images of ``h x w`` per set that ``gan.analyze`` gives the detectors (``MAX_PIXELS``;
    never fewer than the 32 it asks of each set)."""
    return max(32, MAX_PIXELS // (h * w))


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


def in_chunks(parts: list[tuple[ImageSet, np.ndarray]], spectrum: Callable[[torch.Tensor], np.ndarray]) -> np.ndarray:
    """``spectrum`` of ``images[rows]`` for each ``(images (N, C, H, W), rows (k,))`` of ``parts``, one
    after the other, a chunk of images at a time (``imagestats.chunk_size``): ``(sum k, F)`` float32.
    The working memory is a chunk's; the result is 4 bytes per feature."""
    total = sum(len(rows) for _, rows in parts)
    out, at = None, 0
    for images, rows in parts:
        step = chunk_size(tuple(images.shape[1:]))
        for i in range(0, len(rows), step):
            values = spectrum(images[torch.as_tensor(rows[i:i + step], dtype=torch.long)])
            if out is None:
                out = np.empty((total, values.shape[1]), dtype=np.float32)
            out[at:at + len(values)] = values
            at += len(values)
    return out


@dataclass(frozen=True)
class Detector:
    """A published detector's features: a non-negative spectrum per image and the log it is read in."""

    spectrum: Callable[[torch.Tensor], np.ndarray]
    log: Callable[..., np.ndarray]

    def spectra_of(self, parts: list[tuple[torch.Tensor, np.ndarray]]) -> np.ndarray:
        """``in_chunks`` with this detector's spectrum."""
        return in_chunks(parts, self.spectrum)

    def spectra(self, x: torch.Tensor) -> np.ndarray:
        """``(N, C, H, W) -> (N, F)`` float32: the spectrum of each image."""
        return self.spectra_of([(x, np.arange(len(x)))])

    def features(self, x: torch.Tensor, floor: float | None = None) -> np.ndarray:
        """``(N, C, H, W) -> (N, F)`` float32: the log of the spectrum plus ``floor`` (the reference
        set's ``log_floor``; default: these images' own)."""
        values = self.spectra(x)
        return self.logged(values, log_floor(values) if floor is None else floor)

    def logged(self, spectra: np.ndarray, floor: float) -> np.ndarray:
        """``log(spectra + floor)``, in place; ``floor`` a number (``log_floor``)."""
        np.add(spectra, float(floor), out=spectra)
        return self.log(spectra, out=spectra)


def log_floor(*spectra: np.ndarray) -> float:
    """``LOG_FLOOR`` times the mean of the reference set's spectra (one or more blocks ``(N_i, F)``;
    ``BLANK_FLOOR`` if it is 0)."""
    mean = sum(float(s.sum(dtype=np.float64)) for s in spectra) / sum(s.size for s in spectra)
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


#: The classifier's stopping tolerance and its iterations at most: tight, so that the fit is the
#: penalised optimum itself, the same in any basis of the features (scikit-learn's default, 1e-4 on
#: the largest gradient component, stops where that component happens to lie).
TOLERANCE = 1e-8
MAX_ITER = 10_000
#: Feature values (images x features) standardised at a time while the Gram matrices are summed.
GRAM_CHUNK_VALUES = 2**22


def column_chunks(rows: int, columns: int) -> list[slice]:
    """Slices of ``range(columns)`` holding about ``GRAM_CHUNK_VALUES`` values of ``rows`` rows each."""
    step = max(1, GRAM_CHUNK_VALUES // max(1, rows))
    return [slice(i, min(columns, i + step)) for i in range(0, columns, step)]


def standardised(features: np.ndarray, cols: slice, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Columns ``cols`` of ``features`` ``(m, F)`` standardised by per-feature ``mean`` and ``scale``
    ``(F,)``: ``(m, len(cols))`` float64."""
    return (features[:, cols] - mean[cols]) / scale[cols]


@dataclass(frozen=True)
class Span:
    """Standardised training features ``(n, F)`` in an orthonormal basis of their own rows' span.

    An L2-penalised linear model's weights lie in the span of its (standardised) training rows, and
    both its loss and its penalty are the same in any orthonormal basis of that span: fitted on the
    ``(n, r)`` coordinates ``rows`` it is the model fitted on all F features, whatever F is, at the
    cost of n x n. ``train``: the training features (held, not copied); ``mean``/``scale``:
    scikit-learn's ``StandardScaler`` of them (ddof 0; a constant feature is only centred);
    ``basis``: ``(n, r)``, the span's basis vectors are ``standardised(train).T @ basis``."""

    train: np.ndarray
    rows: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray

    @classmethod
    def of(cls, train: np.ndarray) -> Span:
        """From training features ``(n, F)``: one pass of column chunks for the Gram matrix."""
        n = len(train)
        mean, scale = np.empty(train.shape[1]), np.empty(train.shape[1])
        gram = np.zeros((n, n))
        for cols in column_chunks(n, train.shape[1]):
            block = train[:, cols].astype(np.float64)
            mean[cols], scale[cols] = block.mean(axis=0), block.std(axis=0)
            scale[cols][scale[cols] < 10 * np.finfo(np.float64).eps] = 1.0
            block = standardised(train, cols, mean, scale)
            gram += block @ block.T
        values, vectors = np.linalg.eigh(gram)
        keep = values > values.max(initial=0.0) * n * np.finfo(np.float64).eps
        basis = vectors[:, keep] / np.sqrt(values[keep])  # U L^(-1/2): rows' coordinates are gram @ basis
        if not keep.any():  # every feature constant: one coordinate, 0 for every row (the fit is its intercept)
            basis = np.zeros((n, 1))
        return cls(train, gram @ basis, mean, scale, basis)

    def coordinates(self, features: np.ndarray) -> np.ndarray:
        """Other rows' features ``(m, F)`` in the span's basis: ``(m, r)``."""
        cross = np.zeros((len(features), len(self.train)))
        for cols in column_chunks(len(self.train) + len(features), self.train.shape[1]):
            cross += standardised(features, cols, self.mean, self.scale) @ standardised(
                self.train, cols, self.mean, self.scale).T
        return cross @ self.basis

    def weights(self, coefficients: np.ndarray) -> np.ndarray:
        """A model's coefficients in the span ``(r,)`` as weights per standardised feature ``(F,)``."""
        mix = self.basis @ coefficients  # (n,)
        out = np.empty(self.train.shape[1])
        for cols in column_chunks(len(self.train), self.train.shape[1]):
            out[cols] = mix @ standardised(self.train, cols, self.mean, self.scale)
        return out


def detect(fake: ImageSet, real: ImageSet, detector: Detector, seed: int = 0) -> Detection:
    """Train on one half of ``fake`` ``(N, C, H, W)`` and of ``real`` ``(M, C, H, W)``, test on the
    other halves (see the module docstring), both sets' features on the floor of ``real``'s images in
    the halves (all of them, or all but one where M is odd). Needs at
    least 16 images of each, all finite; a blank (constant) set is told apart perfectly from a
    set that is not. The classifier is fitted in the span of its training rows (``Span``): the
    same model as on every feature, in memory that grows with the features only once (float32)."""
    if min(len(fake), len(real)) < 16:
        raise ValueError(f"detectors need at least 16 images of each set, got {len(fake)} and {len(real)}")
    for name, x in (("generated", fake), ("reference", real)):
        if not all(bool(torch.isfinite(part).all()) for part in pieces(x, chunk_size(tuple(x.shape[1:])))):
            raise ValueError(f"detectors need finite pixels: the {name} images hold NaN or Inf")
    rng = np.random.default_rng(seed)
    (f_train, f_test), (r_train, r_test) = halves(len(fake), rng), halves(len(real), rng)
    # rows in the order train (fake, real), test (fake, real): the two halves are views, never copies
    x = detector.spectra_of([(fake, f_train), (real, r_train), (fake, f_test), (real, r_test)])
    n_train = len(f_train) + len(r_train)
    train, test = x[:n_train], x[n_train:]
    detector.logged(x, log_floor(train[len(f_train):], test[len(f_test):]))
    y_train = np.concatenate([np.ones(len(f_train)), np.zeros(len(r_train))])
    span = Span.of(train)
    model = LogisticRegressionCV(Cs=8, cv=5, scoring="neg_log_loss", max_iter=MAX_ITER, tol=TOLERANCE, random_state=seed)
    with warnings.catch_warnings():  # scikit-learn's notices of future defaults; the settings used are explicit
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(span.rows, y_train)
    scores = model.decision_function(span.coordinates(test))
    score_f, score_r = scores[:len(f_test)], scores[len(f_test):]
    auc, se = auc_delong(score_f, score_r)
    low, high = auc_interval(auc, se)
    correct = int((score_f > 0).sum() + (score_r <= 0).sum())
    n = len(score_f) + len(score_r)
    ci = stats.binomtest(correct, n).proportion_ci(CONFIDENCE, method="exact")
    return Detection(auc, se, low, high, correct / n, ci.low, ci.high, n, span.weights(model.coef_[0]))


def detectability(fake: ImageSet, real: ImageSet, seed: int = 0) -> dict[str, Detection]:
    """Every detector of ``DETECTORS`` on the same images."""
    return {name: detect(fake, real, detector, seed) for name, detector in DETECTORS.items()}
