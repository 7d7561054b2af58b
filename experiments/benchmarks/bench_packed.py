"""Benchmark: K seeds packed in one process against K single runs, images/s per replica.

    python experiments/benchmarks/bench_packed.py [--ks 1 2 4 8 16] [--steps 30] [--repeats 3]
        [--size 32 --ngf 16 --ndf 16 --batch 32] [overrides ...]

For each K, one job with ``num_seeds=K`` runs ``--steps`` training steps (``gan.run.training.train_step``
on K batches at once, no evaluation), timed ``--repeats`` times after a warm-up; a single run
(K = 1) is timed in the same process. Prints the total and per-replica images/s and the speed-up
over training the K seeds one after another. Start-up and evaluation, which a packed job also
shares, are not in these numbers.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from gan.app import compose
from gan.core.runtime import resolve_device, set_threads
from gan.data.loading import batches
from gan.model.build import build_dataset
from gan.run.state import new_state
from gan.run.training import next_batches, train_step


def rate(cfg, dataset, device, k: int, steps: int, repeats: int) -> float:
    """Median images/s of a K-replica job over ``repeats`` windows of ``steps`` steps."""
    cfg.num_seeds = k
    state = new_state(cfg, int(dataset[0].shape[0]), device)
    streams = [batches(dataset, cfg.train.batch_size, seed=s) for s in state.seeds]
    fmt = torch.contiguous_format
    for _ in range(3):  # warm-up
        train_step(state, next_batches(streams, device, fmt), cfg.train.loss, cfg.train.amp)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            train_step(state, next_batches(streams, device, fmt), cfg.train.loss, cfg.train.amp)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return k * steps * cfg.train.batch_size / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. device=cuda upsampler=resize_nearest")
    args = ap.parse_args()
    cfg = compose(f"image_size={args.size}", f"generator.ngf={args.ngf}", f"discriminator.ndf={args.ndf}",
                  f"train.batch_size={args.batch}", *args.overrides)
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    dataset = build_dataset(cfg)
    single = rate(cfg, dataset, device, 1, args.steps, args.repeats)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; {args.size}x{args.size}, "
          f"ngf {args.ngf}, ndf {args.ndf}, batch {args.batch}, upsampler {cfg.upsampler._target_.split('.')[-1]}; "
          f"{args.steps} steps per window, median of {args.repeats}")
    print(f"{'K':>3}{'images/s':>12}{'per replica':>13}{'vs K single runs':>18}")
    for k in args.ks:
        total = single if k == 1 else rate(cfg, dataset, device, k, args.steps, args.repeats)
        print(f"{k:>3}{total:>12.0f}{total / k:>13.0f}{total / single:>17.2f}x", flush=True)


if __name__ == "__main__":
    main()
