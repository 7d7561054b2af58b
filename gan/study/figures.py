"""Figures of a study: summary bars, training curves, stage curves, the comparison figure."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, NullFormatter  # noqa: E402

from gan.measure import metrics as M  # noqa: E402
from gan.measure import names as N  # noqa: E402
from gan.measure.figures import save_figure  # noqa: E402
from gan.study.jobs import PROGRESS, Job, curve, group_label, grouped, last_step, stage_depth_names  # noqa: E402
from gan.study.stats import STILL_MOVING, Comparison  # noqa: E402


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
        scale, unit = (M.units(metric)[0], " (%)") if metric in percent else (1.0, "")
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
            ax.plot(steps, M.PERCENT * np.asarray(mean, dtype=float), color=colour, lw=1.2, ls="-" if period == 2 else "--",
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
    95% interval, coloured by the verdict, the equivalence margin shaded (``gan.study.stats.Comparison`` rows)."""
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


def plot_bars(path: Path, keys: list[str], rows: list[dict[str, Any]], metrics: list[str]) -> None:
    rows = [r for r in rows if r["n"] > 0]
    fig = summary_bars([group_label(r, keys) for r in rows], metrics,
                       {m: [r[m] for r in rows] for m in metrics},
                       {m: [r[f"{m} ci_low"] for r in rows] for m in metrics},
                       {m: [r[f"{m} ci_high"] for r in rows] for m in metrics},
                       {m: all(r[f"{m} scale"] == "log" for r in rows) for m in metrics})
    save_figure(fig, path, dpi=110)


def plot_curves(path: Path, keys: list[str], jobs: list[Job], metrics: tuple[str, ...],
                fallback: tuple[str, ...] = N.SUMMARY) -> None:
    """Each metric against the training step per group (mean over seeds, 95% band), the points of
    the progress table marked, depths in % on a symmetric log axis, the headline window zoomed; the
    first two logged ``fallback`` metrics if none of ``metrics`` was logged."""
    groups = grouped(keys, jobs)
    logged = {k for j in jobs for r in j.records for k in r}
    metrics = tuple(m for m in metrics if m in logged) or tuple(m for m in fallback if m in logged)[:2]
    curves = {m: {label: c for label, members in groups.items() if (c := curve(members, m))} for m in metrics}
    curves = {m: c for m, c in curves.items() if c}
    if curves:
        end = last_step(jobs)
        window = max((j.headline_window for j in jobs), default=0.0)
        percent = [m for m in curves if (info := M.find(m)) is not None and info.percent]
        save_figure(training_curves(curves, [round(s * end) for s in PROGRESS], percent=percent,
                                    window=(end * (1 - window), end) if window > 0 else None), path, dpi=110)


def plot_generator_stages(path: Path, keys: list[str], jobs: list[Job], generator: str = "raw") -> None:
    """Each group's depth of every generator stage against the training step (mean over seeds)."""
    pairs = stage_depth_names(jobs, generator)
    if not pairs:
        return
    groups = grouped(keys, jobs)
    curves = {label: {(s, p): c for s, p in pairs
                      if (c := curve(members, N.of_generator(N.stage_name(s, N.DEPTH.format(p=p)), generator)))}
              for label, members in groups.items()}
    save_figure(generator_stages_figure(curves), path, dpi=110)


def plot_comparison(path: Path, rows: list[Comparison]) -> None:
    save_figure(comparison_figure(rows), path, dpi=110)
