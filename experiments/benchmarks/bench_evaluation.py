"""Benchmark: what an evaluation costs, with and without the depths of every generator stage and the
weight average, beside the training step it is spread over, in one process.

    python experiments/benchmarks/bench_evaluation.py [--repeats 5] [--steps 50] [overrides ...]

Builds the study's configuration (``+scale=study``: 32x32, ngf = ndf = 16, 256 samples against 1024
real images) with ``train.ema=0.998`` and times, alternating so that drift on a shared machine
falls on all of them alike: ``--steps`` training steps (the median time of one), and one evaluation
(``gan.run.training.evaluate``: sampling, every metric, the sample grid and records) with
``eval.stages=false``, with ``eval.stages=true``, and with the weight average evaluated too. Prints
the medians, the ratios to the evaluation without stages, and each evaluation in training steps.
The training step is the same in every case (stage outputs are taken only when sampling).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from gan.app import compose
from gan.core.runtime import resolve_device, set_threads
from gan.data.loading import batches
from gan.measure.evaluation import Evaluator
from gan.model.build import build_dataset
from gan.run import lifecycle, training
from gan.run.rundir import RunDir
from gan.run.state import new_state


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=50, help="training steps timed per repeat")
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. threads=1 device=cuda")
    args = ap.parse_args(argv)
    cfg = compose("+scale=study", "train.ema=0.998", "train.progress=false", *args.overrides)
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    dataset = build_dataset(cfg)
    state = new_state(cfg, int(dataset[0].shape[0]), device)
    evaluator = Evaluator.from_config(dataset, cfg, device)
    stream = [batches(dataset, cfg.train.batch_size, seed=cfg.seed)]
    average = state.G_ema

    def step_time() -> float:
        start = time.perf_counter()
        for _ in range(args.steps):
            training.train_step(state, training.next_batches(stream, device, torch.contiguous_format), cfg.train.loss)
        return (time.perf_counter() - start) / args.steps

    def evaluation_time(stages: bool, with_average: bool) -> float:
        cfg.eval.stages, state.G_ema = stages, average if with_average else None
        start = time.perf_counter()
        training.evaluate(state, evaluator, replicas, cfg)
        state.G_ema = average
        return time.perf_counter() - start

    cases = {"evaluation, no stages": (False, False), "evaluation + stages": (True, False),
             "evaluation + stages + weight average": (True, True)}
    with tempfile.TemporaryDirectory() as d:
        replicas = training.replicas_of(RunDir(d), cfg)
        for r in replicas:
            lifecycle.open_run(r, step=0, resumed=False)
        step_time(), [evaluation_time(*c) for c in cases.values()]  # warm-up
        times: dict[str, list[float]] = {"training step": [], **{k: [] for k in cases}}
        for _ in range(args.repeats):
            times["training step"].append(step_time())
            for name, case in cases.items():
                times[name].append(evaluation_time(*case))
    median = {k: statistics.median(v) for k, v in times.items()}
    base = median["evaluation, no stages"]
    print(f"{device}, {torch.get_num_threads()} threads, {cfg.image_size}x{cfg.image_size}, "
          f"{cfg.eval.num_samples} samples, medians of {args.repeats}")
    print(f"{'':40s}{'seconds':>10s}{'vs no stages':>14s}{'in steps':>10s}")
    for name, value in median.items():
        ratio = f"{value / base:.2f}x" if name != "training step" else ""
        print(f"{name:40s}{value:10.3f}{ratio:>14s}{value / median['training step']:10.1f}")


if __name__ == "__main__":
    main()
