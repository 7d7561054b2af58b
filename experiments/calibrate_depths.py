"""Do the depths' standard errors and intervals hold? Coverage over independent sets.

    python experiments/calibrate_depths.py [--draws 200] [--images 61440] [--sources "white noise" "dead leaves"
        strokes] [--n 64 256 1024] [--sizes 16 32 64] [--period 2] [--octave Q] [--seed 0] [--out figures/uncertainty]
        [--plot-only]

For every source, sample count n and image size: ``--draws`` independent clean sets of n images
(fewer where ``--images`` caps the images a cell samples: 60 sets of 1024 by default),
and the same sets with a pattern of period P (``--period``; with ``--octave Q``, of period Q, read as the
octave Q of the P-periodic patterns, ``gan.measure.depths.GroupPatterns.octave``) put in at a known
strength: one that follows the content, ``x + a (x - mean x) c`` (a = 1, 3, 10%), and one of fixed
amplitude, ``x + b s c`` with s the population's RMS contrast (b = 1, 3%: a generator bias, the same in every sample whatever the
set's own contrast). Each set's depths (``gan.measure.depths.phase_depths``: phase, fixed, replica, total)
come with a standard error and a 95% interval; per cell and part the script reports the SD of the
estimate over the draws divided by the mean reported SE (1 when the SE is right) and the share of
draws whose interval holds the truth (95% when it is right). The truth is the population value:
known in closed form for the stationary sources, white noise and dead leaves (clean: 0; fixed: b
fixed and total; ``closed_form``), and otherwise (strokes; a pattern that follows the content,
about a / (1 + a^2) phase and total, and some replica depth above P = 2) the same estimator on an
independent set of ``TRUTH_IMAGES`` images (16 groups of 1024; its value and standard error are
kept beside the closed form for the others: at n = 1024 its own error is a quarter of a set's).

Writes ``uncertainty.json`` (every cell, after each one: an interrupted run goes on from the cells
it has) and ``uncertainty.png``; ``markdown_table`` gives the
summary table of docs/metrics.md (per condition and part, the range over the cells).
"""
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from gan.data.procedural import dead_leaves_images, stroke_images
from gan.measure import artifacts
from gan.measure import depths as D
from gan.measure.figures import load_figure_data, save_figure, save_figure_data
from gan.measure.names import periods_for

SOURCES = {
    "white noise": lambda n, size, seed: torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(seed)),
    "dead leaves": lambda n, size, seed: dead_leaves_images(n, size, seed=seed),
    "strokes": lambda n, size, seed: stroke_images(n, size, seed=seed),
}
#: Condition -> (kind, strength): a pattern that follows the content, or one of fixed amplitude.
CONDITIONS = {"clean": ("clean", 0.0), "content 1%": ("content", 0.01), "content 3%": ("content", 0.03),
              "content 10%": ("content", 0.10), "fixed 1%": ("fixed", 0.01), "fixed 3%": ("fixed", 0.03)}
PARTS = ("phase", "fixed", "replica", "total")
TRUTH_IMAGES = 16384
#: What the issue of calibration asks of every cell: SD / SE and the interval's coverage.
SD_SE_RANGE = (0.8, 1.25)
COVERAGE_RANGE = (0.90, 0.98)


def with_pattern(x: torch.Tensor, kind: str, strength: float, contrast: float, period: int) -> torch.Tensor:
    """``x`` ``(N, C, H, W)`` with a +-1 pattern c of period P (a checkerboard at P = 2, the
    ``(-1)^(i // (P/2) + j // (P/2))`` blocks otherwise) that follows the content (``content``:
    strength a of the local contrast) or is fixed (``fixed``: strength b of the RMS contrast)."""
    if kind == "clean":
        return x
    h, w = x.shape[-2:]
    c = artifacts.checkerboard(2 * h // period, 2 * w // period, x.dtype, x.device)
    c = c.repeat_interleave(period // 2, 0).repeat_interleave(period // 2, 1)[:h, :w]
    if kind == "content":
        return x + strength * (x - x.mean(dim=(-2, -1), keepdim=True)) * c
    return x + strength * contrast * c


def patterns(x: torch.Tensor, period: int, octave: int | None, groups: int = D.DEPTH_GROUPS) -> D.GroupPatterns:
    """The P-periodic patterns of ``x`` ``(N, C, H, W)``, or their octave Q (``octave``)."""
    found = D.group_patterns(x, period, groups)
    return found if octave is None else found.octave(octave)


def truths(source: str, size: int, period: int, seed: int, conditions=tuple(CONDITIONS),
           octave: int | None = None) -> tuple[float, dict]:
    """The population's RMS contrast s and, per condition and part, the depth (with its standard
    error) of an independent set of ``TRUTH_IMAGES`` images (16 groups of 1024, in chunks of 4
    groups); a depth is a norm, so one below 0 (sampling noise) counts as 0."""
    chunks = [SOURCES[source](TRUTH_IMAGES // 4, size, seed + k).double() for k in range(4)]
    clean = D.GroupPatterns.merge([patterns(c, period, octave, groups=4) for c in chunks])
    contrast = math.sqrt(float(clean.levels["fixed"].mean()))  # the fixed part's level is the contrast s^2
    out = {}
    for name in conditions:
        kind, strength = CONDITIONS[name]
        pat = clean if kind == "clean" else D.GroupPatterns.merge(
            [patterns(with_pattern(c, kind, strength, contrast, octave or period), period, octave, groups=4)
             for c in chunks])
        found = D.depths(pat)
        out[name] = {p: {"value": max(found[p].value, 0.0), "se": found[p].se,
                         "closed_form": (closed_form(source, kind, strength) or {}).get(p)} for p in PARTS if p in found}
    return contrast, out


def closed_form(source: str, kind: str, strength: float) -> dict[str, float] | None:
    """The known value of each part for stationary sources (None for strokes, which are not). A
    pattern that follows the content is put in relative to each image's whole mean, which correlates
    more with the centre's pixels than with the border's (strongly for dead leaves' large shapes):
    its depth changes with the region a period reads, so its truth is the large set's estimate; its
    replica part too, which is not 0 above P = 2 (the pattern differs between the replicas of a
    period as the content under them does)."""
    if source == "strokes":
        return None
    fixed = strength if kind == "fixed" else 0.0
    if kind == "content":
        return {"fixed": fixed}
    return {"phase": 0.0, "fixed": fixed, "replica": 0.0, "total": fixed}


def cell(source: str, n: int, size: int, draws: int, period: int, seed: int, truth: tuple[float, dict],
         conditions=tuple(CONDITIONS), octave: int | None = None) -> dict:
    """Every condition's estimates over ``draws`` sets of ``n`` images against the ``truths``."""
    contrast, truths = truth
    estimates = {name: {p: [] for p in PARTS} for name in conditions}
    for k in tqdm(range(draws), desc=f"{source} n={n} {size}px", leave=False, disable=not sys.stderr.isatty()):
        x = SOURCES[source](n, size, seed + k).double()
        for name in conditions:
            kind, strength = CONDITIONS[name]
            found = D.depths(patterns(with_pattern(x, kind, strength, contrast, octave or period), period, octave))
            for p, d in found.items():
                estimates[name][p].append(list(d))
    out = {"source": source, "n": n, "size": size, "draws": draws, "contrast": contrast, "conditions": {}}
    for name in conditions:
        out["conditions"][name] = {}
        for p in PARTS:
            a = np.array(estimates[name][p]).reshape(-1, 4)  # (draws, 4): value, se, low, high
            if p not in truths[name] or len(a) == 0:
                continue  # a part the images are too small for (the replica depth at P = 8 on 32 px)
            known = truths[name][p]["closed_form"]
            truth = known if known is not None else truths[name][p]["value"]
            if not np.isfinite(a).all():
                continue
            sd, se = float(a[:, 0].std(ddof=1)), float(a[:, 1].mean())
            out["conditions"][name][p] = {
                "truth": truth, "large_set": truths[name][p]["value"], "large_set_se": truths[name][p]["se"],
                "closed_form": known,
                "mean": float(a[:, 0].mean()), "sd": sd, "mean_se": se, "sd_over_se": sd / se if se > 0 else math.nan,
                "coverage": float(np.mean((a[:, 2] <= truth) & (truth <= a[:, 3])))}
    return out


def noise_floor(source: str, ns: list[int], size: int, draws: int, seed: int) -> dict:
    """The depths of clean sets at every period the default reads at ``size`` (``periods_for``; the
    largest is the whole grid's): per n and period, over ``draws`` independent sets of a stationary
    source (truth 0 in closed form), the mean, the SD (the noise floor a clean generator reads),
    the mean reported SE and how often the 95% interval holds 0."""
    rows = []
    for n in ns:
        found: dict[int, list] = {p: [] for p in periods_for(size) if D.fits(p, size, size)}
        for k in tqdm(range(draws), desc=f"floor {source} n={n} {size}px", leave=False,
                      disable=not sys.stderr.isatty()):
            x = SOURCES[source](n, size, seed + 1000 * n + k).double()
            for p in found:
                found[p].append(list(D.depths(D.group_patterns(x, p, D.DEPTH_GROUPS))["total"]))
        for p, values in found.items():
            a = np.array(values)  # (draws, 4): value, se, low, high
            sd, se = float(a[:, 0].std(ddof=1)), float(a[:, 1].mean())
            rows.append({"n": n, "period": p, "mean": float(a[:, 0].mean()), "sd": sd, "mean_se": se,
                         "sd_over_se": sd / se if se > 0 else math.nan,
                         "coverage": float(np.mean((a[:, 2] <= 0) & (0 <= a[:, 3])))})
        print(f"floor {source} n={n} {size}px: done", flush=True)
    return {"source": source, "size": size, "draws": draws, "seed": seed, "rows": rows}


def floor_table(info: dict) -> str:
    """The noise floor as a Markdown table: per n and period, the total depth of clean sets (%)."""
    lines = [f"Total depth of clean {info['source']} sets at {info['size']} px, {info['draws']} sets per row "
             "(truth 0): mean, SD over the sets (the noise floor), mean reported SE, SD/SE and how often the 95% "
             "interval holds 0:", "", "| n | P | mean | SD | mean SE | SD/SE | coverage |", "|---|---|---|---|---|---|---|"]
    for r in info["rows"]:
        lines.append(f"| {r['n']} | {r['period']} | {100 * r['mean']:+.2g}% | {100 * r['sd']:.2g}% | "
                     f"{100 * r['mean_se']:.2g}% | {r['sd_over_se']:.2f} | {100 * r['coverage']:.0f}% |")
    return "\n".join(lines)


def draws_for(n: int, draws: int, images: int) -> int:
    """Sets per cell of ``n`` images: ``draws``, or as many as ``images`` images allow (at least 20)."""
    return max(20, min(draws, images // n))


def compute(sources: list[str], ns: list[int], sizes: list[int], draws: int, period: int, seed: int,
            images: int = 10 ** 9, save: Callable[[dict], None] | None = None, done: dict | None = None,
            octave: int | None = None) -> dict:
    """Every cell of the grid; ``save`` is called with the grid so far after each cell, and the cells of
    ``done`` (a partial grid of the same settings) are kept, not recomputed."""
    info = {"period": period, "octave": octave, "draws": draws, "images": images, "seed": seed, "cells": [],
            "sd_se_range": SD_SE_RANGE, "coverage_range": COVERAGE_RANGE}
    kept = {(c["source"], c["n"], c["size"]): c for c in (done or {}).get("cells", [])
            if all(done.get(k) == info[k] for k in ("period", "octave", "draws", "images", "seed"))}
    for i, source in enumerate(sources):
        for j, size in enumerate(sizes):
            if not D.fits(period, size, size):
                continue
            truth = None
            for n in ns:
                if (source, n, size) not in kept:
                    truth = truth or truths(source, size, period, seed=10_000_000 + 100_000 * (i * 10 + j),
                                            octave=octave)
                    kept[source, n, size] = cell(source, n, size, draws_for(n, draws, images), period,
                                                 seed + 100_000 * (i * 10 + j) + n, truth, octave=octave)
                    print(f"{source} n={n} {size}px: done", flush=True)
                info["cells"].append(kept[source, n, size])
                if save is not None:
                    save(info)
    return info


def monte_carlo_error(draws: int) -> tuple[float, float]:
    """The sampling error of a cell's own check over ``draws`` sets: the relative standard error of an
    SD (about 1 / sqrt(2 (draws - 1)) for a normal estimate) and the binomial standard error of a
    95% coverage."""
    return 1 / math.sqrt(2 * (draws - 1)), math.sqrt(0.95 * 0.05 / draws)


def failures(info: dict, tolerance: float = 2.0) -> list[str]:
    """Every cell and part outside the ranges asked for by more than ``tolerance`` of its Monte Carlo
    standard errors (0: the ranges as they stand). With 60 draws a right SE reads SD/SE 1 +- 0.09 and
    a right interval 95 +- 2.8% coverage; a check should not fail on its own sampling noise."""
    out = []
    for c in info["cells"]:
        rel, cover = (tolerance * e for e in monte_carlo_error(c["draws"]))
        for name, parts in c["conditions"].items():
            for p, r in parts.items():
                if not (SD_SE_RANGE[0] * (1 - rel) <= r["sd_over_se"] <= SD_SE_RANGE[1] * (1 + rel)
                        and COVERAGE_RANGE[0] - cover <= r["coverage"] <= COVERAGE_RANGE[1] + cover):
                    out.append(f"{c['source']} n={c['n']} {c['size']}px {name} {p}: SD/SE {r['sd_over_se']:.2f}, "
                               f"coverage {100 * r['coverage']:.0f}% ({c['draws']} sets)")
    return out


def markdown_table(info: dict) -> str:
    """Per condition (rows) and part (columns): the range over the cells of SD / mean SE and of the
    95% interval's coverage."""
    lines = ["| set | " + " | ".join(f"{p}: SD/SE, coverage" for p in PARTS) + " |", "|---|" + "---|" * len(PARTS)]
    for name in CONDITIONS:
        cells = []
        for p in PARTS:
            rows = [c["conditions"][name][p] for c in info["cells"] if p in c["conditions"][name]]
            if not rows:
                cells.append("n/a")
                continue
            ratio = [r["sd_over_se"] for r in rows]
            cover = [100 * r["coverage"] for r in rows]
            cells.append(f"{min(ratio):.2f}-{max(ratio):.2f}, {min(cover):.0f}-{max(cover):.0f}%")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out: Path) -> Path:
    """SD / SE against coverage, one point per cell, condition and part; the ranges asked for shaded."""
    _, info = load_figure_data(out, "uncertainty")
    fig, axes = plt.subplots(1, len(PARTS), figsize=(4 * len(PARTS), 3.6), sharey=True, layout="constrained")
    markers = dict(zip(CONDITIONS, "osD^v<"))
    for ax, p in zip(axes, PARTS):
        ax.add_patch(plt.Rectangle((SD_SE_RANGE[0], 100 * COVERAGE_RANGE[0]), SD_SE_RANGE[1] - SD_SE_RANGE[0],
                                   100 * (COVERAGE_RANGE[1] - COVERAGE_RANGE[0]), color="0.9", zorder=0))
        for name in CONDITIONS:
            rows = [c["conditions"][name][p] for c in info["cells"] if p in c["conditions"][name]]
            ax.scatter([r["sd_over_se"] for r in rows], [100 * r["coverage"] for r in rows], s=14,
                       marker=markers[name], label=name, alpha=0.75)
        ax.axvline(1, color="k", lw=0.5), ax.axhline(95, color="k", lw=0.5)
        ax.set_title(f"{p} depth", fontsize=10)
        ax.set_xlabel("SD of the estimate / mean SE")
    axes[0].set_ylabel("95% interval covers the truth (%)")
    axes[-1].legend(fontsize=7, loc="lower right")
    draws = sorted({c["draws"] for c in info["cells"]})
    fig.suptitle(f"over {'-'.join(map(str, draws[::max(1, len(draws) - 1)]))} independent sets per cell "
                 f"(sources x n x size), period {info['period']}"
                 + (f", octave {info['octave']}" if info.get("octave") else "")
                 + "; grey: SD/SE 0.8-1.25, coverage 90-98%", fontsize=10)
    return save_figure(fig, out / "uncertainty.png", dpi=110)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=200, help="independent sets per cell")
    ap.add_argument("--images", type=int, default=61440, help="most images one cell samples (fewer sets of large n)")
    ap.add_argument("--sources", nargs="*", default=list(SOURCES), choices=list(SOURCES))
    ap.add_argument("--n", nargs="*", type=int, default=[64, 256, 1024], help="images per set")
    ap.add_argument("--sizes", nargs="*", type=int, default=[16, 32, 64])
    ap.add_argument("--period", type=int, default=2, help="the period P of the patterns read")
    ap.add_argument("--octave", type=int, default=None,
                    help="read the octave Q of the P-periodic patterns, with patterns of period Q put in")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="figures/uncertainty", type=Path)
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--floor", action="store_true", help="the noise floor instead: clean sets of the first source "
                    "at the first size, every period the default reads (floor.json; with --plot-only, its table)")
    args = ap.parse_args(argv)
    if args.draws < 20:
        ap.error("--draws must be >= 20 (a coverage and an SD need many sets)")
    if args.floor:
        if args.plot_only:
            info = load_figure_data(args.out, "floor")[1]
        else:
            info = noise_floor(args.sources[0], args.n, args.sizes[0], args.draws, args.seed)
            save_figure_data(args.out, "floor", {}, info)
        print(floor_table(info))
        return
    if not args.plot_only:
        done = load_figure_data(args.out, "uncertainty")[1] if (args.out / "uncertainty.json").exists() else None
        compute(args.sources, args.n, args.sizes, args.draws, args.period, args.seed, args.images,
                save=lambda info: save_figure_data(args.out, "uncertainty", {}, info), done=done, octave=args.octave)
    path = plot(args.out)
    _, info = load_figure_data(args.out, "uncertainty")
    print(markdown_table(info))
    strict, bad = failures(info, tolerance=0), failures(info)
    print(f"{len(strict)} of {sum(len(parts) for c in info['cells'] for parts in c['conditions'].values())} cell "
          f"parts outside SD/SE {SD_SE_RANGE} or coverage {COVERAGE_RANGE}; {len(bad)} by more than 2 Monte Carlo "
          "standard errors" + "".join(f"\n  {b}" for b in bad))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
