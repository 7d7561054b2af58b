"""Calibration of the artifact metrics: every metric against every known artifact at several
strengths, against the spread of clean-vs-clean comparisons of the same size.

    python experiments/calibrate_metrics.py [--data deadleaves|strokes|folder] [--folder PATH]
        [--size 32] [--n 256] [--num-real 1024] [--splits 16] [--pre-tanh] [--saturation none|atanh]
        [--out figures/calibration] [--plot-only]

Clean images (dead leaves, MNIST-like strokes, or any folder) give a reference set (``--num-real``,
as training caches), ``--splits`` clean sets of ``--n`` images (the spread of a clean comparison)
and one base set, to which each artifact of ``gan.artifacts`` (and the untrained last stage of every
upsampler preset, and three controls that are not artifacts: blur, noise, lower contrast) is applied
at strengths 0.01 .. 1. Every set goes through the same code as a
training evaluation (``gan.metrics`` statistics, ``gan.swd``). A metric detects an artifact at the
smallest strength whose response (excess in dB over the data, or the distance) is above every
clean split's. ``--pre-tanh`` applies the artifacts before a tanh, as a generator's last layer
does (for saturated data); ``--saturation atanh`` measures in that domain. Writes
``calibration.npz``/``.json`` and draws ``calibration_images.png`` and ``calibration_detection.png``
from them; ``markdown_table`` gives the README/REPORT table.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from gan import artifacts, metrics as M
from gan.plots import load_figure_data, save_figure_data

#: (label, metric name) of the table's rows: every artifact metric that training logs, at P = 2 (and PS at 4).
ROWS = (("CE_2", M.HEADLINE), ("CE_2 pooled", "checkerboard_pooled_excess_db/p2"),
        ("CE_2 periodic", "checkerboard_periodic_excess_db/p2"), ("fixed-pattern CE_2", "checkerboard_fixed_excess_db/p2"),
        ("PS_2", "phase_spread_excess_db/p2"), ("PS_4", "phase_spread_excess_db/p4"),
        ("spectral distance", M.SPECTRAL_DISTANCE), ("SWD", M.SWD))
STRENGTHS = (0.01, 0.03, 0.1, 0.3, 1.0)


def clean_pool(data: str, size: int, count: int, folder: str | None, seed: int = 0) -> torch.Tensor:
    """``count`` clean images ``(count, C, size, size)`` in [-1, 1]."""
    from gan import data as D

    if data == "deadleaves":
        return D.dead_leaves_images(count, size, seed=seed)
    if data == "strokes":
        return D.stroke_images(count, size, seed=seed)
    images = D.ImageFolder(folder, size, channels=None, strict=False)
    if len(images) < count:
        raise SystemExit(f"error: {folder} holds {len(images)} images; this calibration needs {count} "
                         f"(lower --n, --num-real or --splits)")
    idx = D.epoch_permutation(len(images), seed, 0)[:count]
    return torch.stack([images[int(i)] for i in idx])


def all_artifacts() -> dict[str, artifacts.Artifact]:
    from gan.upsamplers import available

    return (artifacts.ARTIFACTS | {f"last stage: {name}": artifacts.preset_last_stage(name) for name in available()}
            | artifacts.CONTROLS)


def compute(data: str, size: int, n: int, num_real: int, splits: int, pre_tanh: bool, saturation: str,
            folder: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    from gan import spectral
    from gan.swd import SlicedWasserstein

    pool = clean_pool(data, size, num_real + (splits + 1) * n, folder)
    reference, base = pool[:num_real], pool[num_real: num_real + n]
    periods = M.periods_for(size)
    ref_stats = M.image_stats(reference, periods, saturation=saturation, group=n)
    swd = SlicedWasserstein(reference[:n], seed=0, per_image=64, num_dirs=128)

    def measure(images: torch.Tensor) -> dict[str, float]:
        stats = M.image_stats(images, periods, saturation=saturation)
        return M.compute(stats, ref_stats) | swd(images)

    def make(a: artifacts.Artifact, s: float) -> torch.Tensor:
        if pre_tanh:  # the artifact arises before the generator's tanh
            return torch.tanh(artifacts.apply(spectral.pre_tanh(base), a, s))
        return artifacts.apply(base, a, s)

    clean = [measure(pool[num_real + (k + 1) * n: num_real + (k + 2) * n]) for k in range(splits)]
    arrays = {"clean": base[:4].numpy()}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name, a in all_artifacts().items():
        table[name] = {}
        for s in STRENGTHS:
            images = make(a, s)
            table[name][str(s)] = measure(images)
            arrays[f"{name}/{s}"] = images[:4].numpy()
    names = [m for _, m in ROWS]
    threshold = {m: max(c[m] for c in clean) for m in names}
    detected = {m: {a: next((s for s in STRENGTHS if table[a][str(s)][m] > threshold[m]), None) for a in table}
                for m in names}
    info = {"data": data if data != "folder" else folder, "image_size": size, "n": n, "num_real": num_real,
            "splits": splits, "pre_tanh": pre_tanh, "saturation": saturation, "strengths": list(STRENGTHS),
            "rows": [list(r) for r in ROWS], "clean": {m: [c[m] for c in clean] for m in names},
            "threshold": threshold, "detected": detected, "responses": table,
            "saturated_share": float(spectral.saturation_share(reference))}
    return arrays, info


def detected_by_any(info: dict) -> dict[str, float | None]:
    """Per artifact: the smallest strength at which any metric of the table detects it."""
    out = {}
    for a in info["responses"]:
        found = [info["detected"][m][a] for _, m in info["rows"] if info["detected"][m][a] is not None]
        out[a] = min(found) if found else None
    return out


def markdown_table(info: dict) -> str:
    """Metric x artifact: the smallest strength detected (above every clean split), and the response
    at full strength (dB excess, or the distance) in brackets."""
    names = list(info["responses"])
    lines = ["| artifact | " + " | ".join(label for label, _ in info["rows"]) + " |",
             "|---|" + "---|" * len(info["rows"])]
    for a in names:
        cells = []
        for _, m in info["rows"]:
            s, full = info["detected"][m][a], info["responses"][a]["1.0"][m]
            cells.append(f"{'**' + format(s, 'g') + '**' if s is not None else '-'} ({full:.3g})")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    spread = " | ".join(f"{min(v):.3g} .. {max(v):.3g}" for v in (info["clean"][m] for _, m in info["rows"]))
    lines.append(f"| *clean vs clean ({info['splits']} splits)* | {spread} |")
    return "\n".join(lines)


def plot(out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from gan.plots import image_grid, save_figure

    a, info = load_figure_data(out, "calibration")
    names, strengths = list(info["responses"]), info["strengths"]
    shown = [None, *strengths[1:]]  # clean, then 0.03 .. 1 (0.01 looks like clean)
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
    fig.suptitle(f"known artifacts mixed in at strength s: x + s (A(x) - x); one {info['data']} image, "
                 f"{info['image_size']} px", fontsize=9, y=0.998)
    written = [save_figure(fig, out / "calibration_images.png")]

    rows = info["rows"]
    grid = np.full((len(rows), len(names)), np.nan)
    for i, (_, m) in enumerate(rows):
        for j, name in enumerate(names):
            s = info["detected"][m][name]
            grid[i, j] = math.log10(s) if s is not None else np.nan
    fig, ax = plt.subplots(figsize=(0.55 * len(names) + 2.5, 0.45 * len(rows) + 2.2), dpi=110)
    im = ax.imshow(grid, cmap="viridis_r", vmin=math.log10(strengths[0]), vmax=0, aspect="auto")
    for i in range(len(rows)):
        for j, name in enumerate(names):
            s = info["detected"][rows[i][1]][name]
            ax.text(j, i, f"{s:g}" if s is not None else "-", ha="center", va="center", fontsize=6,
                    color="white" if s is not None and s < 0.1 else "black")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=8)
    fig.colorbar(im, ax=ax, label="log10 smallest strength detected", shrink=0.8)
    ax.set_title(f"smallest strength each metric detects (above all {info['splits']} clean splits; '-': never)",
                 fontsize=9)
    fig.tight_layout()
    written.append(save_figure(fig, out / "calibration_detection.png"))
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="deadleaves", choices=["deadleaves", "strokes", "folder"])
    ap.add_argument("--folder", help="image folder for --data folder")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--n", type=int, default=256, help="images per compared set (eval.num_samples)")
    ap.add_argument("--num-real", type=int, default=1024, help="reference images (eval.num_real)")
    ap.add_argument("--splits", type=int, default=16, help="clean sets compared with the reference")
    ap.add_argument("--pre-tanh", action="store_true", help="apply the artifacts before a tanh (saturated data)")
    ap.add_argument("--saturation", default="none", choices=["none", "atanh"])
    ap.add_argument("--out", default="figures/calibration", type=Path)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if args.data == "folder" and not args.folder:
        ap.error("--data folder needs --folder PATH")
    if not args.plot_only:
        save_figure_data(args.out, "calibration", *compute(args.data, args.size, args.n, args.num_real, args.splits,
                                                            args.pre_tanh, args.saturation, args.folder))
    paths = plot(args.out)
    _, info = load_figure_data(args.out, "calibration")
    print(markdown_table(info))
    for p in paths:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
