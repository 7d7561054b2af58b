"""What each upsampler costs: parameters, forward FLOPs per image (counted by
``torch.utils.flop_counter``) and measured images/s, for the generator alone and for a full
D + G training step, at 32x32 and 64x64.

    python experiments/benchmarks/bench_upsamplers.py [--ngf 32] [--ndf 32] [--batch 32] [--sizes 32 64] [--repeats 5]

Prints a Markdown table (medians of ``--repeats`` timed windows after warm-up).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from gan.app import compose
from gan.core.config import presets
from gan.run.state import new_state
from gan.run.training import train_step


def median_rate(fn, batch: int, repeats: int, iters: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        times.append(time.perf_counter() - t)
    return batch * iters / statistics.median(times)


def measure(name: str, size: int, ngf: int, ndf: int, batch: int, repeats: int) -> dict[str, float]:
    cfg = compose(f"upsampler={name}", f"image_size={size}", f"generator.ngf={ngf}", f"discriminator.ndf={ndf}",
                  "device=cpu")
    state = new_state(cfg, 3, torch.device("cpu"))
    G = state.G.replica(0)
    z = torch.randn(batch, G.z_dim)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            G(z[:1])
    real = torch.rand(1, batch, 3, size, size) * 2 - 1  # (replicas, B, C, S, S)

    def forward():
        with torch.no_grad():
            G(z)
    return {"params": sum(p.numel() for p in G.parameters()), "mflops": counter.get_total_flops() / 1e6,
            "g_rate": median_rate(forward, batch, repeats, 5),
            "step_rate": median_rate(lambda: train_step(state, real, "bce"), batch, repeats, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ngf", type=int, default=32)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, ngf={args.ngf}, ndf={args.ndf}, "
          f"batch {args.batch}, median of {args.repeats}\n")
    print("| upsampler | size | G params | G forward MFLOPs/image | G images/s | D+G step images/s |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        for name in presets("upsampler"):
            m = measure(name, size, args.ngf, args.ndf, args.batch, args.repeats)
            print(f"| {name} | {size} | {m['params']:,} | {m['mflops']:.1f} | {m['g_rate']:.0f} | {m['step_rate']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
