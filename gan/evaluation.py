"""Spectral evaluation of generated images against a fixed sample of the training data.

``Evaluator`` computes the real-data statistics once; each call measures a batch of generated
images and returns flat, stable metric names (``checkerboard/p2``, ``spectral/distance``, ...).
"""
from __future__ import annotations

from typing import Any

import torch

from gan import spectral
from gan.data import sample_images
from gan.networks import num_stages
from gan.plots import radial_profiles_figure, spectra_figure


class Evaluator:
    """Real statistics cached at construction; ``__call__(fake, logger, step) -> metrics``."""

    def __init__(self, dataset, cfg, device: torch.device | str = "cpu"):
        e = cfg.eval
        self.options = dict(window=e.window, channels=e.channels, residual=e.residual)
        self.f_min = float(e.f_min)
        self.figures = bool(e.figures)
        self.periods = spectral.periods_up_to(2 ** num_stages(cfg.image_size))
        self.device = torch.device(device)
        real = sample_images(dataset, e.num_real, seed=cfg.seed).to(self.device, torch.float32)
        self.real_ce = {p: ce.mean() for p, ce in spectral.checkerboard_energies(real, self.periods).items()}
        power = spectral.power_spectrum(real, **self.options)
        self.freqs, profiles = spectral.radial_profile(power)
        self.real_profile = profiles.mean(dim=0)
        self.real_log_spectrum = spectral.mean_log_spectrum(power)

    def measure(self, fake: torch.Tensor) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """Metrics of a batch ``(N, C, S, S)`` and the arrays behind them (profile, log spectrum)."""
        fake = fake.to(self.device, torch.float32)
        m: dict[str, float] = {}
        for p, ce in spectral.checkerboard_energies(fake, self.periods).items():
            m[f"checkerboard/p{p}"] = float(ce.mean())
            m[f"checkerboard_real/p{p}"] = float(self.real_ce[p])
            m[f"checkerboard_excess_db/p{p}"] = float(spectral.excess_db(ce.mean(), self.real_ce[p]))
            m[f"checkerboard_fixed/p{p}"] = float(spectral.fixed_pattern_energy(fake, p))
        power = spectral.power_spectrum(fake, **self.options)
        profile = spectral.radial_profile(power)[1].mean(dim=0)
        m["spectral/distance"] = float(spectral.spectral_distance(profile, self.real_profile, self.freqs, self.f_min))
        return m, {"profile": profile, "log_spectrum": spectral.mean_log_spectrum(power)}

    def __call__(self, fake: torch.Tensor, logger, step: int) -> dict[str, Any]:
        metrics, arrays = self.measure(fake)
        if self.figures and logger is not None:
            logger.figure(step, "spectrum/radial_profile", radial_profiles_figure(
                self.freqs, {"generated": arrays["profile"], "real": self.real_profile}, title=f"step {step}"))
            logger.figure(step, "spectrum/mean_log_spectrum", spectra_figure(
                {"generated": arrays["log_spectrum"], "real": self.real_log_spectrum},
                title=f"step {step}", ratio_of=("generated", "real")))
        return metrics
