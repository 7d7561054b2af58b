"""Trained comparison from a sweep directory: samples, spectra and spectral errors per upsampler.

    python experiments/fig_sweep.py SWEEP_DIR [--out figures/sweep] [--n 512]

For every group of the sweep (one per upsampler, or whatever varies besides the seed), the first
finished seed's last checkpoint is sampled; its spectra are compared with the training data.
Writes ``sweep.npz`` / ``sweep.json`` and ``sweep_samples.png``, ``sweep_spectra.png``,
``sweep_profiles.png`` drawn from them; ``gan.summarize`` supplies the table, bars and curves.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gan.measure.metrics import number_text
from gan.analyze import load_run
from gan.data.loading import sample_images
from gan.measure import spectral
from gan.measure import names as N
from gan.measure.figures import frequency_axis, image_grid, load_figure_data, save_figure, save_figure_data, show_spectra
from gan.measure.evaluation import Evaluator
from gan.model.build import build_dataset
from gan.run.rundir import RunDir
from gan.study.jobs import find_jobs, varying_keys

TAIL_FROM = 0.25  # cycles/pixel: the upper half of the band, where upsampling artifacts live


def compute(sweep_dir: Path, n: int) -> tuple[dict[str, np.ndarray], dict]:
    jobs = [j for j in find_jobs(sweep_dir) if j.finished]
    if not jobs:
        raise SystemExit(f"error: no finished jobs under {sweep_dir}")
    keys = varying_keys(jobs) or ["upsampler._target_"]
    groups: dict[str, object] = {}
    for j in sorted(jobs, key=lambda j: (str([j.config.get(k) for k in keys]), j.config.get("seed", 0))):
        label = ", ".join(str(j.config.get(k)).replace("gan.model.upsamplers.", "") for k in keys)
        groups.setdefault(label, j)
    cfg = RunDir(next(iter(groups.values())).path).config()
    size = cfg.image_size
    periods = N.periods_for(size)
    real = sample_images(build_dataset(cfg), n, seed=0)  # the sweep's own training data
    evaluate = Evaluator(real, periods, {}, group=n, detail=True)  # every number, against the data
    real_stats = evaluate.real
    freqs, real_profile = real_stats.radial
    arrays = {"freqs": freqs.numpy(), "real/profile": real_profile.numpy(),
              "real/log_spectrum": real_stats.log_spectrum.numpy(), "real/grid": real[:16].numpy()}
    table = {}
    for label, job in groups.items():
        fake = load_run(job.path, n)
        evaluation = evaluate(fake)
        stats = evaluation.fake
        profile = stats.radial[1]
        arrays[f"{label}/grid"] = fake[:16].numpy()
        arrays[f"{label}/log_spectrum"] = stats.log_spectrum.numpy()
        arrays[f"{label}/profile"] = profile.numpy()
        arrays[f"{label}/relative_error"] = spectral.relative_spectral_error(profile, real_profile).numpy()
        table[label] = {"run": str(job.path), **evaluation.metrics}
    return arrays, {"keys": keys, "image_size": size, "num_images": n, "groups": list(groups), "metrics": table}


def plot(out: Path) -> list[Path]:
    a, info = load_figure_data(out, "sweep")
    names = ["real", *info["groups"]]
    ncol = min(len(names), 6)
    nrow = -(-len(names) // ncol)
    written = []

    fig, axes = plt.subplots(nrow, ncol, figsize=(2.2 * ncol, 2.75 * nrow), dpi=110, squeeze=False)
    for ax, name in zip(axes.flat, names):
        ax.imshow(image_grid(a[f"{name}/grid"]))
        m = info["metrics"].get(name, {})
        ce = "" if name == "real" else (f"\ndepth {number_text(N.HEADLINE, m[N.HEADLINE], '+.1f')}, "
                                      f"fixed {number_text(N.FIXED_HEADLINE, m[N.FIXED_HEADLINE], '+.1f')}")
        ax.set_title(f"{name}{ce}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("samples after training (first finished seed of each group)", fontsize=10)
    fig.tight_layout()
    written.append(save_figure(fig, out / "sweep_samples.png"))

    fig, axes = plt.subplots(nrow, ncol, figsize=(2.2 * ncol, 2.4 * nrow), dpi=110, squeeze=False)
    im = show_spectra(axes.flat, [a[f"{n}/log_spectrum"] for n in names], names)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, label="log10 mean power")
    fig.suptitle("mean log power spectra (DC at centre), one colour scale", fontsize=10)
    written.append(save_figure(fig, out / "sweep_spectra.png", bbox_inches="tight"))

    fig, (ax1, ax3, ax2) = plt.subplots(1, 3, figsize=(17, 4.6), dpi=110)
    f = a["freqs"]
    tail = f >= TAIL_FROM
    ax1.loglog(f, a["real/profile"], "k-", lw=2.5, label="real")
    ax3.semilogy(f[tail], a["real/profile"][tail], "k-", lw=2.5, label="real")
    for name in info["groups"]:
        ax1.loglog(f, a[f"{name}/profile"], lw=1.2, label=name)
        ax3.semilogy(f[tail], a[f"{name}/profile"][tail], lw=1.2, marker=".", label=name)
        ax2.semilogx(f, a[f"{name}/relative_error"], lw=1.2, label=name)
    ax1.set(ylabel="mean power", title="radial power profiles (black: the data)")
    ax3.set(xlabel="spatial frequency (cycles/pixel)", ylabel="mean power",
            title=f"high-frequency tail (f >= {TAIL_FROM})")
    ax2.axhline(0, color="k", lw=1)
    ax2.set_yscale("symlog", linthresh=1)  # linear within +-1, where most of the curve lies; log beyond
    ax2.set(ylabel="P_fake / P_real - 1", title="relative spectral error (Schwarz et al. 2021)")
    for ax in (ax1, ax2):
        frequency_axis(ax, f)
    for ax in (ax1, ax2, ax3):
        ax.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="best")
    fig.tight_layout()
    written.append(save_figure(fig, out / "sweep_profiles.png"))
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--out", default="figures/sweep", type=Path)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.plot_only:
        save_figure_data(args.out, "sweep", *compute(args.sweep_dir, args.n))
    for p in plot(args.out):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
