"""Calibration of the artifact metrics as a repeated, paired experiment: how often each metric
detects each known artifact, and each change that is not an artifact, as a function of strength.

    python experiments/calibrate_metrics.py [--data deadleaves|strokes|folder] [--folder PATH]
        [--size 32] [--n 256] [--num-real 1024] [--trials 20] [--seed 0] [--pre-tanh]
        [--saturation none|atanh] [--presets] [--out figures/calibration] [--plot-only]

Clean images (dead leaves, MNIST-like strokes, or any folder) give a reference set (``--num-real``,
as training caches) and, per trial, two independent clean sets of ``--n`` images: a *base* set, to
which each artifact of ``gan.measure.artifacts`` (``--presets``: also the untrained last stage of every
upsampler preset) and each control (a blur, noise, lower contrast, a dark border, vignettes, JPEG,
another texture) is applied at every strength of a log grid, and a *clean* set left as it is. A
metric's threshold is the 95th percentile of its responses on the clean sets (a 5% false-alarm
rate); the false-alarm rate actually measured on the untouched base sets is reported beside it.
The detection probability at a strength is the share of trials whose base set responds above the
threshold; the table gives the strengths detected with 50% and 90% probability (on the grid).

Responses are the numbers training logs, computed by the same ``gan.measure.evaluation.Evaluator`` a run
builds on its reference images (``gan.measure.metrics`` names): the depths' distances from the reference
set's patterns (fractions of the contrast) and the dB excesses over it.
Writes ``calibration.npz``/``.json``; draws ``calibration_images.png`` and
``calibration_detection.png`` (detection probability vs strength) from them; ``markdown_table``
gives the table of docs/ and REPORT.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from gan.app import compose
from gan.core.config import presets
from gan.data.files import ImageFolder
from gan.data.loading import TensorImages, epoch_permutation
from gan.data.procedural import dead_leaves_images, stroke_images
from gan.measure import artifacts, spectral
from gan.measure import names as N
from gan.measure.evaluation import Evaluator
from gan.measure.figures import image_grid, load_figure_data, save_figure, save_figure_data

#: (label, metric name) of the table's columns: the depths first, then the dB detectors.
ROWS = (("depth P=2", N.HEADLINE), ("phase depth P=2", N.PHASE_HEADLINE), ("fixed depth P=2", N.FIXED_HEADLINE),
        ("replica depth P=2", N.REPLICA_HEADLINE), ("phase depth P=4", N.excess_name(N.PHASE_DEPTH, "").format(p=4)),
        ("CE_2 (dB)", N.CE_EXCESS_DB.format(p=2)), ("fixed CE_2 (dB)", N.excess_name(N.CE_FIXED).format(p=2)),
        ("PS_2 (dB)", N.excess_name(N.PHASE_SPREAD).format(p=2)), ("spectral distance", N.SPECTRAL_DISTANCE))
#: Strengths s of x + s (A(x) - x): a log grid from 0.3% to 100%.
STRENGTHS = tuple(float(f"{s:.3g}") for s in np.geomspace(0.003, 1.0, 10))
FALSE_ALARM = 0.05


def clean_pool(data: str, size: int, count: int, folder: str | None, seed: int = 0) -> torch.Tensor:
    """``count`` clean images ``(count, C, size, size)`` in [-1, 1]."""
    if data == "deadleaves":
        return dead_leaves_images(count, size, seed=seed)
    if data == "strokes":
        return stroke_images(count, size, seed=seed)
    images = ImageFolder(folder, size, channels=None, strict=False)
    if len(images) < count:
        raise SystemExit(f"error: {folder} holds {len(images)} images; this calibration needs {count} "
                         f"(lower --n, --num-real or --trials)")
    idx = epoch_permutation(len(images), seed, 0)[:count]
    return torch.stack([images[int(i)] for i in idx])


def all_changes(last_stages: bool) -> dict[str, artifacts.Artifact]:
    """The artifacts (and with ``last_stages`` every upsampler preset's untrained last stage), then the controls."""
    stages = {f"last stage: {name}": artifacts.preset_last_stage(name) for name in presets("upsampler")} if last_stages else {}
    return artifacts.ARTIFACTS | stages | artifacts.CONTROLS


def evaluator_for(reference: torch.Tensor, n: int, saturation: str) -> Evaluator:
    """The ``gan.measure.evaluation.Evaluator`` a run would build on these reference images (``eval.num_real``
    of them, sets of ``n`` = ``eval.num_samples`` images, no SWD, every number with ``eval.detail``): each
    response is a number a run logs."""
    cfg = compose(f"image_size={reference.shape[-1]}", f"eval.num_samples={n}", f"eval.num_real={len(reference)}",
                  f"eval.saturation={saturation}", "eval.swd=false", "eval.figures=false", "eval.detail=true", "device=cpu")
    return Evaluator.from_config(TensorImages(reference), cfg, "cpu")


def compute(data: str, size: int, n: int, num_real: int, trials: int, pre_tanh: bool, saturation: str,
            folder: str | None = None, seed: int = 0, last_stages: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    pool = clean_pool(data, size, num_real + 2 * trials * n, folder, seed=seed)
    reference = pool[:num_real]
    bases = [pool[num_real + 2 * k * n: num_real + (2 * k + 1) * n] for k in range(trials)]
    cleans = [pool[num_real + (2 * k + 1) * n: num_real + (2 * k + 2) * n] for k in range(trials)]
    evaluator = evaluator_for(reference, n, saturation)
    names = [m for _, m in ROWS]

    def respond(x: torch.Tensor) -> dict[str, float]:
        values = evaluator(x).metrics
        return {m: values[m] for m in names}

    def make(base: torch.Tensor, a: artifacts.Artifact, s: float) -> torch.Tensor:
        if pre_tanh:  # the artifact arises before the generator's tanh
            return torch.tanh(artifacts.apply(spectral.pre_tanh(base), a, s))
        return artifacts.apply(base, a, s)

    clean = [respond(c) for c in tqdm(cleans, desc="clean sets", leave=False)]
    untouched = [respond(b) for b in bases]
    threshold = {m: float(np.percentile([c[m] for c in clean], 100 * (1 - FALSE_ALARM))) for m in names}
    changes = all_changes(last_stages)
    responses = {m: np.zeros((len(changes), len(STRENGTHS), trials)) for m in names}
    arrays = {"clean": bases[0][:4].numpy()}
    with tqdm(total=len(changes) * len(STRENGTHS) * trials, desc="calibration") as bar:
        for i, (name, a) in enumerate(changes.items()):
            for j, s in enumerate(STRENGTHS):
                for k, base in enumerate(bases):
                    images = make(base, a, s)
                    for m, v in respond(images).items():
                        responses[m][i, j, k] = v
                    if k == 0:
                        arrays[f"{name}/{s}"] = images[:4].numpy()
                    bar.update(1)
    detection = {m: (responses[m] > threshold[m]).mean(axis=2) for m in names}  # (changes, strengths)
    info = {"data": data if data != "folder" else folder, "image_size": size, "n": n, "num_real": num_real,
            "trials": trials, "seed": seed, "pre_tanh": pre_tanh, "saturation": saturation,
            "strengths": list(STRENGTHS), "rows": [list(r) for r in ROWS], "changes": list(changes),
            "controls": [c for c in changes if c in artifacts.CONTROLS], "threshold": threshold,
            "false_alarm": {m: float(np.mean([u[m] > threshold[m] for u in untouched])) for m in names},
            "clean": {m: [c[m] for c in clean] for m in names},
            "detection": {m: detection[m].tolist() for m in names},
            "full_strength": {m: np.median(responses[m][:, -1], axis=1).tolist() for m in names},
            "saturated_share": float(spectral.saturation_share(reference))}
    for m in names:
        arrays[f"responses/{m}"] = responses[m]
    return arrays, info


def strength_at(info: dict, metric: str, change: str, probability: float) -> float | None:
    """The smallest strength of the grid detected with at least ``probability``; None if none is."""
    row = info["detection"][metric][info["changes"].index(change)]
    return next((s for s, p in zip(info["strengths"], row) if p >= probability), None)


def markdown_table(info: dict) -> str:
    """Change x metric: the strengths detected with 50% and 90% probability, and the median response
    at full strength in brackets; a control's detection rate at full strength (bold: more than 15
    points above the false-alarm rate measured on the same base sets untouched)."""
    def fmt(s: float | None) -> str:
        return "-" if s is None else f"{s:g}"

    lines = ["| change | " + " | ".join(label for label, _ in info["rows"]) + " |", "|---|" + "---|" * len(info["rows"])]
    for i, change in enumerate(info["changes"]):
        cells = []
        for _, m in info["rows"]:
            full = info["full_strength"][m][i]
            if change in info["controls"]:  # bold: well above the rate on the same sets untouched
                p = info["detection"][m][i][-1]
                bold = "**" if p > info["false_alarm"][m] + 0.15 else ""
                cells.append(f"{bold}{100 * p:.0f}%{bold} ({full:.3g})")
            else:
                cells.append(f"{fmt(strength_at(info, m, change, 0.5))} / {fmt(strength_at(info, m, change, 0.9))} "
                             f"({full:.3g})")
        lines.append(f"| {change} | " + " | ".join(cells) + " |")
    lines.append("| *threshold (95th pct. of clean sets)* | " +
                 " | ".join(f"{info['threshold'][m]:.3g}" for _, m in info["rows"]) + " |")
    lines.append("| *false alarms measured on the untouched base sets* | " +
                 " | ".join(f"{100 * info['false_alarm'][m]:.0f}%" for _, m in info["rows"]) + " |")
    return "\n".join(lines)


def plot(out: Path) -> list[Path]:
    a, info = load_figure_data(out, "calibration")
    names, strengths = info["changes"], info["strengths"]
    shown = [None, *strengths[2::2]]  # clean, then every other strength
    half = -(-len(names) // 2)
    fig = plt.figure(figsize=(2 * (1.3 * len(shown) + 1.9), 1.35 * half + 0.5), dpi=110)
    for panel, sub in enumerate(fig.subfigures(1, 2)):
        axes = sub.subplots(half, len(shown), squeeze=False)
        sub.subplots_adjust(left=0.27, right=0.99, top=0.96, bottom=0.01, wspace=0.05, hspace=0.1)
        for row in range(half):
            k = panel * half + row
            for j, s in enumerate(shown):
                ax = axes[row, j]
                ax.set_xticks([]), ax.set_yticks([])
                if k >= len(names):
                    ax.axis("off")
                    continue
                image = a["clean"][0] if s is None else a[f"{names[k]}/{s}"][0]
                ax.imshow(image_grid(image[None], nrow=1), interpolation="nearest")  # pixel by pixel
                if row == 0:
                    ax.set_title("clean" if s is None else f"s = {s:g}", fontsize=8)
            if k < len(names):
                axes[row, 0].set_ylabel(names[k], fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"changes mixed in at strength s: x + s (A(x) - x); one {info['data']} image, "
                 f"{info['image_size']} px", fontsize=9, y=0.998)
    written = [save_figure(fig, out / "calibration_images.png")]

    rows = info["rows"]
    cols = 4
    fig, axes = plt.subplots(-(-len(rows) // cols), cols, figsize=(4 * cols, 3.2 * -(-len(rows) // cols)),
                             layout="constrained", squeeze=False)
    colours = plt.get_cmap("tab20")
    for ax, (label, m) in zip(axes.flat, rows):
        for i, change in enumerate(names):
            control = change in info["controls"]
            ax.plot(strengths, info["detection"][m][i], ls="--" if control else "-", lw=1,
                    color="grey" if control else colours(i % 20), label=change if not control else None)
        ax.axhline(FALSE_ALARM, color="black", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{label} (false alarms {100 * info['false_alarm'][m]:.0f}%)", fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("detection probability")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle(f"detection probability vs strength over {info['trials']} trials of {info['n']} images "
                 f"(threshold: 95th percentile of clean sets; grey dashed: controls, not artifacts)", fontsize=10)
    written.append(save_figure(fig, out / "calibration_detection.png"))
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="deadleaves", choices=["deadleaves", "strokes", "folder"])
    ap.add_argument("--folder", help="image folder for --data folder")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--n", type=int, default=256, help="images per compared set (eval.num_samples)")
    ap.add_argument("--num-real", type=int, default=1024, help="reference images (eval.num_real)")
    ap.add_argument("--trials", type=int, default=20, help="independent base and clean sets")
    ap.add_argument("--seed", type=int, default=0, help="seed of the clean images")
    ap.add_argument("--presets", action="store_true", help="also every upsampler preset's untrained last stage")
    ap.add_argument("--pre-tanh", action="store_true", help="apply the artifacts before a tanh (saturated data)")
    ap.add_argument("--saturation", default="none", choices=["none", "atanh"])
    ap.add_argument("--out", default="figures/calibration", type=Path)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if args.data == "folder" and not args.folder:
        ap.error("--data folder needs --folder PATH")
    if args.trials < 4:
        ap.error("--trials must be >= 4 (a percentile of the clean sets)")
    if not args.plot_only:
        save_figure_data(args.out, "calibration", *compute(args.data, args.size, args.n, args.num_real, args.trials,
                                                            args.pre_tanh, args.saturation, args.folder, args.seed,
                                                            args.presets))
    paths = plot(args.out)
    _, info = load_figure_data(args.out, "calibration")
    print(markdown_table(info))
    for p in paths:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
