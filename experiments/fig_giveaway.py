"""Which frequencies give each upsampler's images away to the published detectors.

    python experiments/fig_giveaway.py multirun/study [--out figures/giveaway] [--n 512] [--plot-only]

For every finished run of a sweep: ``--n`` images from its last checkpoint
(``gan.analyze.load_run``) against as many images of its data (``gan.analyze.run_reference``), both
through each detector's own features (``gan.measure.detectors``: Durall's azimuthal log power per radial
bin, Frank's log |DCT| per coefficient). Per feature, the standardised difference of the means
(generated minus real over the pooled SD, Cohen's d): what a linear detector can read, feature by
feature, before it combines them. Averaged over a group's runs (their separation sum d^2, for the
DCT map). Writes ``giveaway.json`` (per upsampler: d per radial bin, the RMS d per DCT
coefficient, and the share of the Frank detector's separation, sum d^2, that lies in each band of
the DCT) and ``giveaway.png`` drawn from it alone, and prints the table per upsampler.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from gan.analyze import load_run, run_reference
from gan.measure import detectors as DT
from gan.measure.figures import load_figure_data, save_figure, write_figure
from gan.run.rundir import RunDir, Status

#: Bands of the DCT (by the larger of the two coefficient indices, a fraction of the side): where
#: the Frank detector's separation lies. The last holds the (pi, pi) corner a 2-periodic grid fills.
BANDS = (0.25, 0.5, 0.75, 1.0)


def effect_sizes(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Per feature ``(F,)``: (mean fake - mean real) / pooled SD of features ``(N, F)`` and ``(M, F)``."""
    pooled = np.sqrt((fake.var(axis=0, ddof=1) + real.var(axis=0, ddof=1)) / 2)
    return (fake.mean(axis=0) - real.mean(axis=0)) / np.where(pooled > 0, pooled, np.inf)


def band_shares(d2: np.ndarray) -> list[float]:
    """The share of sum d^2 over a ``(S, S)`` DCT map in each band of ``BANDS``."""
    s = d2.shape[-1]
    reach = np.maximum.outer(np.arange(s), np.arange(s)) / s  # the larger index, a fraction of the side
    edges = (0.0, *BANDS)
    return [float(d2[(reach >= lo) & (reach < hi if hi < 1 else reach <= 1)].sum() / d2.sum())
            for lo, hi in zip(edges, edges[1:])]


def compute(sweep: Path, n: int) -> dict:
    """Per upsampler, the mean over its finished runs of each detector's per-feature effect sizes."""
    runs = [r for r in RunDir.find(sweep) if r.liveness().status == Status.FINISHED]
    if not runs:
        sys.exit(f"error: {sweep}: no finished runs")
    durall, frank = defaultdict(list), defaultdict(list)
    references: dict[str, dict] = {}  # the runs' data and size -> per detector, its features and floor
    for run in tqdm(runs, desc="runs", disable=not sys.stderr.isatty()):
        upsampler = run.hydra_choices().get("upsampler", "?")
        cfg = run.config()
        key = OmegaConf.to_yaml(cfg.data) + str(cfg.image_size)
        if key not in references:
            real = run_reference(run.path, n)
            references[key] = {}
            for name, d in DT.DETECTORS.items():
                spectra = d.spectra(real)
                floor = DT.log_floor(spectra)
                references[key][name] = d.logged(spectra, floor), floor
        fake = load_run(run.path, n, seed=DT_SEED)
        for name, found in (("durall", durall), ("frank", frank)):  # both sets on the reference's floor, as detect
            real_features, floor = references[key][name]
            found[upsampler].append(effect_sizes(DT.DETECTORS[name].features(fake, floor), real_features))
    size = fake.shape[-1]
    out = {"sweep": str(sweep), "n": n, "size": size, "bands": BANDS, "groups": {}}
    for name in sorted(durall):
        d2 = np.mean([d ** 2 for d in frank[name]], axis=0).reshape(size, size)
        out["groups"][name] = {"runs": len(durall[name]), "durall_d": np.mean(durall[name], axis=0).tolist(),
                               "frank_abs_d": np.sqrt(d2).tolist(), "frank_band_share": band_shares(d2)}
    return out


#: The noise seed of the images read here: apart from the runs' own evaluation and detector noise.
DT_SEED = 7_000_000


def table(info: dict) -> str:
    bands = info["bands"]
    edges = ["0", *(f"{b:g}" for b in bands)]
    area = [hi ** 2 - lo ** 2 for lo, hi in zip((0.0, *bands), bands)]  # the band's share of the coefficients
    head = " | ".join(f"DCT {lo}-{hi} ({100 * a:.0f}% of coefficients)" for lo, hi, a in zip(edges, edges[1:], area))
    lines = [f"| upsampler | runs | largest Durall d (radial bin of {len(next(iter(info['groups'].values()))['durall_d'])})"
             f" | {head} |", "|---|---|---|" + "---|" * len(bands)]
    for name, g in info["groups"].items():
        d = np.array(g["durall_d"])
        k = int(np.argmax(np.abs(d)))
        lines.append(f"| {name} | {g['runs']} | {d[k]:+.2f} at bin {k} | "
                     + " | ".join(f"{100 * s:.0f}%" for s in g["frank_band_share"]) + " |")
    return "\n".join(lines)


def plot(out: Path) -> Path:
    _, info = load_figure_data(out, "giveaway")
    groups = info["groups"]
    fig = plt.figure(figsize=(14, 3.2 + 1.6 * ((len(groups) + 4) // 5)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.4, (len(groups) + 4) // 5])
    ax = top.subplots()
    for name, g in groups.items():
        d = np.array(g["durall_d"])
        ax.plot(np.arange(len(d)) / (len(d) - 1), d, label=name, lw=1.2)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("radial frequency (0: DC, 1: the corner)")
    ax.set_ylabel("Cohen's d, generated - real")
    ax.set_title("Durall's features: azimuthal log power per radial bin", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    axes = np.atleast_1d(bottom.subplots((len(groups) + 4) // 5, 5)).ravel()
    vmax = max(np.max(g["frank_abs_d"]) for g in groups.values())
    for a, (name, g) in zip(axes, groups.items()):
        image = a.imshow(np.array(g["frank_abs_d"]), cmap="magma", vmin=0, vmax=vmax)
        a.set_title(name, fontsize=8)
        a.set_xticks([]), a.set_yticks([])
    for a in axes[len(groups):]:
        a.axis("off")
    bottom.colorbar(image, ax=axes.tolist(), shrink=0.8, label="RMS d over runs, per DCT coefficient (DC top left)")
    fig.suptitle(f"What gives the images away: per-feature effect sizes, {info['n']} generated vs {info['n']} real "
                 f"images per run, mean over a group's runs ({info['sweep']})", fontsize=10)
    return save_figure(fig, out / "giveaway.png", dpi=110)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", type=Path)
    ap.add_argument("--out", type=Path, default=Path("figures/giveaway"))
    ap.add_argument("--n", type=int, default=512, help="generated (and real) images per run")
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    write_figure(args.out, "giveaway", None if args.plot_only else compute(args.sweep, args.n), plot, table)


if __name__ == "__main__":
    main()
