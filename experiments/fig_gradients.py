"""Artifacts in gradients (Odena et al. 2016, "Artifacts in Gradients"): the input gradient of a
DCGAN discriminator built from strided convolutions, against blur-then-subsample and
resize-then-conv downsampling.

    python experiments/fig_gradients.py [--out figures/gradients] [--image-size 64] [--ndf 64] [--n 64]

The gradient of the summed logits with respect to a batch of real (dead-leaves) images, for
untrained discriminators with the same seed; CE_P of the gradient images measures how periodic
they are. Arrays go to ``gradients.npz``, numbers to ``gradients.json``; the figure reads those only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from gan.data.procedural import dead_leaves_images
from gan.measure import names as N
from gan.measure import spectral
from gan.measure.figures import load_figure_data, save_figure, save_figure_data, show_spectra
from gan.model.networks import DOWNSAMPLERS as KINDS
from gan.model.networks import Discriminator


def compute(image_size: int, ndf: int, n: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    periods = N.periods_for(image_size)
    real = dead_leaves_images(n, image_size, seed=seed)
    arrays, table = {"real": real[:8].numpy()}, {}
    for kind in KINDS:
        torch.manual_seed(seed)
        D = Discriminator(image_size, 3, ndf=ndf, downsample=kind)
        x = real.clone().requires_grad_(True)
        D(x).sum().backward()
        g = x.grad
        arrays[f"{kind}/grad"] = g[:8].numpy()
        arrays[f"{kind}/log_spectrum"] = spectral.mean_log_spectrum(spectral.power_spectrum(g)).numpy()
        table[kind] = {N.CE.format(p=p): float(spectral.checkerboard_energy(g, p).mean()) for p in periods}
        table[kind] |= {N.CE_FIXED.format(p=p): float(spectral.fixed_pattern_energy(g, p)) for p in periods}
    return arrays, {"image_size": image_size, "ndf": ndf, "num_images": n, "seed": seed, "metrics": table}


def plot(out: Path) -> Path:
    a, info = load_figure_data(out, "gradients")
    fig, axes = plt.subplots(3, len(KINDS) + 1, figsize=(3.0 * (len(KINDS) + 1), 8.4), dpi=100)
    for i in range(2):
        axes[i, 0].imshow(np.clip(a["real"][i].transpose(1, 2, 0) * 0.5 + 0.5, 0, 1))
        axes[i, 0].set_title("real image" if i == 0 else "", fontsize=9)
    axes[2, 0].axis("off")
    im = show_spectra(axes[2, 1:], [a[f"{k}/log_spectrum"] for k in KINDS],
                      ["mean log10 power of gradients"] * len(KINDS))
    for j, kind in enumerate(KINDS, start=1):
        for i in range(2):
            g = a[f"{kind}/grad"][i].mean(axis=0)
            lim = np.abs(g).max()
            axes[i, j].imshow(g, cmap="RdBu_r", vmin=-lim, vmax=lim)
            if i == 0:
                ce2 = info["metrics"][kind][N.CE.format(p=2)]
                axes[i, j].set_title(f"D downsample: {kind}\nCE2 = {ce2:.3g}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=axes[2, 1:].tolist(), shrink=0.8, label="log10 power")
    fig.suptitle("Input gradients of untrained DCGAN discriminators (channel mean; same seed)", fontsize=11)
    return save_figure(fig, out / "gradients.png", bbox_inches="tight")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="figures/gradients", type=Path)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.plot_only:
        save_figure_data(args.out, "gradients", *compute(args.image_size, args.ndf, args.n))
    png = plot(args.out)
    for kind, m in json.loads((args.out / "gradients.json").read_text())["metrics"].items():
        print(f"{kind:14s} " + "  ".join(f"{k}={v:.3g}" for k, v in m.items()))
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
