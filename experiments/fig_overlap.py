"""Overlap patterns of transposed convolutions (Odena et al. 2016, figs. 1-2), as one PNG.

    python experiments/fig_overlap.py [--out figures/overlap]

Rows: 1-D maps for kernel k in {2,3,4,5} x stride s in {1,2,3}; 2-D maps for the same grid;
stacks of 1-3 layers for (k, s) = (3, 2) and (4, 2). The arrays go to ``overlap.npz`` and the
figure is drawn from that file only (``--plot-only`` redraws it).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gan.measure.figures import save_figure
from gan.model.convmath import overlap_map

KERNELS, STRIDES, LAYERS = (2, 3, 4, 5), (1, 2, 3), (1, 2, 3)
STACKED = ((3, 2), (4, 2))


def compute(size: int = 6) -> dict[str, np.ndarray]:
    arrays = {}
    for k in KERNELS:
        for s in STRIDES:
            arrays[f"1d_k{k}_s{s}"] = overlap_map(k, s, size, dims=1).numpy()
            arrays[f"2d_k{k}_s{s}"] = overlap_map(k, s, size, dims=2).numpy()
    for k, s in STACKED:
        for n in LAYERS:
            arrays[f"stack_k{k}_s{s}_l{n}"] = overlap_map(k, s, 3, layers=n, dims=2).numpy()
    return arrays


def kernel_stride_axes(fig, spec, **space):
    """One subplot per (stride row, kernel column) of ``spec``: yields ``(ax, k, s)``."""
    cells = spec.subgridspec(len(STRIDES), len(KERNELS), **space)
    for i, s in enumerate(STRIDES):
        for j, k in enumerate(KERNELS):
            yield fig.add_subplot(cells[i, j]), k, s


def plot(npz: Path, png: Path) -> None:
    a = np.load(npz)
    fig = plt.figure(figsize=(15, 11), dpi=100)
    grid = fig.add_gridspec(3, 1, height_ratios=[1.1, 2.2, 1.6], hspace=0.35)
    for ax, k, s in kernel_stride_axes(fig, grid[0], hspace=0.7, wspace=0.25):
        m = a[f"1d_k{k}_s{s}"]
        ax.bar(np.arange(len(m)), m, width=0.9, color="tab:blue")
        ax.set_title(f"1-D  k={k}, s={s}", fontsize=9)
        ax.set_yticks(range(int(m.max()) + 1))
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    for ax, k, s in kernel_stride_axes(fig, grid[1], hspace=0.35, wspace=0.1):
        m = a[f"2d_k{k}_s{s}"]
        im = ax.imshow(m / m.max(), cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"2-D  k={k}, s={s}  (max {int(m.max())})", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=fig.axes[-len(KERNELS) * len(STRIDES):], label="taps per output pixel / max", shrink=0.8)
    bottom = grid[2].subgridspec(1, len(STACKED) * len(LAYERS), wspace=0.15)
    for j, (k, s) in enumerate(STACKED):
        for n in LAYERS:
            ax = fig.add_subplot(bottom[0, j * len(LAYERS) + n - 1])
            m = a[f"stack_k{k}_s{s}_l{n}"]
            ax.imshow(m / m.max(), cmap="magma", vmin=0, vmax=1)
            ax.set_title(f"k={k}, s={s}: {n} layer{'s' * (n > 1)}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("How many kernel taps reach each output pixel of a transposed convolution "
                 "(uneven = checkerboard)", fontsize=12)
    save_figure(fig, png, bbox_inches="tight")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="figures/overlap", type=Path)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    npz, png = args.out / "overlap.npz", args.out / "overlap.png"
    if not args.plot_only:
        args.out.mkdir(parents=True, exist_ok=True)
        np.savez(npz, **compute())
    plot(npz, png)
    print(f"wrote {npz} and {png}")


if __name__ == "__main__":
    main()
