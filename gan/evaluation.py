"""Spectral statistics of an image set, and the metrics that compare generated images to real ones.

``spectral_stats`` reduces a set of images to what every metric needs (per-image CE_P, the
fixed-pattern CE_P, the mean power spectrum); ``compare`` turns one set's statistics, and
optionally a reference set's, into flat metric names (``checkerboard/p2``,
``checkerboard_excess_db/p2``, ``spectral/distance``, ...). Training (``Evaluator``) and
``gan.analyze`` both use them, so the numbers mean the same everywhere.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from gan import fid, spectral
from gan.data import sample_images
from gan.metrics import SlicedWasserstein
from gan.networks import num_stages
from gan.plots import radial_profiles_figure, spectra_figure

log = logging.getLogger(__name__)


@dataclass
class SpectralStats:
    """Statistics of N images ``(N, C, H, W)``."""

    ce: dict[int, torch.Tensor]        # period -> CE_P per image, (N,)
    ce_fixed: dict[int, float]         # period -> CE_P of the mean image
    mean_power: torch.Tensor           # (H, W) batch-mean power spectrum, unshifted
    n: int

    @property
    def radial(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(freqs (K,), profile (K,)) of the mean power."""
        return spectral.radial_profile(self.mean_power)

    @property
    def log_spectrum(self) -> torch.Tensor:
        """(H, W) log10 mean power, DC at the centre."""
        return spectral.mean_log_spectrum(self.mean_power[None])


def spectral_stats(images: torch.Tensor, periods: list[int], window: str = "none", channels: str = "mean",
                   residual: bool = False, batch_size: int = 1024) -> SpectralStats:
    """Reduce ``images`` ``(N, C, H, W)`` (any device) to ``SpectralStats``, ``batch_size`` at a time."""
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch (N, C, H, W), got shape {tuple(images.shape)}")
    ce: dict[int, list[torch.Tensor]] = {p: [] for p in periods}
    power_sum, image_sum = 0.0, 0.0
    for chunk in images.split(batch_size):
        chunk = chunk.float() if chunk.dtype not in (torch.float32, torch.float64) else chunk
        for p, v in spectral.checkerboard_energies(chunk, periods).items():
            ce[p].append(v.cpu())
        power_sum = power_sum + spectral.half_power_spectrum(chunk, window, channels, residual).sum(dim=0)
        image_sum = image_sum + chunk.sum(dim=0, keepdim=True)
    mean_image = image_sum / images.shape[0]
    fixed = spectral.checkerboard_energies(mean_image, periods)
    return SpectralStats(
        ce={p: torch.cat(v) for p, v in ce.items()},
        ce_fixed={p: float(v[0]) for p, v in fixed.items()},
        mean_power=spectral.full_spectrum(power_sum / images.shape[0], images.shape[-1]).cpu(),
        n=images.shape[0],
    )


def compare(stats: SpectralStats, reference: SpectralStats | None = None, f_min: float = 0.0) -> dict[str, float]:
    """Flat metrics of ``stats``; with a ``reference`` (real data) also excess dB and spectral distance."""
    m: dict[str, float] = {}
    for p, ce in stats.ce.items():
        m[f"checkerboard/p{p}"] = float(ce.mean())
        m[f"checkerboard_fixed/p{p}"] = stats.ce_fixed[p]
        if reference is not None:
            real = reference.ce[p].mean()
            m[f"checkerboard_real/p{p}"] = float(real)
            m[f"checkerboard_excess_db/p{p}"] = float(spectral.excess_db(ce.mean(), real))
    square = stats.mean_power.shape[-1] == stats.mean_power.shape[-2]
    if reference is not None and square:
        freqs, profile = stats.radial
        m["spectral/distance"] = float(spectral.spectral_distance(profile, reference.radial[1], freqs, f_min))
    return m


class Evaluator:
    """Real statistics cached at construction; ``__call__(fake, logger, step) -> metrics``."""

    def __init__(self, dataset, cfg, device: torch.device | str = "cpu"):
        e = cfg.eval
        self.options = dict(window=e.window, channels=e.channels, residual=e.residual)
        self.f_min = float(e.f_min)
        self.figures = bool(e.figures)
        self.periods = spectral.periods_up_to(2 ** num_stages(cfg.image_size))
        self.device = torch.device(device)
        real = sample_images(dataset, e.num_real, seed=cfg.seed).to(self.device)
        self.real = spectral_stats(real, self.periods, **self.options)
        self.swd_count = min(e.num_real, e.num_samples)  # images per set compared by SWD
        self.swd = (SlicedWasserstein(real[: self.swd_count], cfg.seed, e.swd_patches, e.swd_dirs)
                    if e.swd and cfg.image_size >= 16 else None)
        self.real_images = real.cpu() if e.fid else None
        self.fid_weights = None
        if e.fid:
            reason = fid.unavailable_reason(e.fid_weights)
            if reason:
                log.info("FID/KID skipped: %s", reason)
            else:
                self.fid_weights = fid.inception_weights(e.fid_weights)

    def __call__(self, fake: torch.Tensor, logger, step: int) -> dict[str, Any]:
        stats = spectral_stats(fake.to(self.device), self.periods, **self.options)
        metrics = compare(stats, self.real, self.f_min)
        if self.swd is not None:
            metrics |= self.swd(fake[: self.swd_count])
        if self.fid_weights is not None:
            metrics |= fid.fid_kid(self.real_images, fake.cpu(), self.fid_weights, str(self.device))
        if self.figures and logger is not None:
            freqs, profile = stats.radial
            logger.figure(step, "spectrum/radial_profile", radial_profiles_figure(
                freqs, {"generated": profile, "real": self.real.radial[1]}, title=f"step {step}"))
            logger.figure(step, "spectrum/mean_log_spectrum", spectra_figure(
                {"generated": stats.log_spectrum, "real": self.real.log_spectrum},
                title=f"step {step}", ratio_of=("generated", "real")))
        return metrics
