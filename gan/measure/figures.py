"""Figures of measurements: spectra, radial profiles, image grids, and figure data saved and read back
(``save_figure_data`` / ``load_figure_data``). Built from arrays, never from a model; nothing here computes a
metric. Compute, save, plot are separate steps."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, NullFormatter  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

SPECTRUM_EXTENT = (-0.5, 0.5, 0.5, -0.5)  # cycles/pixel, DC at the centre


def _np(a) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=float)


# ---------------------------------------------------------------------------------------------
# Figure data


def save_figure_data(out: Path, stem: str, arrays: dict[str, np.ndarray], info: dict) -> None:
    """Write ``out/stem.npz`` (arrays) and ``out/stem.json`` (numbers and settings), each whole or not
    at all (written aside, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    for path, write in ((out / f"{stem}.npz", lambda f: np.savez_compressed(f, **arrays)),
                        (out / f"{stem}.json", lambda f: f.write(json.dumps(info, indent=2).encode()))):
        part = path.with_name(path.name + ".part")
        with open(part, "wb") as f:
            write(f)
        part.replace(path)


def load_figure_data(out: Path, stem: str) -> tuple[np.lib.npyio.NpzFile, dict]:
    """Read back what ``save_figure_data`` wrote."""
    return np.load(out / f"{stem}.npz"), json.loads((out / f"{stem}.json").read_text())


def write_figure(out: Path, stem: str, info: dict | None, plot, table) -> None:
    """A figure script's last steps: save ``info`` as ``out/stem.json`` (None: keep what is there),
    draw it (``plot(out)`` returns the figure's path), print ``table(info)`` and that path."""
    if info is not None:
        save_figure_data(out, stem, {}, info)
    path = plot(out)
    print(table(load_figure_data(out, stem)[1]))
    print(f"wrote {path}")


def save_figure(fig, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **kwargs)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Building blocks


def image_grid(images, nrow: int = 4) -> np.ndarray:
    """Generator-range images ``(N, C, H, W)`` in [-1, 1] -> one RGB grid ``(H', W', 3)`` in [0, 1]."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    grid = make_grid(x.float() * 0.5 + 0.5, nrow=nrow, padding=1).permute(1, 2, 0)
    return grid.clamp(0, 1).numpy()


def _without_dc(log_spectrum) -> np.ndarray:
    """A centred log-spectrum with its DC bin (zero power after mean removal) masked as NaN."""
    a = _np(log_spectrum).copy()
    a[a.shape[0] // 2, a.shape[1] // 2] = np.nan
    return a


def show_spectra(axes, spectra: Sequence, titles: Sequence[str] | None = None, fontsize: int = 8):
    """Mean log10 spectra (DC at the centre, left blank) on ``axes``, one colour scale; returns the
    last image (for a colour bar)."""
    arrays = [_without_dc(s) for s in spectra]
    vmin, vmax = min(np.nanmin(a) for a in arrays), max(np.nanmax(a) for a in arrays)
    im = None
    for i, (ax, a) in enumerate(zip(axes, arrays)):
        im = ax.imshow(a, cmap="inferno", vmin=vmin, vmax=vmax, extent=SPECTRUM_EXTENT)
        if titles:
            ax.set_title(titles[i], fontsize=fontsize)
    return im


# ---------------------------------------------------------------------------------------------
# Spectra of one image set against another (training, gan.analyze)


def frequency_axis(ax, freqs) -> None:
    """Label a log frequency axis over ``freqs`` (cycles/pixel) with a few plain numbers: the
    default log-axis minor labels overlap over the 1-2 decades an image spectrum spans."""
    f = _np(freqs)
    ax.set_xticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if f.min() <= t <= f.max()])
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("spatial frequency (cycles/pixel)")


def radial_profiles_figure(freqs, profiles: Mapping[str, object], title: str = "",
                           bands: Mapping[str, tuple[object, object]] | None = None,
                           corners: Mapping[str, float] | None = None):
    """Log-log radial power profiles, one line per name; optional (low, high) bands, and the
    power of the Nyquist corner bin (H/2, W/2) alone as a marker at f = 1/sqrt(2)."""
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    f = _np(freqs)
    for name, prof in profiles.items():
        line, = ax.loglog(f, _np(prof), label=name, lw=1.6)
        if bands and name in bands:
            lo, hi = bands[name]
            ax.fill_between(f, _np(lo), _np(hi), color=line.get_color(), alpha=0.2, lw=0)
        if corners and name in corners:
            ax.plot([0.5 ** 0.5], [float(_np(corners[name]))], marker="*", ms=9, ls="none", color=line.get_color(),
                    label=f"{name}: (N/2, N/2) bin")
    frequency_axis(ax, f)
    ax.set_ylabel("mean power")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.13, top=0.92 if title else 0.97)  # tight_layout costs a draw
    return fig


def spectra_figure(log_spectra: Mapping[str, object], title: str = "", ratio_of: Sequence[str] | None = None):
    """Mean log10 power spectra side by side on one colour scale, plus optionally the ratio
    (log10 fake - log10 real) of two of them on a symmetric diverging scale. DC is left blank."""
    names = list(log_spectra)
    ncols = len(names) + (1 if ratio_of else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(2.9 * ncols + 1.2, 3.1), dpi=100, squeeze=False, sharey=True,
                             layout="constrained")  # laid out in the one draw that saves it
    im = show_spectra(axes[0], [log_spectra[n] for n in names], names, fontsize=9)
    for ax in axes[0]:
        ax.set_xlabel("f_x (cycles/px)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("f_y (cycles/px)", fontsize=8)
    fig.colorbar(im, ax=axes[0][: len(names)].tolist(), label="log10 power", shrink=0.9, pad=0.02)
    if ratio_of:
        r = _without_dc(log_spectra[ratio_of[0]]) - _without_dc(log_spectra[ratio_of[1]])
        lim = max(np.nanmax(np.abs(r)), 1e-6)
        ax = axes[0][-1]
        im = ax.imshow(r, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=SPECTRUM_EXTENT)
        ax.set_title(f"{ratio_of[0]} / {ratio_of[1]}", fontsize=9)
        fig.colorbar(im, ax=ax, label="log10 ratio", shrink=0.9, pad=0.02)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# Sweep summaries (gan.summarize)
