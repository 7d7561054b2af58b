"""Artifacts at initialisation: every upsampler preset in an untrained DCGAN generator.

    python experiments/fig_init.py [--out figures/init] [--image-size 64] [--ngf 64] [--n 256]

For each preset (same seed, same noise): a sample grid, the mean log power spectrum, and the
checkerboard energies CE_P and fixed-pattern CE_P of the samples. Arrays go to ``init.npz`` and
numbers to ``init.json``; the figure is drawn from those files only (``--plot-only``).
No training: seconds on a CPU.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from gan.core.config import presets
from gan.measure import names as N
from gan.measure.figures import image_grid, load_figure_data, save_figure, save_figure_data, show_spectra
from gan.measure.evaluation import Evaluator
from gan.model.networks import Generator, sample


def compute(image_size: int, ngf: int, n: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    periods = N.periods_for(image_size)
    z = torch.randn(n, 100, generator=torch.Generator().manual_seed(seed))
    arrays, table = {}, {}
    evaluate = Evaluator(None, periods, {}, group=n, detail=True)  # every number of the images alone
    for name in presets("upsampler"):
        torch.manual_seed(seed)
        G = Generator(image_size, 3, ngf=ngf, upsampler=name)
        images = sample(G, z)
        evaluation = evaluate(images)
        arrays[f"{name}/grid"] = images[:16].numpy()
        arrays[f"{name}/log_spectrum"] = evaluation.fake.log_spectrum.numpy()
        table[name] = evaluation.metrics
    return arrays, {"image_size": image_size, "ngf": ngf, "num_images": n, "seed": seed, "metrics": table}


def plot(out: Path) -> Path:
    a, info = load_figure_data(out, "init")
    names = list(info["metrics"])
    fig, axes = plt.subplots(2, len(names), figsize=(1.9 * len(names), 4.6), dpi=110)
    im = show_spectra(axes[1], [a[f"{n}/log_spectrum"] for n in names])
    for j, name in enumerate(names):
        axes[0, j].imshow(image_grid(a[f"{name}/grid"]))
        axes[0, j].set_title(name.replace("_", "\n", 1), fontsize=8)
        ce2 = info["metrics"][name][N.CE.format(p=2)]
        axes[1, j].set_xlabel(f"CE2 = {ce2:.3g}", fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[1, 0].set_ylabel("mean log10 power\n(DC at centre)", fontsize=8)
    fig.colorbar(im, ax=axes[1].tolist(), shrink=0.8, label="log10 power")
    fig.suptitle(f"Untrained DCGAN generators, {info['image_size']}x{info['image_size']}, ngf={info['ngf']}, "
                 f"same seed and noise: samples (top), spectra (bottom)", fontsize=10)
    return save_figure(fig, out / "init.png", bbox_inches="tight")


def markdown_table(info: dict) -> str:
    """The numbers of ``init.json`` as a Markdown table."""
    names = list(info["metrics"])
    first = info["metrics"][names[0]]
    family = N.CE.partition("/")[0]  # CE_P at every period, then the P=2 variants of its family
    keys = [k for k in first if k.startswith(f"{family}/")]
    keys += [k for k in first if k.endswith("/p2") and k.startswith(f"{family}_")]
    lines = ["| upsampler | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{info['metrics'][n][k]:.3g}" for k in keys) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="figures/init", type=Path)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.plot_only:
        save_figure_data(args.out, "init", *compute(args.image_size, args.ngf, args.n))
    png = plot(args.out)
    print(markdown_table(json.loads((args.out / "init.json").read_text())))
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
