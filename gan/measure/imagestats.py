"""Statistics of an image set: what the registry's metrics (``gan.measure.metrics``) are computed from.

``image_stats`` reduces a set of images ``(N, C, H, W)`` to a ``SpectralStats``: per-image CE_P,
the fixed-pattern CE_P, the phase spread, the depths' group patterns at every period and the whole
grid, and the mean power spectrum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from gan.data.imageset import ImageSet, Treated, pieces
from gan.measure import depths as D
from gan.measure import spectral


@dataclass
class SpectralStats:
    """Statistics of N images ``(N, C, H, W)``."""

    ce: dict[int, torch.Tensor]          # period -> CE_P per image, (N,)
    ce_pooled: dict[int, float]          # period -> sum of P-periodic energy / sum of mean-free energy
    ce_periodic: dict[int, torch.Tensor]  # period -> CE_P of the periodic component per image, (N,)
    ce_fixed: dict[int, float]           # period -> CE_P of the mean image (mean over groups)
    phase_spread: dict[int, float]       # period -> PS_P of the pooled moments (mean over groups)
    depths: dict[int, dict[str, D.Depth]]  # period -> part (gan.measure.depths.PARTS) -> depth with SE and interval
    patterns: dict[int, D.GroupPatterns | None]  # period -> what depths and distances are computed from
    grid: int | None                     # the whole grid's period: the largest of the periods whose depths fit, or None
    saturation: float                    # share of values at tanh's limits (before any treatment)
    value_range: tuple[float, float]     # the lowest and the highest value (before any treatment)
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


#: Values (images x channels x pixels) in one chunk of ``image_stats``: 8M, i.e. 1024 images of 3 x 32 x 32,
#: 2 of 3 x 1024 x 1024; its float64 lag products then take about 0.3 GB.
CHUNK_VALUES = 2**23


def chunk_size(shape: tuple[int, ...]) -> int:
    """Images per chunk for images of ``shape`` ``(C, H, W)``: ``CHUNK_VALUES`` values, 1 to 1024."""
    return max(1, min(1024, CHUNK_VALUES // max(1, math.prod(shape))))


def image_stats(images: ImageSet, periods: list[int], window: str = "none", channels: str = "mean",
                residual: bool = False, boundary: str = "none", saturation: str = "none", group: int | None = None,
                batch_size: int | None = None, progress: bool = False) -> SpectralStats:
    """Reduce ``images`` ``(N, C, H, W)`` (any device) to ``SpectralStats``, ``batch_size`` at a time
    (default: ``chunk_size``, so that memory grows with the pixels of a chunk, not of the set).

    ``window``, ``channels``, ``residual`` and ``boundary`` shape the power spectrum; the CE values
    follow their exact definitions (``gan.measure.spectral``). ``saturation="atanh"`` measures everything
    but the saturation share on ``spectral.pre_tanh(images)``. ``group``: the statistics of a whole
    set (fixed-pattern CE, phase spread) are means over consecutive groups of that many images, so
    a reference set is compared at the generated set's sample count (default: all N at once).
    ``progress``: progress bars over the chunks and the depths' groups. ``images`` may be a lazy
    ``ImageSet`` (a folder read a chunk at a time): every pass reads it a piece at a time.
    """
    if len(images.shape) != 4 or images.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch (N, C, H, W), got shape {tuple(images.shape)}")
    if saturation not in spectral.SATURATION_TREATMENTS:
        raise ValueError(f"saturation must be one of {', '.join(spectral.SATURATION_TREATMENTS)}, got {saturation!r}")
    n = images.shape[0]
    group = min(group or n, n)
    batch_size = batch_size or chunk_size(images.shape[1:])
    ce: dict[int, list[torch.Tensor]] = {p: [] for p in periods}
    ce_periodic: dict[int, list[torch.Tensor]] = {p: [] for p in periods}
    whole = n // group * group  # images in complete groups
    moments: dict[int, Any] = {p: 0.0 for p in periods}  # per group: sums of the local second moments (G, L, P, P)
    counts: dict[int, torch.Tensor] = {}
    pooled_num: dict[int, Any] = {p: 0.0 for p in periods}
    pooled_den: Any = 0.0
    power_sum: Any = 0.0
    saturated: Any = 0.0
    lows, highs = [], []
    bar = dict(total=-(-n // batch_size), desc="spectra", unit="chunk", leave=False, disable=None if progress else True)
    for at, chunk in zip(range(0, n, batch_size), tqdm(pieces(images, batch_size), **bar)):  # on the images' device
        chunk = chunk.float() if chunk.dtype not in (torch.float32, torch.float64) else chunk
        saturated = saturated + spectral.saturation_share(chunk) * len(chunk)
        lows.append(chunk.amin())
        highs.append(chunk.amax())
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
        rows = torch.arange(at, max(at, min(at + len(chunk), whole)), device=chunk.device)  # in complete groups
        for p in periods:
            sums = spectral.phase_sums(products[:len(rows)], p)
            if not isinstance(moments[p], torch.Tensor):
                moments[p] = sums.new_zeros(n // group, *sums.shape[1:])
            moments[p].index_add_(0, rows // group, sums)
            counts[p] = spectral.phase_sums(terms, p)
        pooled_den = pooled_den + energy.sum()
        power_sum = power_sum + spectral.half_power_spectrum(chunk, window, channels, residual, boundary).sum(dim=0)
    treated = Treated(images, (lambda x: spectral.pre_tanh(x.float())) if saturation == "atanh" else torch.Tensor.float)
    fixed = spectral.checkerboard_energies(group_means(treated, group, batch_size), periods)
    fitting = [p for p in periods if D.fits(p, *images.shape[-2:])] if n >= D.MIN_IMAGES else []
    patterns = dict.fromkeys(periods) | (D.patterns_by_period(treated, fitting, progress=progress) if fitting else {})
    spread = {}
    for p in periods:
        spread[p] = torch.stack([spectral.phase_spread_of(g, counts[p] * group) for g in moments[p]]).mean()
    host = _to_host({  # one wait for the device, after all the work is queued
        "ce": {p: torch.cat(v) for p, v in ce.items()}, "ce_periodic": {p: torch.cat(v) for p, v in ce_periodic.items()},
        "pooled": {p: torch.as_tensor(pooled_num[p]) / torch.as_tensor(pooled_den) for p in periods},
        "den": torch.as_tensor(pooled_den), "fixed": {p: v.mean() for p, v in fixed.items()}, "spread": spread,
        "range": torch.stack([torch.stack(lows).amin(), torch.stack(highs).amax()]),
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
        grid=max((p for p in periods if D.fits(p, *images.shape[-2:])), default=None) if n >= D.MIN_IMAGES else None,
        saturation=float(host["saturation"]),
        value_range=tuple(host["range"].tolist()),
        mean_power=host["power"],
        n=n,
        group=group,
    )


def group_means(images: ImageSet, group: int, batch_size: int) -> torch.Tensor:
    """The mean image of each complete group of ``group`` consecutive images, summed in float64
    ``batch_size`` images at a time: ``(N // group, C, H, W)`` float32."""
    means = []
    for k in range(len(images) // group):
        total = sum(x.sum(dim=0, dtype=torch.float64) for x in pieces(images, batch_size, k * group, (k + 1) * group))
        means.append((total / group).float())
    return torch.stack(means)


def _to_host(tree: Any) -> Any:
    """Every tensor of a nested dict on the CPU."""
    if isinstance(tree, dict):
        return {k: _to_host(v) for k, v in tree.items()}
    return tree.cpu() if isinstance(tree, torch.Tensor) else tree
