"""Wall time of a sweep preset: two short versions timed end to end, extrapolated to the full one.

    python experiments/benchmarks/time_sweep.py [--experiment upsampler_sweep] [--steps 100 200]
        [--out multirun/time_sweep] [overrides ...]

Runs ``python train.py -m +experiment=E train.steps=S`` for two step counts S, each as a user would
(start-up, data, every job), with the overrides given (e.g. ``device=cuda
hydra.sweeper.pack_seeds=true hydra/launcher=joblib hydra.launcher.n_jobs=2``). Each short sweep
evaluates and checkpoints as many times as the full one does (``eval.every`` and
``train.ckpt_every`` scaled down), so the wall time is start-up and evaluation, which do not grow
with the steps, plus a cost per step: the line through the two points, read at the preset's own
``train.steps``, is the full sweep's wall time.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gan.app import compose
from gan.study.sweeps import quote

ROOT = Path(__file__).resolve().parents[2]


def preset(experiment: str, overrides: list[str]):
    return compose(f"+experiment={experiment}", *overrides)


def timed_sweep(experiment: str, steps: int, full, out: Path, overrides: list[str]) -> float:
    evaluations = max(1, full.train.steps // full.eval.every)
    checkpoints = max(1, full.train.steps // full.train.ckpt_every)
    cmd = [sys.executable, "train.py", "-m", f"+experiment={experiment}", *overrides, f"train.steps={steps}",
           f"eval.every={max(1, steps // evaluations)}", f"train.ckpt_every={max(1, steps // checkpoints)}",
           f"hydra.sweep.dir={quote(str(out))}"]
    shutil.rmtree(out, ignore_errors=True)
    print("running", " ".join(cmd[1:]), flush=True)
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"error: the sweep failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--experiment", default="upsampler_sweep")
    ap.add_argument("--steps", type=int, nargs=2, default=[100, 200])
    ap.add_argument("--out", type=Path, default=ROOT / "multirun" / "time_sweep")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    full = preset(args.experiment, args.overrides)
    s1, s2 = args.steps
    w1 = timed_sweep(args.experiment, s1, full, args.out / f"steps={s1}", args.overrides)
    w2 = timed_sweep(args.experiment, s2, full, args.out / f"steps={s2}", args.overrides)
    per_step = (w2 - w1) / (s2 - s1)
    fixed = w1 - per_step * s1
    total = fixed + per_step * full.train.steps
    jobs = sum(1 for p in (args.out / f"steps={s2}").iterdir() if p.is_dir())
    print(f"+experiment={args.experiment} {' '.join(args.overrides)}: {jobs} job(s)")
    print(f"{'train.steps':>12}{'wall s':>10}")
    print(f"{s1:>12}{w1:>10.1f}\n{s2:>12}{w2:>10.1f}")
    print(f"per step of every job together: {per_step:.3f} s; start-up and evaluations: {fixed:.0f} s")
    print(f"extrapolated to train.steps={full.train.steps}: {total:.0f} s = {total / 60:.1f} min")


if __name__ == "__main__":
    main()
