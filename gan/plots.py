"""Figure builders shared by training, ``gan.analyze`` and ``experiments/``. They take arrays and
return matplotlib figures (or RGB tensors); nothing here computes a metric."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, NullFormatter  # noqa: E402


def _np(a) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=float)


def colorize(image, vmin: float, vmax: float, cmap: str = "inferno", scale: int = 1) -> torch.Tensor:
    """A 2-D array ``(H, W)`` -> RGB tensor ``(3, H*scale, W*scale)`` in [0, 1] via a colormap."""
    a = np.clip((_np(image) - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    rgb = torch.from_numpy(plt.get_cmap(cmap)(a)[..., :3]).permute(2, 0, 1).float()
    return rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)


def radial_profiles_figure(freqs, profiles: Mapping[str, object], title: str = "",
                           bands: Mapping[str, tuple[object, object]] | None = None):
    """Log-log radial power profiles, one line per name; optional (low, high) bands."""
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    f = _np(freqs)
    for name, prof in profiles.items():
        line, = ax.loglog(f, _np(prof), label=name, lw=1.6)
        if bands and name in bands:
            lo, hi = bands[name]
            ax.fill_between(f, _np(lo), _np(hi), color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if f.min() <= t <= f.max()])
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())  # log-axis minor labels overlap
    ax.set_xlabel("spatial frequency (cycles/pixel)")
    ax.set_ylabel("mean power")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.13, top=0.92 if title else 0.97)  # tight_layout costs a draw
    return fig


def spectra_figure(log_spectra: Mapping[str, object], title: str = "", ratio_of: Sequence[str] | None = None):
    """Mean log10 power spectra side by side on one colour scale, plus optionally the ratio
    (log10 fake - log10 real) of two of them on a symmetric diverging scale."""
    names = list(log_spectra)
    arrays = [_np(log_spectra[n]) for n in names]
    vmin, vmax = min(a.min() for a in arrays), max(a.max() for a in arrays)
    ncols = len(names) + (1 if ratio_of else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(2.6 * ncols + 0.6, 2.8), dpi=100, squeeze=False)
    for ax, name, a in zip(axes[0], names, arrays):
        im = ax.imshow(a, cmap="inferno", vmin=vmin, vmax=vmax, extent=(-0.5, 0.5, 0.5, -0.5))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("f_x (cycles/px)", fontsize=8)
    axes[0][0].set_ylabel("f_y (cycles/px)", fontsize=8)
    fig.colorbar(im, ax=axes[0][: len(names)].tolist(), label="log10 power", shrink=0.85)
    if ratio_of:
        r = _np(log_spectra[ratio_of[0]]) - _np(log_spectra[ratio_of[1]])
        lim = max(abs(r).max(), 1e-6)
        ax = axes[0][-1]
        im = ax.imshow(r, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=(-0.5, 0.5, 0.5, -0.5))
        ax.set_title(f"{ratio_of[0]} / {ratio_of[1]}", fontsize=9)
        ax.set_xlabel("f_x (cycles/px)", fontsize=8)
        fig.colorbar(im, ax=ax, label="log10 ratio", shrink=0.85)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
