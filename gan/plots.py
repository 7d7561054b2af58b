"""Figures: built from arrays (or saved ``.npz``/``.json`` figure data), never from a model.

Shared by training (TensorBoard figures), ``gan.analyze``, ``gan.summarize`` and the scripts in
``experiments/``. Nothing here computes a metric. Compute, save, plot are separate steps:
``save_figure_data`` writes a figure's arrays and numbers, ``load_figure_data`` reads them back.
"""
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
    """Write ``out/stem.npz`` (arrays) and ``out/stem.json`` (numbers and settings)."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{stem}.npz", **arrays)
    (out / f"{stem}.json").write_text(json.dumps(info, indent=2))


def load_figure_data(out: Path, stem: str) -> tuple[np.lib.npyio.NpzFile, dict]:
    """Read back what ``save_figure_data`` wrote."""
    return np.load(out / f"{stem}.npz"), json.loads((out / f"{stem}.json").read_text())


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


def colorize(image, vmin: float, vmax: float, cmap: str = "inferno", scale: int = 1) -> torch.Tensor:
    """A 2-D array ``(H, W)`` -> RGB tensor ``(3, H*scale, W*scale)`` in [0, 1] via a colormap."""
    a = np.clip((_np(image) - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    rgb = torch.from_numpy(plt.get_cmap(cmap)(a)[..., :3]).permute(2, 0, 1).float()
    return rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)


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


def summary_bars(labels: Sequence[str], metrics: Sequence[str], means: Mapping[str, Sequence[float]],
                 lows: Mapping[str, Sequence[float]], highs: Mapping[str, Sequence[float]],
                 log_scale: Mapping[str, bool] | None = None):
    """One panel per metric: the estimate of each group as a dot with its interval; positive
    quantities (``log_scale[m]``) on a log axis, where their log-scale intervals belong."""
    n, cols = len(labels), min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols + 2.2, (0.32 * n + 1.3) * rows), squeeze=False,
                             layout="constrained")
    y = np.arange(n)
    for k, (ax, m) in enumerate(zip(axes.flat, metrics)):
        mean, lo, hi = (np.asarray(d[m], dtype=float) for d in (means, lows, highs))
        err = np.nan_to_num(np.vstack([mean - lo, hi - mean]), nan=0.0)
        ax.errorbar(mean, y, xerr=err, fmt="o", color="tab:blue", ecolor="black", capsize=3, ms=5)
        ends = np.concatenate([v[np.isfinite(v)] for v in (lo, mean, hi)])
        if ends.size == 0:
            pass
        elif log_scale and log_scale.get(m) and ends.min() > 0 and ends.max() > 10 * ends.min():
            ax.set_xscale("log")  # over a decade or more; a narrower range reads better on a linear axis
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif ends.min() < 0 < ends.max():
            ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, labels if k % cols == 0 else [""] * n, fontsize=8)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_title(m, fontsize=9)
        ax.grid(True, axis="x", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.suptitle("final metrics over seeds: estimate with 95% interval (log axis: geometric mean, log-scale interval)",
                 fontsize=10)
    return fig


def training_curves(curves: Mapping[str, Mapping[str, tuple]], stages: Sequence[int] = ()):
    """Metrics vs training step, one panel per metric: ``curves[metric][label] = (steps, mean, low,
    high, n)``, the mean over seeds with its 95% band. ``stages``: steps marked by vertical lines.
    A panel's axis spans the values after the first evaluation (an untrained generator's value
    would flatten the rest; it is drawn at the edge)."""
    metrics = list(curves)
    fig, axes = plt.subplots(len(metrics), 1, figsize=(8, 3.2 * len(metrics)), layout="constrained", squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        later = [np.r_[lo[1:], hi[1:]] for _, _, lo, hi, _ in curves[metric].values() if len(lo) > 1]
        later = [v[np.isfinite(v)] for v in later]
        span = (min(v.min() for v in later if v.size), max(v.max() for v in later if v.size)) \
            if any(v.size for v in later) else None
        lo, hi = span if span else (-np.inf, np.inf)
        for label, (steps, mean, low, high, n) in curves[metric].items():
            line, = ax.plot(steps, np.clip(mean, lo, hi), label=f"{label} (n={n})", lw=1.2)
            ax.fill_between(steps, np.clip(low, lo, hi), np.clip(high, lo, hi), color=line.get_color(), alpha=0.15, lw=0)
        for s in stages:
            ax.axvline(s, color="grey", lw=0.7, ls=":")
        if span:
            pad = 0.05 * max(span[1] - span[0], 1e-9)
            ax.set_ylim(span[0] - pad, span[1] + pad)
        ax.set_ylabel(metric, fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel("training step")
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=2)
    fig.suptitle("over training: mean over seeds and its 95% t-interval; dotted: the stages of the stage table",
                 fontsize=9)
    return fig


VERDICT_COLOURS = {"lower": "tab:green", "higher": "tab:red", "not settled": "grey",
                   "not settled (not converged)": "tab:orange"}


def comparison_figure(rows: Sequence):
    """Each group minus the reference, per metric: the difference with its Welch interval, coloured
    by the verdict (``gan.stats.Comparison`` rows)."""
    metrics = list(dict.fromkeys(r.metric for r in rows))
    groups = list(dict.fromkeys(r.group for r in rows))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics) + 2.0, 0.38 * len(groups) + 1.6),
                             squeeze=False, layout="constrained")
    for k, (ax, m) in enumerate(zip(axes[0], metrics)):
        for r in (r for r in rows if r.metric == m):
            y = groups.index(r.group)
            ax.errorbar([r.difference], [y], xerr=[[r.difference - r.low], [r.high - r.difference]], fmt="o",
                        color=VERDICT_COLOURS[r.verdict], capsize=3, ms=5)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(groups)), groups if k == 0 else [""] * len(groups), fontsize=8)
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_xlabel(f"difference from {rows[0].reference}")
        ax.set_title(m, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", ls="none", color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle("Welch 95% intervals; verdicts from Holm-adjusted p < 0.05", fontsize=10)
    return fig
