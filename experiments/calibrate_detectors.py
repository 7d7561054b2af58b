"""How the published detectors respond to a planted pattern of known depth: AUC against depth.

    python experiments/calibrate_detectors.py [--draws 5] [--n 512] [--size 32] [--out figures/detectors] [--plot-only]

Dead-leaves images (the embedded data) against an independent dead-leaves set of the same size,
with a checkerboard planted in the first at depths 0, 0.3, 1, 3 and 10% of the contrast, either
following the content (``x + a (x - mean x) c``) or fixed (``x + b s c``, s the RMS contrast of the
set as ``gan.measure.depths`` takes it). Per detector, depth and kind: the held-out AUC over ``--draws``
independent pairs of sets (mean, and the range), with the share of draws whose 95% interval holds
0.5 at depth 0 (real against real). Writes ``detectors.json`` and ``detectors.png`` (figures read
the JSON only).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from gan.measure import names as N
from gan.measure.metrics import number_text
from gan.data.procedural import dead_leaves_images
from gan.measure import artifacts
from gan.measure import depths as D
from gan.measure import detectors as DT
from gan.measure.figures import load_figure_data, save_figure, save_figure_data

DEPTHS = (0.0, 0.003, 0.01, 0.03, 0.1)
KINDS = ("content", "fixed")


def planted(x: torch.Tensor, kind: str, depth: float, contrast: float) -> torch.Tensor:
    """``x`` with a (-1)^(i+j) pattern that follows the content or is fixed, at ``depth``."""
    c = artifacts.checkerboard(*x.shape[-2:], x.dtype, x.device)
    if kind == "content":
        return x + depth * (x - x.mean(dim=(-2, -1), keepdim=True)) * c
    return x + depth * contrast * c


def compute(draws: int, n: int, size: int) -> dict:
    results = {name: {kind: {str(d): [] for d in DEPTHS} for kind in KINDS} for name in DT.DETECTORS}
    for k in range(draws):
        pool = dead_leaves_images(2 * n, size, seed=1000 + k)
        fake, real = pool[:n], pool[n:]
        contrast = float(D.group_patterns(fake.double(), 2).levels["fixed"].mean().sqrt())
        for kind in KINDS:
            for depth in DEPTHS:
                for name, found in DT.detectability(planted(fake, kind, depth, contrast), real, seed=k).items():
                    results[name][kind][str(depth)].append([found.auc, found.auc_low, found.auc_high])
        print(f"draw {k + 1}/{draws} done", flush=True)
    return {"draws": draws, "n": n, "size": size, "depths": list(DEPTHS), "results": results}


def table(info: dict) -> str:
    lines = ["| detector | pattern | " + " | ".join(number_text(N.HEADLINE, d, "g") for d in info["depths"]) + " |",
             "|---|---|" + "---|" * len(info["depths"])]
    for name, kinds in info["results"].items():
        for kind, by_depth in kinds.items():
            cells = []
            for d in info["depths"]:
                a = np.array(by_depth[str(d)])
                cells.append(f"{a[:, 0].mean():.2f} ({a[:, 0].min():.2f}-{a[:, 0].max():.2f})")
            lines.append(f"| {name} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out: Path) -> Path:
    _, info = load_figure_data(out, "detectors")
    fig, axes = plt.subplots(1, len(KINDS), figsize=(9, 3.6), sharey=True, layout="constrained")
    x = [max(d, 1e-3) for d in info["depths"]]
    for ax, kind in zip(axes, KINDS):
        for name, kinds in info["results"].items():
            a = [np.array(kinds[kind][str(d)]) for d in info["depths"]]
            ax.errorbar(x, [v[:, 0].mean() for v in a], yerr=[[v[:, 0].mean() - v[:, 0].min() for v in a],
                                                             [v[:, 0].max() - v[:, 0].mean() for v in a]],
                        marker="o", capsize=3, label=name)
        ax.axhline(0.5, color="k", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("planted depth (fraction of contrast; 0 drawn at 0.001)")
        ax.set_title(f"{kind} pattern", fontsize=10)
    axes[0].set_ylabel("held-out AUC (mean, range over draws)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"{info['n']} generated vs {info['n']} real dead-leaves images of {info['size']} px, "
                 f"{info['draws']} draws", fontsize=10)
    return save_figure(fig, out / "detectors.png", dpi=110)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--n", type=int, default=512, help="images per set (halved into training and test)")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("figures/detectors"))
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.plot_only:
        save_figure_data(args.out, "detectors", {}, compute(args.draws, args.n, args.size))
    path = plot(args.out)
    print(table(load_figure_data(args.out, "detectors")[1]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
