"""Spectral measures of checkerboard artifacts: pure, batched, differentiable tensor functions.

Inputs are float tensors ``(B, C, H, W)`` on any device (float32 or float64). Nothing here reads
files or knows about training. The definitions (also in the README, "What is measured"):

* ``checkerboard_energy`` CE_P: share of an image's mean-free energy that is exactly P-periodic
  (lies in the span of the P x P phase classes). 0 for a constant image, 1 for a pure P-periodic
  pattern, (P^2 - 1) / (HW - 1) on average for white noise.
* ``periodic_component``: Moisan's periodic-plus-smooth decomposition; with ``boundary="periodic"``
  CE_P counts only the periodic energy of the periodic component (no boundary leakage).
* ``power_spectrum``: |FFT2(w * x~)|^2 / sum(w^2), x~ the per-channel mean-free image.
* ``radial_profile``: mean power per integer radius k = 1 .. out to the corner (frequency k/n
  cycles/pixel, n the shorter side).
* ``spectral_distance``: mean |log10 P_fake - log10 P_real| over the profile bins, in decades.
* ``excess_db``: 10 log10 of a ratio, with a floor that keeps it finite.
* ``phase_spread`` PS_P: how much the local second moments (variance and neighbour covariances)
  depend on the pixel's phase (i mod P, j mod P); 0 for stationary images. It sees what CE_P
  cannot: checkerboards whose amplitude follows the content, and the spectral replicas that
  zero insertion, nearest-neighbour or bilinear x2 and uneven transposed convolutions leave.
* The grid-only depths, the headline measure, are in ``gan.measure.depths``.
* ``pre_tanh``: the generator's pre-activation domain, where tanh no longer squashes artifacts
  in saturated regions.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601
#: Analysis windows (``eval.window``) and channel handling (``eval.channels``) of ``power_spectrum``.
WINDOWS = ("none", "hann", "kaiser")
CHANNEL_MODES = ("mean", "luma")
#: How the image border is treated: as it is (the DFT wraps it around), or through the periodic component.
BOUNDARIES = ("none", "periodic")
#: Floors of every ratio in decibels, relative to the white-noise level of the same energy:
#: CE_P below (P^2-1)/(HW-1) * 10^(FLOOR_DB/10) and power below that share of the mean power per bin
#: count as that floor, so ratios stay finite (float32 rounding alone reads about -110 dB).
FLOOR_DB = -60.0
#: Lags (di, dj) of the local second moments y(i, j) y(i + di, j + dj) that ``phase_spread`` compares.
LAGS = ((0, 0), (0, 1), (1, 0))
#: Pixels within half an 8-bit step of +-1 count as saturated (``saturation_share``, ``pre_tanh``).
SATURATION_MARGIN = 1 / 255
#: ``eval.saturation``: measure the images as they are, or in the pre-activation domain atanh(x).
SATURATION_TREATMENTS = ("none", "atanh")


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"expected a tensor of shape (B, C, H, W), got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise ValueError(f"expected a float tensor, got {x.dtype}")


def mean_free(x: torch.Tensor) -> torch.Tensor:
    """x minus its per-image, per-channel spatial mean. ``(B, C, H, W) -> (B, C, H, W)``."""
    return x - x.mean(dim=(-2, -1), keepdim=True)


def phase_means(x: torch.Tensor, period: int) -> torch.Tensor:
    """Mean over each phase class (i mod P, j mod P). ``(B, C, H, W) -> (B, C, P, P)``."""
    _check_images(x)
    b, c, h, w = x.shape
    if period < 1 or h % period or w % period:
        raise ValueError(f"period {period} must divide the image size {h}x{w}")
    return x.reshape(b, c, h // period, period, w // period, period).mean(dim=(2, 4))


def checkerboard_energy(x: torch.Tensor, period: int = 2, boundary: str = "none") -> torch.Tensor:
    """CE_P per image, ``(B, C, H, W) -> (B,)``, in [0, 1], computed in O(HW).

    CE_P = sum_c ||proj_P(x~_c)||^2 / sum_c ||x~_c||^2 where proj_P replaces every pixel by the
    mean of its phase class; by Parseval this is the share of the mean-free power at the DFT bins
    (u, v) with u a multiple of H/P and v a multiple of W/P. Defined as 0 for a constant image
    (mean-free energy at the floating-point rounding level of the values). ``boundary="periodic"``:
    see ``checkerboard_energies``.
    """
    return checkerboard_energies(x, [period], boundary)[period]


def fixed_pattern_energy(x: torch.Tensor, period: int = 2) -> torch.Tensor:
    """CE_P of the batch-mean image (artifacts at the same place in every sample). ``-> ()``."""
    return checkerboard_energy(x.mean(dim=0, keepdim=True), period)[0]


def periods_up_to(factor: int) -> list[int]:
    """The periods 2, 4, ..., ``factor`` (a generator's total upsampling factor)."""
    return [2**k for k in range(1, int(math.log2(factor)) + 1)] if factor >= 2 else []


def periodic_component(x: torch.Tensor) -> torch.Tensor:
    """Moisan's periodic component (Moisan 2011, "Periodic plus smooth image decomposition").
    ``(B, C, H, W) -> (B, C, H, W)``, same mean.

    x = p + s, where the smooth part s solves the periodic Poisson equation Lap(s) = v, v being the
    jumps across the image border (x[H-1] - x[0] on the first row, the opposite on the last, the
    same for columns). The DFT of p has no cross of boundary leakage. For a linear ramp p is the
    ramp scaled by 1/N (so its leakage energy falls by N^2); a pure P-periodic pattern loses the
    part s takes from a strip along the border (6% of a 32 x 32 checkerboard's energy).
    """
    _check_images(x)
    h, w = x.shape[-2:]
    v = torch.zeros_like(x)
    rows, cols = x[..., -1, :] - x[..., 0, :], x[..., :, -1] - x[..., :, 0]
    v[..., 0, :] += rows
    v[..., -1, :] -= rows
    v[..., :, 0] += cols
    v[..., :, -1] -= cols
    q = torch.arange(h, device=x.device, dtype=x.dtype).view(-1, 1)
    r = torch.arange(w // 2 + 1, device=x.device, dtype=x.dtype).view(1, -1)  # rfft2's half plane
    den = 2 * torch.cos(2 * math.pi * q / h) + 2 * torch.cos(2 * math.pi * r / w) - 4  # the Laplacian's symbol
    den[0, 0] = 1.0
    s_hat = torch.fft.rfft2(v) / den
    s_hat[..., 0, 0] = 0  # s has zero mean: p keeps the mean of x
    return x - torch.fft.irfft2(s_hat, s=(h, w))


def periodic_energies(x: torch.Tensor, periods: list[int]) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """``({P: ||proj_P(x~)||^2 (B,)}, ||x~||^2 (B,))``, summed over channels, in one pass.

    The phase means of the largest period are computed once; a smaller period that divides it
    averages them further (its phase classes are unions of the larger period's).
    """
    _check_images(x)
    b, c, h, w = x.shape
    xt = mean_free(x)
    energy = xt.square().sum(dim=(1, 2, 3))
    top = max(periods) if periods else 1
    m_top = phase_means(xt, top) if periods and all(top % p == 0 for p in periods) else None  # (B, C, top, top)
    out = {}
    for p in periods:
        if m_top is not None:
            if h % p or w % p:
                raise ValueError(f"period {p} must divide the image size {h}x{w}")
            k = top // p
            m = m_top.reshape(b, c, k, p, k, p).mean(dim=(2, 4))  # (B, C, P, P)
        else:
            m = phase_means(xt, p)
        out[p] = m.square().sum(dim=(1, 2, 3)) * (h // p) * (w // p)
    return out, energy


def constant_images(x: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """``(B,)`` bool: images whose mean-free ``energy`` is at the rounding level of their values."""
    c, h, w = x.shape[1:]
    floor = c * h * w * (16 * torch.finfo(x.dtype).eps * x.detach().abs().amax(dim=(1, 2, 3))) ** 2
    return energy <= floor


def checkerboard_energies(x: torch.Tensor, periods: list[int], boundary: str = "none") -> dict[int, torch.Tensor]:
    """``{P: CE_P(x) (B,)}`` for several periods in one pass over the pixels.

    ``boundary="periodic"``: the P-periodic energy of ``periodic_component(x)`` over the mean-free
    energy of x itself, so the DFT's wrap-around jump no longer counts as periodic energy. Then a
    linear ramp reads CE_2 / N^2 and a pure P-periodic pattern 1 - O(1/N) (0.94 at 32 x 32).
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
    _check_images(x)
    if not periods:
        return {}
    nums, energy = periodic_energies(x, periods)
    if boundary == "periodic":
        nums, _ = periodic_energies(periodic_component(x), periods)
    return energy_shares(x, nums, energy)


def energy_shares(x: torch.Tensor, nums: dict[int, torch.Tensor], energy: torch.Tensor) -> dict[int, torch.Tensor]:
    """``{P: nums[P] / energy}`` per image ``(B,)``, 0 for the constant images of ``x`` (whose
    mean-free ``energy`` is rounding noise); ``nums, energy`` as ``periodic_energies`` gives them."""
    constant = constant_images(x, energy)
    safe = torch.where(constant, torch.ones_like(energy), energy)
    return {p: torch.where(constant, torch.zeros_like(num), num / safe) for p, num in nums.items()}


def ce_floor(period: int, height: int, width: int) -> float:
    """The smallest CE_P that ratios resolve: ``FLOOR_DB`` below the white-noise level (P^2-1)/(HW-1)."""
    return (period**2 - 1) / (height * width - 1) * 10 ** (FLOOR_DB / 10)


def excess_db(fake: torch.Tensor | float, real: torch.Tensor | float, floor: float = 0.0) -> torch.Tensor:
    """10 log10((fake + floor) / (real + floor)): how many dB more of a quantity the generator has
    than the data. With ``floor > 0`` it is finite for every non-negative input."""
    fake, real = (torch.as_tensor(v, dtype=torch.float64) for v in (fake, real))
    return 10 * torch.log10((fake + floor) / (real + floor))


# ---------------------------------------------------------------------------------------------
# Phase dependence of local second moments (second-order cyclostationarity)


def lag_products(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The local second moments behind PS_P, ``(B, C, H, W) -> (products (B, L, H, W), counts (L, H, W))``:
    for every lag (di, dj) in ``LAGS``, y(i, j) y(i + di, j + dj) summed over channels at (i, j),
    zero where (i + di, j + dj) leaves the image; y is the per-image, per-channel mean-free image.
    ``counts`` is the number of terms at each position (C inside, 0 outside)."""
    _check_images(x)
    y = mean_free(x)
    b, c, h, w = y.shape
    products = y.new_zeros(b, len(LAGS), h, w)
    counts = y.new_zeros(len(LAGS), h, w)
    for lag, (di, dj) in enumerate(LAGS):
        products[:, lag, : h - di, : w - dj] = (y[..., : h - di, : w - dj] * y[..., di:, dj:]).sum(dim=1)
        counts[lag, : h - di, : w - dj] = c
    return products, counts


def phase_sums(t: torch.Tensor, period: int) -> torch.Tensor:
    """Sums of ``t`` over the phase classes (i mod P, j mod P), ``(..., H, W) -> (..., P, P)``;
    P need not divide H or W (the grid is padded with zeros)."""
    h, w = t.shape[-2:]
    if h % period or w % period:
        t = F.pad(t, (0, -w % period, 0, -h % period))
    return t.unflatten(-1, (-1, period)).unflatten(-3, (-1, period)).sum(dim=(-4, -2))


def phase_moments(x: torch.Tensor, period: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image sums over the phase classes of the local second moments (``lag_products``),
    ``(B, C, H, W) -> (sums (B, L, P, P), counts (L, P, P))``: class (r, t) of lag l sums the
    products at the positions i = r, j = t (mod P); ``counts`` is the number of terms per image."""
    products, counts = lag_products(x)
    return phase_sums(products, period), phase_sums(counts, period)


def phase_spread_of(sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """PS_P from moment sums pooled over a set of images, ``(L, P, P), (L, P, P) -> ()``.

    R_l(r, t) = sums / counts is the local second moment at lag l in phase class (r, t);
    PS_P = sum over lags of the variance of R_l across the P^2 classes, over the squared mean
    variance R_0. Scale- and offset-free; 0 for a constant image set.
    """
    moments = (sums / counts).flatten(1)  # (L, P^2)
    variance = moments[0].mean()
    spread = (moments - moments.mean(dim=1, keepdim=True)).square().mean(dim=1).sum()
    return torch.where(variance > 0, spread / variance.clamp_min(torch.finfo(moments.dtype).tiny) ** 2,
                       torch.zeros_like(spread))


def phase_spread(x: torch.Tensor, period: int = 2) -> torch.Tensor:
    """PS_P of an image set ``(B, C, H, W) -> ()``, its moments pooled over the batch.

    An upsampler works on a fixed grid, so its traces sit at the same phases in every sample and
    pooling over samples averages the content away. Known values: 0 in expectation for stationary
    images (the pooled estimate is biased up by sampling noise, about 1e-5 for 256 images of
    32 x 32, so compare sets of equal size); 4a^2 / (1 + a^2)^2 for white noise times
    (1 + a (-1)^(i+j)) (a checkerboard that follows the content); P^2 - 1 for zero insertion of
    white noise (all of it in one phase in P^2). A +-a checkerboard added to the image leaves every
    second moment the same in all phases: PS_P does not see it (CE_P does); an added P-periodic
    pattern whose size differs between phases it sees through the phases' variances.
    """
    sums, counts = phase_moments(x, period)
    return phase_spread_of(sums.sum(dim=0), counts * x.shape[0])


def saturation_share(x: torch.Tensor) -> torch.Tensor:
    """Share of values within ``SATURATION_MARGIN`` of -1 or +1 (tanh's limits), ``(B, C, H, W) -> ()``."""
    return (x.abs() >= 1 - SATURATION_MARGIN).float().mean()


def pre_tanh(x: torch.Tensor) -> torch.Tensor:
    """atanh of ``x`` clamped to +-(1 - ``SATURATION_MARGIN``): the generator's pre-activation, where
    an artifact keeps its size in regions that tanh squashes (mostly-saturated data such as MNIST)."""
    return torch.atanh(x.clamp(-1 + SATURATION_MARGIN, 1 - SATURATION_MARGIN))


# ---------------------------------------------------------------------------------------------
# Spectra


def median_filter3(x: torch.Tensor) -> torch.Tensor:
    """3x3 median with reflected borders, per channel. ``(B, C, H, W) -> (B, C, H, W)``."""
    b, c, h, w = x.shape
    mode = "reflect" if min(h, w) > 1 else "replicate"
    patches = F.unfold(F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode=mode), 3)  # (BC, 9, HW)
    return patches.median(dim=1).values.reshape(b, c, h, w)


def window_2d(h: int, w: int, window: str, dtype=torch.float32, device=None) -> torch.Tensor:
    """Separable analysis window ``(H, W)``: none (ones), hann, or kaiser (beta = 8)."""
    def one(n: int) -> torch.Tensor:
        if window == "none":
            return torch.ones(n, dtype=dtype, device=device)
        if window == "hann":
            return torch.hann_window(n, periodic=True, dtype=dtype, device=device)
        if window == "kaiser":
            return torch.kaiser_window(n, periodic=True, beta=8.0, dtype=dtype, device=device)
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    return torch.outer(one(h), one(w))


def _prepare(x: torch.Tensor, channels: str, residual: bool, boundary: str = "none") -> torch.Tensor:
    """Channel handling, optional periodic component and median residual before the FFT."""
    _check_images(x)
    if channels == "luma":
        if x.shape[1] == 3:
            x = (x * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        elif x.shape[1] != 1:
            raise ValueError(f"channels='luma' needs 1 or 3 channels, got {x.shape[1]}")
    elif channels not in CHANNEL_MODES:
        raise ValueError(f"channels must be one of {', '.join(CHANNEL_MODES)}, got {channels!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
    if boundary == "periodic":
        x = periodic_component(x)
    return x - median_filter3(x) if residual else x


def half_power_spectrum(x: torch.Tensor, window: str = "none", channels: str = "mean",
                        residual: bool = False, boundary: str = "none") -> torch.Tensor:
    """``power_spectrum`` on the non-negative horizontal frequencies only (``rfft2``), half the work.
    ``(B, C, H, W) -> (B, H, W // 2 + 1)``; ``full_spectrum`` restores the rest by symmetry."""
    x = _prepare(x, channels, residual, boundary)
    w = window_2d(x.shape[-2], x.shape[-1], window, x.dtype, x.device)
    spec = torch.view_as_real(torch.fft.rfft2(mean_free(x) * w))  # (B, C, H, W//2+1, 2)
    return spec.square().sum(dim=-1).mean(dim=1) / w.square().sum()


def full_spectrum(half: torch.Tensor, width: int) -> torch.Tensor:
    """Rebuild ``(..., H, W)`` from a real signal's half spectrum ``(..., H, W // 2 + 1)``:
    P[u, v] = P[-u mod H, W - v] for the missing columns."""
    missing = width - half.shape[-1]  # columns v = W//2+1 .. W-1
    if missing <= 0:
        return half[..., :width]
    mirrored = half[..., 1:missing + 1].flip(-1)  # columns W-v for v = W//2+1 .. W-1
    mirrored = torch.roll(mirrored.flip(-2), shifts=1, dims=-2)  # rows -u mod H
    return torch.cat([half, mirrored], dim=-1)


def power_spectrum(x: torch.Tensor, window: str = "none", channels: str = "mean",
                   residual: bool = False, boundary: str = "none") -> torch.Tensor:
    """Power per DFT bin, ``(B, C, H, W) -> (B, H, W)`` (unshifted: DC at [0, 0]).

    |FFT2(w * x~)|^2 / sum(w^2) per channel, averaged over channels (``channels="mean"``) or taken
    on the BT.601 luma of RGB input (``"luma"``). ``residual=True`` first subtracts a 3x3 median
    filtered copy (the high-pass residual of Wang et al. 2020); ``boundary="periodic"`` first takes
    the periodic component (no cross of boundary leakage). The window multiplies the mean-free image.
    With ``window="none"`` the mean over bins equals the mean-free energy per pixel (Parseval).
    """
    return full_spectrum(half_power_spectrum(x, window, channels, residual, boundary), x.shape[-1])


def mean_log_spectrum(power: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """log10 of the batch-mean power, fftshifted so DC is at the centre. ``(B, H, W) -> (H, W)``."""
    return torch.fft.fftshift(torch.log10(power.mean(dim=0) + eps), dim=(-2, -1))


def radial_bins(height: int, width: int | None = None, device=None) -> torch.Tensor:
    """Bin index of every bin of an ``height x width`` spectrum: round(n * radius), radius in
    cycles/pixel (numpy ``fftfreq`` per axis), n the shorter side. ``-> (H, W)`` long."""
    width = height if width is None else width
    n = min(height, width)
    fy = torch.fft.fftfreq(height, device=device, dtype=torch.float64)
    fx = torch.fft.fftfreq(width, device=device, dtype=torch.float64)
    return torch.round(torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2) * n).long()


def radial_profile(power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Azimuthal average of spectra. ``(..., H, W) -> (freqs (K,), profile (..., K))``.

    Bin k = 1 .. K holds the bins whose radius rounds to k/n cycles/pixel (n = min(H, W)), out to
    the corner (K = n/sqrt(2) for a square spectrum), so the Nyquist corner (H/2, W/2), where the
    classic checkerboard lives, is in the last bin. DC (k = 0) is left out. Vectorised: one
    ``index_add`` for the whole batch.
    """
    if power.ndim < 2 or min(power.shape[-2:]) < 2:
        raise ValueError(f"radial_profile needs spectra (..., H, W) with H, W >= 2, got {tuple(power.shape)}")
    h, w = power.shape[-2:]
    k = radial_bins(h, w, power.device).flatten()
    top = int(k.max())
    flat = power.reshape(-1, h * w)
    sums = flat.new_zeros(flat.shape[0], top + 1).index_add_(1, k, flat)
    counts = torch.bincount(k, minlength=top + 1).to(flat.dtype)
    profile = (sums[:, 1:] / counts[1:]).reshape(*power.shape[:-2], top)
    freqs = torch.arange(1, top + 1, device=power.device, dtype=power.dtype) / min(h, w)
    return freqs, profile


def corner_power(power: torch.Tensor) -> torch.Tensor:
    """The power at the Nyquist corner (H/2, W/2) of unshifted spectra ``(..., H, W) -> (...)``,
    where a (-1)^(i+j) checkerboard puts all of its energy (even H and W)."""
    h, w = power.shape[-2:]
    if h % 2 or w % 2:
        raise ValueError(f"the Nyquist corner needs even sides, got {h}x{w}")
    return power[..., h // 2, w // 2]


def relative_spectral_error(profile_fake: torch.Tensor, profile_real: torch.Tensor) -> torch.Tensor:
    """P_fake(f) / P_real(f) - 1 per bin (Schwarz et al. 2021). Shapes broadcast."""
    return profile_fake / profile_real - 1


def spectral_distance(profile_fake: torch.Tensor, profile_real: torch.Tensor, freqs: torch.Tensor,
                      f_min: float = 0.0, floor: float = 0.0) -> torch.Tensor:
    """Mean over the bins with f >= f_min of |log10(P_fake + floor) - log10(P_real + floor)|, in
    decades; ``floor > 0`` keeps it finite when a profile has empty (zero-power) bins.
    ``(..., K), (..., K), (K,) -> (...)``."""
    keep = freqs >= f_min
    if not bool(keep.any()):
        raise ValueError(f"no profile bin has f >= f_min={f_min} (max f = {float(freqs.max()):.3f})")
    d = (torch.log10(profile_fake + floor) - torch.log10(profile_real + floor)).abs()
    return d[..., keep].mean(dim=-1)
