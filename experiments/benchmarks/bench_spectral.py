"""Benchmark: the batched spectral analysis against a per-image NumPy loop, in one process.

    python experiments/benchmarks/bench_spectral.py [--n 10000] [--size 64] [--repeats 3] [--device cuda]

The loop and the batched core compute the same thing for N RGB images: CE_P for P = 2, 4, 8, 16,
the mean power spectrum and its radial profile. The loop follows the published reference code
(per-image FFT, then a Python azimuthal average over bins). A third row times everything the suite
computes per image set (``gan.measure.imagestats.image_stats``: also CE on the periodic component, pooled and
fixed-pattern CE, PS_P, the saturation share). Prints the median time of each, the throughputs,
the like-for-like ratio, and checks that loop and batched core give the same profile and CE values.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from gan.measure import spectral
from gan.measure.imagestats import image_stats

PERIODS = [2, 4, 8, 16]


def reference_loop(images: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Per image: FFT of each mean-free channel, power averaged over channels, Python azimuthal
    average; CE_P from the power at multiples of N/P. ``(N, C, S, S) -> (profile (K,), {P: (N,)})``."""
    n, c, s, _ = images.shape
    f = np.fft.fftfreq(s)
    radius = np.rint(np.sqrt(f[:, None] ** 2 + f[None, :] ** 2) * s).astype(int)
    masks = [radius == k for k in range(1, radius.max() + 1)]  # out to the corner
    profile_sum = np.zeros(len(masks))
    ce = {p: np.zeros(n) for p in PERIODS}
    for i in range(n):
        x = images[i] - images[i].mean(axis=(1, 2), keepdims=True)
        power = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0) / (s * s)
        for k, m in enumerate(masks):
            profile_sum[k] += power[m].mean()
        total = power.sum()
        for p in PERIODS:
            ce[p][i] = power[:: s // p, :: s // p].sum() / total
    return profile_sum / n, ce


def batched(images: torch.Tensor, batch_size: int = 1024) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The same work as ``reference_loop`` with the library's batched functions."""
    power, ce = 0.0, {p: [] for p in PERIODS}
    for chunk in images.split(batch_size):
        power = power + spectral.half_power_spectrum(chunk).sum(dim=0)
        for p, v in spectral.checkerboard_energies(chunk, PERIODS).items():
            ce[p].append(v)
    profile = spectral.radial_profile(spectral.full_spectrum(power / len(images), images.shape[-1]))[1]
    return profile.cpu().numpy(), {p: torch.cat(v).cpu().numpy() for p, v in ce.items()}


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-n", type=int, default=None, help="time the loop on fewer images and scale (default: all)")
    ap.add_argument("--device", default="cpu", help="where the batched rows run (the loop is NumPy on the CPU)")
    args = ap.parse_args()
    torch.manual_seed(0)
    images = torch.rand(args.n, 3, args.size, args.size) * 2 - 1
    args.loop_n = args.loop_n or args.n
    sub = images[: args.loop_n].double().numpy()
    images = images.to(args.device)  # the batched rows end on the host: every timing includes the device's work

    t_fast, _ = median_time(lambda: batched(images), args.repeats)
    t_all, _ = median_time(lambda: image_stats(images, PERIODS), args.repeats)
    t_loop, (prof_loop, ce_loop) = median_time(lambda: reference_loop(sub), args.repeats)
    _, (prof_fast_sub, ce_fast_sub) = median_time(lambda: batched(images[: args.loop_n]), 1)
    assert np.allclose(prof_fast_sub, prof_loop, rtol=1e-4), "profiles differ"
    stats_sub = image_stats(images[: args.loop_n], PERIODS)
    assert np.allclose(stats_sub.radial[1].numpy(), prof_loop, rtol=1e-4), "image_stats' profile differs"
    for p in PERIODS:
        assert np.allclose(ce_fast_sub[p], ce_loop[p], atol=1e-6), f"CE_{p} differs"
    t_loop_scaled = t_loop * args.n / args.loop_n
    print(f"{args.n} RGB images {args.size}x{args.size}, CE at P={PERIODS}, mean spectrum, radial profile; "
          f"torch {torch.__version__}, batched on {args.device}, {torch.get_num_threads()} CPU threads")
    print(f"{'method':<28}{'median s':>10}{'images/s':>12}")
    print(f"{'per-image NumPy loop':<28}{t_loop_scaled:>10.2f}{args.n / t_loop_scaled:>12.0f}"
          f"   (timed on {args.loop_n}, scaled)")
    print(f"{'batched, same work':<28}{t_fast:>10.2f}{args.n / t_fast:>12.0f}")
    print(f"{'image_stats, every metric':<28}{t_all:>10.2f}{args.n / t_all:>12.0f}")
    print(f"speed-up, same work: {t_loop_scaled / t_fast:.1f}x   (same profile and CE values: checked)")


if __name__ == "__main__":
    main()
