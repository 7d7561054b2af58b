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

from gan.stats import STILL_MOVING  # noqa: E402

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


def _curve_panel(ax, curves: Mapping[str, tuple], scale: float, lo: float, hi: float, legend: bool) -> None:
    """One metric's curves (mean with its band), values x ``scale``, clipped to [lo, hi]."""
    for label, (steps, mean, low, high, n) in curves.items():
        mean, low, high = (np.clip(scale * np.asarray(v, dtype=float), lo, hi) for v in (mean, low, high))
        line, = ax.plot(steps, mean, label=f"{label} (n={n})" if legend else None, lw=1.2)
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, lw=0)
    ax.grid(True, alpha=0.3)


def training_curves(curves: Mapping[str, Mapping[str, tuple]], marks: Sequence[int] = (),
                    percent: Sequence[str] = (), window: tuple[float, float] | None = None):
    """Metrics vs training step, one row per metric: ``curves[metric][label] = (steps, mean, low, high,
    n)``, the mean over seeds with its 95% band. ``percent``: metrics drawn in % on a symmetric log
    axis (linear within 0.1%), so an early transient of tens of % and a headline of a few tenths
    both read; ``window``: (first, last) step of the headline window, drawn again zoomed on a
    linear axis in a second column. ``marks``: steps marked by dotted lines."""
    metrics = list(curves)
    cols = 2 if window else 1
    fig, axes = plt.subplots(len(metrics), cols, figsize=(7 * cols, 3.0 * len(metrics)), layout="constrained",
                             squeeze=False)
    for row, metric in enumerate(metrics):
        scale, unit = (100.0, " (%)") if metric in percent else (1.0, "")
        ax = axes[row, 0]
        later = [np.r_[lo[1:], hi[1:]] for _, _, lo, hi, _ in curves[metric].values() if len(lo) > 1]
        later = np.concatenate([v[np.isfinite(v)] for v in later]) if later else np.array([])
        if metric in percent:
            _curve_panel(ax, curves[metric], scale, -np.inf, np.inf, legend=row == 0)
            ax.set_yscale("symlog", linthresh=0.1)
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.axhline(0, color="black", lw=0.6)
        else:  # the span after the first evaluation: an untrained generator's value is drawn at the edge
            lo, hi = (later.min(), later.max()) if later.size else (-np.inf, np.inf)
            _curve_panel(ax, curves[metric], scale, lo, hi, legend=row == 0)
            if later.size:
                pad = 0.05 * max(hi - lo, 1e-9)
                ax.set_ylim(lo - pad, hi + pad)
        for s in marks:
            ax.axvline(s, color="grey", lw=0.7, ls=":")
        ax.set_ylabel(metric + unit, fontsize=8)
        if window:
            ax.axvspan(*window, color="0.92", zorder=0)
            zoom = axes[row, 1]
            inside = {label: tuple(np.asarray(v)[[window[0] <= t <= window[1] for t in c[0]]] for v in c[:4]) + (c[4],)
                      for label, c in curves[metric].items()}
            values = np.concatenate([scale * np.r_[c[2], c[3]] for c in inside.values()]) if inside else np.array([])
            values = values[np.isfinite(values)]
            _curve_panel(zoom, inside, scale, -np.inf, np.inf, legend=False)
            if values.size:
                pad = 0.05 * max(values.max() - values.min(), 1e-9)
                zoom.set_ylim(values.min() - pad, values.max() + pad)
            zoom.set_title("the headline window" if row == 0 else "", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    fig.legend(loc="outside lower center", ncols=4, fontsize=7)
    fig.suptitle("over training: mean over seeds and its 95% t-interval; depths in % of the contrast (symmetric log "
                 "axis, linear within 0.1%); grey: the headline window; dotted: 25/50/100% of training", fontsize=9)
    return fig


def generator_stages_figure(curves: Mapping[str, Mapping[tuple[int, int], tuple]]):
    """Depth of every generator stage's output against the training step, one panel per group:
    ``curves[group][(stage, period)] = (steps, mean, low, high, n)`` (fractions, drawn in %); P = 2
    solid, a stage's longer periods dashed, one colour per stage, symmetric log axis."""
    groups = list(curves)
    cols = min(4, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, sharey=True,
                             layout="constrained")
    colours = plt.get_cmap("viridis")
    stages = sorted({s for c in curves.values() for s, _ in c})
    for ax, group in zip(axes.flat, groups):
        for (stage, period), (steps, mean, *_) in sorted(curves[group].items()):
            colour = colours(stage / max(len(stages) - 1, 1))
            ax.plot(steps, 100 * np.asarray(mean, dtype=float), color=colour, lw=1.2, ls="-" if period == 2 else "--",
                    label=f"stage {stage}, P={period}")
        ax.set_yscale("symlog", linthresh=0.1)
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(group, fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("depth (% of contrast)")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=6, fontsize=7)
    fig.suptitle("depth of each generator stage's output (mean over seeds): P=2 solid (the stage's own x2), "
                 "longer periods dashed (patterns of earlier stages)", fontsize=9)
    return fig


VERDICT_COLOURS = {"lower": "tab:green", "higher": "tab:red", "equivalent": "tab:blue", "undecided": "grey",
                   STILL_MOVING: "tab:orange"}


def comparison_figure(rows: Sequence):
    """Each group minus the reference, per metric: the Hodges-Lehmann shift with its Mann-Whitney
    95% interval, coloured by the verdict, the equivalence margin shaded (``gan.stats.Comparison`` rows)."""
    metrics = list(dict.fromkeys(r.metric for r in rows))
    groups = list(dict.fromkeys(r.group for r in rows))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics) + 2.0, 0.38 * len(groups) + 1.6),
                             squeeze=False, layout="constrained")
    for k, (ax, m) in enumerate(zip(axes[0], metrics)):
        for r in (r for r in rows if r.metric == m):
            y = groups.index(r.group)
            ax.errorbar([r.shift], [y], xerr=[[r.shift - r.shift_low], [r.shift_high - r.shift]], fmt="o",
                        color=VERDICT_COLOURS[r.verdict], capsize=3, ms=5)
        margin = next((r.margin for r in rows if r.metric == m), float("nan"))
        if margin == margin:  # not NaN
            ax.axvspan(-margin, margin, color="tab:blue", alpha=0.08, lw=0)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(groups)), groups if k == 0 else [""] * len(groups), fontsize=8)
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_xlabel(f"difference from {rows[0].reference}")
        ax.set_title(m, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", ls="none", color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle("Hodges-Lehmann shift, Mann-Whitney 95% interval; verdicts from Holm-adjusted rank p < 0.05 that "
                 "survive the runs' remaining movement, else equivalence within the shaded margin", fontsize=10)
    return fig
