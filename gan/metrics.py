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

from dataclasses import dataclass
from typing import Callable

import torch

from gan import spectral

# Names; "{p}" is a checkerboard period, "{i}" a generator stage, "{size}" a pyramid level.
CE = "checkerboard/p{p}"
CE_FIXED = "checkerboard_fixed/p{p}"
CE_REAL = "checkerboard_real/p{p}"
CE_EXCESS_DB = "checkerboard_excess_db/p{p}"
SPECTRAL_DISTANCE = "spectral/distance"
SWD = "quality/swd"
SWD_LEVEL = "quality/swd_level_{size}"
FID = "quality/fid"
KID = "quality/kid"
DC_CHECKERBOARD = "dc_checkerboard/stage{i}"

#: The number a sweep ranks upsamplers by, and the default Hydra ``objective``.
HEADLINE = CE_EXCESS_DB.format(p=2)
#: The columns of ``gan.summarize``'s table and bar chart.
SUMMARY = (HEADLINE, CE.format(p=2), CE_FIXED.format(p=2), SPECTRAL_DISTANCE, SWD)


def periods_for(height: int, width: int | None = None) -> list[int]:
    """Checkerboard periods for ``height x width`` images: the powers of two P >= 2 that divide
    both sides, up to a quarter of the shorter side (the total upsampling factor of a DCGAN
    generator that starts at 4x4: 2, 4, 8 for 32x32)."""
    width = height if width is None else width
    return [p for p in spectral.periods_up_to(min(height, width) // 4) if height % p == 0 and width % p == 0]


# ---------------------------------------------------------------------------------------------
# Statistics of an image set


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

    @property
    def square(self) -> bool:
        return self.mean_power.shape[-1] == self.mean_power.shape[-2]


def image_stats(images: torch.Tensor, periods: list[int], window: str = "none", channels: str = "mean",
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


# ---------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Metric:
    """One reported number. ``name`` may hold ``{p}`` (one value per checkerboard period).
    ``fn(fake, real, period, f_min)`` computes it from statistics (None: computed elsewhere, e.g.
    SWD); ``higher_is_worse`` is None where no direction applies (a property of the data)."""

    name: str
    description: str
    higher_is_worse: bool | None
    needs_reference: bool = False
    fn: Callable[[SpectralStats, SpectralStats | None, int | None, float], float] | None = None

    @property
    def per_period(self) -> bool:
        return "{p}" in self.name


def _spectral_distance(fake: SpectralStats, real: SpectralStats, _p: int | None, f_min: float) -> float:
    freqs, profile = fake.radial
    return float(spectral.spectral_distance(profile, real.radial[1], freqs, f_min))


REGISTRY: tuple[Metric, ...] = (
    Metric(CE, "CE_P: share of the mean-free image energy that is exactly P-periodic, mean over images",
           True, fn=lambda f, r, p, _: float(f.ce[p].mean())),
    Metric(CE_FIXED, "CE_P of the mean generated image: artifacts at the same place in every sample",
           True, fn=lambda f, r, p, _: f.ce_fixed[p]),
    Metric(CE_REAL, "CE_P of the real data", None, True, fn=lambda f, r, p, _: float(r.ce[p].mean())),
    Metric(CE_EXCESS_DB, "10 log10(CE_P fake / CE_P real): dB of periodic energy above the data", True, True,
           fn=lambda f, r, p, _: float(spectral.excess_db(f.ce[p].mean(), r.ce[p].mean()))),
    Metric(SPECTRAL_DISTANCE, "mean |log10 P_fake - log10 P_real| over radial profile bins f >= f_min (decades)",
           True, True, fn=_spectral_distance),
    Metric(SWD, "multi-scale sliced Wasserstein distance x 1e3 (Karras et al. 2018)", True, True),
    Metric(FID, "Frechet Inception distance (torch-fidelity)", True, True),
    Metric(KID, "kernel Inception distance (torch-fidelity)", True, True),
    Metric(DC_CHECKERBOARD, "per generator stage: spread of the polyphase DC responses relative to their mean",
           True),
)


def compute(stats: SpectralStats, reference: SpectralStats | None = None, f_min: float = 0.0) -> dict[str, float]:
    """Flat metrics of ``stats``: every registered spectral metric, per period where it has one;
    those that need a reference (real data) only when ``reference`` is given."""
    out: dict[str, float] = {}
    usable = [m for m in REGISTRY if m.fn is not None and (reference is not None or not m.needs_reference)]
    for p in stats.ce:
        for m in usable:
            if m.per_period:
                out[m.name.format(p=p)] = m.fn(stats, reference, p, f_min)
    for m in usable:
        if not m.per_period and (stats.square or m.name != SPECTRAL_DISTANCE):
            out[m.name] = m.fn(stats, reference, None, f_min)
    return out


def layer_checkerboard(G) -> dict[str, float]:
    """``dc_checkerboard/stageI``: how far each upsampler of generator ``G`` is from mapping a constant
    input to a constant output (0 = checkerboard-free at DC; see ``gan.convmath.dc_checkerboard``)."""
    from gan.convmath import dc_checkerboard, dc_response

    return {DC_CHECKERBOARD.format(i=i): float(dc_checkerboard(dc_response(up, up.in_channels)))
            for i, up in enumerate(G.upsampling_layers())}
