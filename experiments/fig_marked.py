"""The samples of every run the failure rule marks, so that a reader can judge each mark.

    python experiments/fig_marked.py multirun/confirm [multirun/confirm_2 ...] [--rule v2] [--rows 2]
        [--out figures/marked]

For each finished run that ``gan.study.failures`` marks (by ``--rule``), the first ``--rows`` rows of its
last sample grid (``samples/step_*.png``, 8 images a row) beside the best-SWD evaluation's and the
reason; then, for scale, the same of the unmarked runs of the same groups. Writes ``marked.npz``
(the crops) and ``marked.json`` (per run: group, seed, reason, SWD last and best), and
``marked.jpg`` drawn from them alone.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from gan.measure import names as N
from gan.measure.figures import load_figure_data, save_figure, save_figure_data
from gan.run import records as R
from gan.run.rundir import RunDir
from gan.study.jobs import SummaryError, load_jobs

STEM = "marked"


def crop(path: Path, rows: int) -> np.ndarray:
    """The first ``rows`` rows of a sample grid (make_grid, 1 px padding) as uint8 ``(h, W, 3)``."""
    grid = np.asarray(Image.open(path).convert("RGB"))
    tile = (grid.shape[1] - 1) // 8  # 8 images a row
    return grid[: 1 + rows * tile]


def compute(sweeps: list[Path], rule: str, rows: int) -> tuple[dict, dict[str, np.ndarray]]:
    runs, arrays = [], {}
    for job in load_jobs(sweeps):
        if not job.finished:
            continue
        job.rule = rule
        curve = [(r["step"], r.get(N.SWD)) for r in job.records
                 if R.is_evaluation(r) and r["step"] > 0 and isinstance(r.get(N.SWD), (int, float))]
        last_step, last = curve[-1]
        best_step, best = min(curve[:-1], key=lambda c: c[1])
        key = f"run{len(runs)}"
        run = RunDir(job.path)
        arrays[f"{key}_last"] = crop(run.sample_file(last_step), rows)
        arrays[f"{key}_best"] = crop(run.sample_file(best_step), rows) if run.sample_file(best_step).is_file() \
            else np.zeros_like(arrays[f"{key}_last"])
        runs.append({"key": key, "run": job.path.name, "upsampler": job.config.get("choice.upsampler"),
                     "seed": job.config.get("seed"), "reason": job.failure(), "swd_last": last, "step_last": last_step,
                     "swd_best": best, "step_best": best_step,
                     "depth": job.numbers.get(N.HEADLINE, math.nan)})
    return {"sweeps": " ".join(map(str, sweeps)), "rule": rule, "runs": runs}, arrays


def plot(out: Path) -> Path:
    arrays, info = load_figure_data(out, STEM)
    marked = sorted((r for r in info["runs"] if r["reason"]), key=lambda r: (r["upsampler"], r["seed"]))
    fig, axes = plt.subplots(len(marked), 2, figsize=(11, 1.15 * len(marked) + 0.6), squeeze=False)
    for row, r in zip(axes, marked):
        for ax, which, step, swd in ((row[0], "best", r["step_best"], r["swd_best"]),
                                     (row[1], "last", r["step_last"], r["swd_last"])):
            ax.imshow(arrays[f"{r['key']}_{which}"])
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{r['upsampler']} seed {r['seed']}: {which} SWD {swd:.0f} (step {step})", fontsize=8)
    fig.suptitle(f"runs marked by the failure rule ({info['rule']}): the best-SWD evaluation's samples and the last's",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out / f"{STEM}.jpg", dpi=70, pil_kwargs={"quality": 80})


def table(info: dict) -> str:
    lines = ["| upsampler | marked | runs |", "|---|---|---|"]
    groups = sorted({r["upsampler"] for r in info["runs"]})
    for g in groups:
        members = [r for r in info["runs"] if r["upsampler"] == g]
        marked = [r for r in members if r["reason"]]
        lines.append(f"| {g} | {len(marked)}/{len(members)} | "
                     + ", ".join(f"seed {r['seed']} (last/best SWD {r['swd_last'] / r['swd_best']:.2f})" for r in marked)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", type=Path, nargs="+")
    ap.add_argument("--rule", default="v2")
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("figures/marked"))
    args = ap.parse_args(argv)
    try:
        info, arrays = compute(args.sweeps, args.rule, args.rows)
    except SummaryError as e:
        print(f"error: {e}")
        return 2
    save_figure_data(args.out, STEM, arrays, info)
    path = plot(args.out)
    print(table(info))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
