"""Benchmark: training throughput of ``gan.run.training`` against a bare PyTorch loop, in one process.

    python experiments/benchmarks/bench_train.py [--steps 500] [--repeats 3] [--ks 4,8] [--compile MODE]
        [overrides ...]

The bare loop follows pytorch/examples' ``dcgan/main.py`` (same Generator/Discriminator with the
transposed k=4 upsampler, BCE on logits, Adam, batches indexed from the in-memory dataset, no
logging). The suite runs ``gan.run.training.run_loop`` with its default logging, checkpoint and
evaluation schedule, and once more with evaluation switched off. The three are alternated
``--repeats`` times; the median images/s of each and the ratios to the bare loop are printed, and
the median and range of the per-repeat ratios to the bare window just before (drift cancels),
with the data loader's own images/s (it must never be the bottleneck) and the time of one
evaluation alone, which bounds the ratio with evaluation free of the windows' noise. Overrides
such as ``train.amp=bf16 train.channels_last=true threads=1`` apply to the suite; the bare loop
stays fp32 NCHW, so with them the ratio is the levers' gain times the suite's overhead.
Model building, data generation and the cached real statistics are set-up, outside the timings.
``--ks``: the suite again with that many seeds packed in the job (``num_seeds``), its images/s over
all replicas; ``--compile MODE``: the suite again with ``train.compile=MODE`` (compilation happens in
the warm-up). On a GPU: ``device=cuda`` (and ``image_size=64 generator.ngf=64 discriminator.ndf=64
train.batch_size=128`` for the paper setting).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from gan.app import compose
from gan.core.runtime import resolve_device, seed_everything, set_threads
from gan.data.loading import batches
from gan.measure.evaluation import Evaluator
from gan.model.build import build_dataset
from gan.run import lifecycle, training
from gan.run.rundir import RunDir
from gan.run.state import State, new_state


def fresh_state(cfg, channels: int, device) -> State:
    torch.manual_seed(cfg.seed)
    return new_state(cfg, channels, device)


def bare_loop(cfg, images: torch.Tensor, device, steps: int) -> float:
    """pytorch/examples-style loop; returns seconds."""
    s = fresh_state(cfg, images.shape[1], device)
    G, D, opt_g, opt_d = s.G.replica(0), s.D.replica(0), s.opt_g, s.opt_d
    b = cfg.train.batch_size
    perm = torch.randperm(len(images))
    t = time.perf_counter()
    for i in range(steps):
        j = (i * b) % (len(images) - b)
        real = images[perm[j:j + b]].to(device)
        fake = G(torch.randn(b, G.z_dim, device=device))
        out_r, out_f = D(real), D(fake.detach())
        err_d = (F.binary_cross_entropy_with_logits(out_r, torch.ones_like(out_r))
                 + F.binary_cross_entropy_with_logits(out_f, torch.zeros_like(out_f)))
        opt_d.zero_grad()
        err_d.backward()
        opt_d.step()
        out = D(fake)
        err_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        opt_g.zero_grad()
        err_g.backward()
        opt_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def replicas_in(d: str, cfg) -> list[lifecycle.Replica]:
    """The job's replicas in folder ``d``, with their records open (as ``gan.run.training.train_in`` sets them up)."""
    replicas = training.replicas_of(RunDir(d), cfg)
    for r in replicas:
        lifecycle.open_run(r, step=0, resumed=False)
    return replicas


def suite_loop(cfg, dataset, evaluator, device, steps: int, evaluation: bool, state=None) -> float:
    """``gan.run.training.run_loop`` in a temporary job folder (on ``state``, else a fresh one); returns seconds."""
    s = state or fresh_state(cfg, dataset[0].shape[0], device)
    s.step, cfg.train.steps = steps, 2 * steps  # steps W..2W: no extra step-0 evaluation in the window
    with tempfile.TemporaryDirectory() as d:
        replicas = replicas_in(d, cfg)
        original = training.evaluate
        if not evaluation:
            training.evaluate = lambda *a, **k: None
        try:
            t = time.perf_counter()
            training.run_loop(cfg, s, dataset, evaluator, replicas, RunDir(d), device)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - t
        finally:
            training.evaluate = original
            for r in replicas:
                r.logger.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=500, help="steps per timed window (default: one eval period)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ks", default="", help="also the suite with this many seeds packed, e.g. 4,8")
    ap.add_argument("--compile", choices=["default", "reduce-overhead", "max-autotune"],
                    help="also the suite with train.compile=MODE")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. image_size=64 generator.ngf=64")
    args = ap.parse_args()
    cfg = compose(*args.overrides, "train.progress=false")
    seed_everything(cfg.seed, cfg.deterministic)  # cudnn.benchmark unless deterministic
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    dataset = build_dataset(cfg)
    evaluator = Evaluator.from_config(dataset, cfg, device)
    images = dataset.images
    b = cfg.train.batch_size
    bare_loop(cfg, images, device, 20), suite_loop(cfg, dataset, evaluator, device, 20, False)  # warm-up
    variants = {f"suite, {k} seeds packed, no eval": variant(cfg, dataset, evaluator, device, f"num_seeds={k}")
                for k in [int(k) for k in args.ks.split(",") if k]}
    if args.compile:
        variants[f"suite, compile={args.compile}, no eval"] = variant(cfg, dataset, evaluator, device,
                                                                       f"train.compile={args.compile}")
    times = {"bare loop": [], "suite, no evaluation": [], "suite, default evaluation": [], **{k: [] for k in variants}}
    for _ in range(args.repeats):
        times["bare loop"].append(bare_loop(cfg, images, device, args.steps))
        times["suite, no evaluation"].append(suite_loop(cfg, dataset, evaluator, device, args.steps, False))
        times["suite, default evaluation"].append(suite_loop(cfg, dataset, evaluator, device, args.steps, True))
        for name, (vcfg, state) in variants.items():
            times[name].append(suite_loop(vcfg, dataset, evaluator, device, args.steps, False, state))
    images_per_step = {k: b * (variants[k][0].num_seeds if k in variants else 1) for k in times}
    rate = {k: args.steps * images_per_step[k] / statistics.median(v) for k, v in times.items()}
    loader = batches(dataset, b, seed=cfg.seed)
    t = time.perf_counter()
    for _ in range(args.steps):
        next(loader).to(device)
    rate["data loader alone"] = args.steps * b / (time.perf_counter() - t)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; image_size "
          f"{cfg.image_size}, ngf {cfg.generator.ngf}, ndf {cfg.discriminator.ndf}, batch {b}; "
          f"{args.steps} steps per window (eval every {cfg.eval.every}, ckpt every {cfg.train.ckpt_every}), "
          f"median of {args.repeats}; suite: amp {cfg.train.amp}, channels_last {cfg.train.channels_last} "
          f"(the bare loop is always fp32 NCHW)")
    print(f"{'loop':<28}{'images/s':>10}{'vs bare':>9}   paired ratios: median [min, max]")
    for k, r in rate.items():
        paired = ([b_ / t_ * images_per_step[k] / b for b_, t_ in zip(times["bare loop"], times[k])]
                  if k in times else [])
        spread = (f"   {statistics.median(paired):.2f}x [{min(paired):.2f}, {max(paired):.2f}]"
                  if paired and k != "bare loop" else "")
        print(f"{k:<28}{r:>10.0f}{r / rate['bare loop']:>8.2f}x{spread}")
    seconds = evaluation_seconds(cfg, dataset, evaluator, device, args.repeats)
    period = cfg.eval.every * b / rate["bare loop"]  # seconds of bare training between evaluations
    print(f"one evaluation: {seconds:.3f} s (median of {args.repeats}); with one every {cfg.eval.every} steps "
          f"the suite can reach at most {period / (period + seconds):.2f}x the bare loop")


def variant(cfg, dataset, evaluator, device, override: str):
    """``(config, state)`` of the suite with one more override (packed seeds, compilation), warmed up
    (compilation happens here, outside the timed windows)."""
    vcfg = cfg.copy()
    key, value = override.split("=", 1)
    OmegaConf.update(vcfg, key, int(value) if value.isdigit() else value, merge=False)
    state = fresh_state(vcfg, dataset[0].shape[0], device)
    suite_loop(vcfg, dataset, evaluator, device, 5, False, state)
    return vcfg, state


def evaluation_seconds(cfg, dataset, evaluator, device, repeats: int) -> float:
    """Median wall time of one ``gan.run.training.evaluate`` (sampling, metrics, figures, sample grid)."""
    s = fresh_state(cfg, dataset[0].shape[0], device)
    times = []
    with tempfile.TemporaryDirectory() as d:
        replicas = replicas_in(d, cfg)
        for _ in range(repeats + 1):  # the first is a warm-up
            t = time.perf_counter()
            training.evaluate(s, evaluator, replicas, cfg)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        for r in replicas:
            r.logger.close()
    return statistics.median(times[1:])


if __name__ == "__main__":
    main()
