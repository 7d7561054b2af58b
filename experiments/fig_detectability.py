"""Detectability against the whole grid's depth, one point per run of a sweep.

    python experiments/fig_detectability.py multirun/study [multirun/study_more ...] [--out figures/detectability]
        [--generator raw|ema]

Reads each finished run's headline numbers in one or several sweep folders (``gan.summarize``: the
whole grid's distance from the data over the headline window, and the published detectors' held-out
AUC at the last evaluation),
writes ``detectability.json`` (per run: upsampler, seed, depth, each AUC with its interval) and
``detectability.png`` drawn from it alone, and prints the table per upsampler.
"""
from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gan.measure.metrics import PERCENT, number_text
from gan.measure import names as N
from gan.measure.detectors import DETECTORS
from gan.measure.figures import load_figure_data, save_figure, write_figure
from gan.study.jobs import SummaryError, load_jobs


def compute(sweeps: list[Path], generator: str) -> dict:
    runs = []
    for job in load_jobs(sweeps):
        if not job.finished:
            continue
        numbers = job.numbers
        row = {"run": job.path.name, "upsampler": job.config.get("choice.upsampler", job.config.get("upsampler._target_")),
               "seed": job.config.get("seed"), "depth": numbers.get(N.of_generator(N.HEADLINE, generator), math.nan)}
        for name in DETECTORS:
            auc = N.of_generator(N.DETECTOR_AUC.format(d=name), generator)
            row[name] = [numbers.get(auc + suffix, math.nan) for suffix in ("", "_low", "_high")]
        runs.append(row)
    return {"sweep": " ".join(map(str, sweeps)), "generator": generator, "runs": runs}


def table(info: dict) -> str:
    groups = defaultdict(list)
    for r in info["runs"]:
        groups[r["upsampler"]].append(r)
    lines = ["| upsampler | runs | whole-grid depth (mean) | " + " | ".join(f"{d} AUC (mean, range)" for d in DETECTORS)
             + " |", "|---|---|---|" + "---|" * len(DETECTORS)]
    for name, rows in sorted(groups.items()):
        cells = []
        for d in DETECTORS:
            a = np.array([r[d][0] for r in rows])
            cells.append(f"{a.mean():.3f} ({a.min():.3f}-{a.max():.3f})")
        depth = number_text(N.HEADLINE, np.mean([r["depth"] for r in rows]))
        lines.append(f"| {name} | {len(rows)} | {depth} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out: Path) -> Path:
    _, info = load_figure_data(out, "detectability")
    fig, axes = plt.subplots(1, len(DETECTORS), figsize=(5.2 * len(DETECTORS), 4), sharey=True, layout="constrained")
    names = sorted({r["upsampler"] for r in info["runs"]})
    colours = dict(zip(names, plt.get_cmap("tab10").colors))
    for ax, d in zip(axes, DETECTORS):
        for name in names:
            rows = [r for r in info["runs"] if r["upsampler"] == name]
            ax.errorbar([PERCENT * r["depth"] for r in rows], [r[d][0] for r in rows],
                        yerr=[[r[d][0] - r[d][1] for r in rows], [r[d][2] - r[d][0] for r in rows]],
                        fmt="o", ms=4, capsize=2, color=colours[name], label=name)
        ax.axhline(0.5, color="k", lw=0.5)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("whole-grid depth, distance from the data (% of contrast)")
        ax.set_title(f"{d} detector", fontsize=10)
    axes[0].set_ylabel("held-out AUC, 95% interval")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"one point per run of {info['sweep']} ({info['generator']} generator)", fontsize=10)
    return save_figure(fig, out / "detectability.png", dpi=110)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", type=Path, nargs="+", help="sweep folders (seeds added in a second folder join their groups)")
    ap.add_argument("--out", type=Path, default=Path("figures/detectability"))
    ap.add_argument("--generator", choices=list(N.GENERATORS), default="raw")
    args = ap.parse_args(argv)
    try:
        info = compute(args.sweep, args.generator)
    except SummaryError as e:  # a missing or empty folder, a run in two folders: one line, exit 2
        ap.error(str(e))
    write_figure(args.out, "detectability", info, plot, table)


if __name__ == "__main__":
    main()
