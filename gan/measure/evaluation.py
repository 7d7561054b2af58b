"""One evaluation of generated images against real ones, with the real side computed once.

``Evaluator(dataset, cfg, device)`` caches the real images' statistics (and SWD's sorted
projections); calling it on one generator's samples returns an ``Evaluation``: every number of the
evaluation by its registered name (``gan.measure.metrics``: the depths and distances, the dB detectors,
the spectral distance, SWD/FID, with the generator's stage outputs their depths, with detector
samples the published detectors' results) plus the statistics that figures are drawn from. This
is the one place an evaluation's numbers are computed; it draws and logs nothing itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from gan.data.loading import sample_images
from gan.measure import detectors, fid, metrics
from gan.measure import names as N
from gan.measure.imagestats import SpectralStats, image_stats
from gan.measure.swd import SlicedWasserstein

log = logging.getLogger(__name__)

#: The real images and SWD projections of the reference do not depend on the run's seed: every seed
#: (and every replica of a packed job) is measured against the same data.
REFERENCE_SEED = 0


@dataclass
class Evaluation:
    metrics: dict[str, float]
    fake: SpectralStats
    real: SpectralStats


class Evaluator:
    """Real statistics cached at construction; ``__call__(fake (N, C, S, S)) -> Evaluation``."""

    def __init__(self, dataset, cfg, device: torch.device | str = "cpu"):
        e = cfg.eval
        self.options = dict(window=e.window, channels=e.channels, residual=e.residual, boundary=e.boundary,
                            saturation=e.saturation)
        self.f_min = float(e.f_min)
        self.periods = N.periods_for(cfg.image_size)
        self.device = torch.device(device)
        real = sample_images(dataset, e.num_real, seed=REFERENCE_SEED).to(self.device)
        # set statistics (fixed-pattern CE, phase spread) of the data at the generated sample count
        self.real = image_stats(real, self.periods, group=e.num_samples, **self.options)
        if self.real.saturation > 0.5 and e.saturation == "none":
            log.warning("%.0f%% of the real pixels sit at tanh's limits: artifacts there are squashed; "
                        "eval.saturation=atanh measures them before the tanh", 100 * self.real.saturation)
        self.swd_count = min(e.num_real, e.num_samples)  # images per set compared by SWD
        self.swd = (SlicedWasserstein(real[: self.swd_count], REFERENCE_SEED, e.swd_patches, e.swd_dirs)
                    if e.swd and cfg.image_size >= 16 else None)
        self.real_images = real.cpu() if e.fid else None
        self.detector_real = real[: e.detector_images].cpu() if e.detectors else None
        self.fid_weights = None
        if e.fid:
            reason = fid.unavailable_reason(e.fid_weights)
            if reason:
                log.info("FID/KID skipped: %s", reason)
            else:
                self.fid_weights = fid.inception_weights(e.fid_weights)

    def __call__(self, fake: torch.Tensor, stages: list[torch.Tensor] | None = None,
                 detector_fake: torch.Tensor | None = None) -> Evaluation:
        """Every number of one generator's samples ``fake`` ``(N, C, S, S)``; with ``stages`` (its
        stage outputs ``[(N, C_i, S_i, S_i), ...]``, the last one ``fake``) their depths, with
        ``detector_fake`` ``(M, C, S, S)`` the published detectors' results on them."""
        stats = image_stats(fake.to(self.device), self.periods, **self.options)
        values = metrics.compute(stats, self.real, self.f_min)
        if self.swd is not None:
            values |= self.swd(fake[: self.swd_count])
        if self.fid_weights is not None:
            values |= fid.fid_kid(self.real_images, fake.cpu(), self.fid_weights, str(self.device))
        if stages is not None:
            values |= metrics.stage_depths(stages)
        if detector_fake is not None:
            values |= self.detectability(detector_fake)
        return Evaluation(values, stats, self.real)

    def detectability(self, fake: torch.Tensor) -> dict[str, float]:
        """The held-out results of every detector of ``gan.measure.detectors`` on ``fake`` ``(N, C, S, S)``
        against the cached real images (``eval.detector_images`` of them), as flat named numbers."""
        found = detectors.detectability(fake.cpu(), self.detector_real, seed=REFERENCE_SEED)
        return metrics.detector_numbers(found)
