"""Benchmark: what ``python -m gan.analyze`` costs from 32 to 1024 px, in time and peak memory, with
the growth per doubling of the side, beside a baseline that is linear in the pixels by
construction (loading the same images and one FFT power spectrum of them).

    python experiments/benchmarks/bench_analyze.py [--sizes 32,64,128,256,512,1024] [--images 64]
        [--counts 64,256,1024 --count-size 64] [--folder-counts 256,1024,4096 --count-size 256]

Each case runs in a fresh process (so that its peak resident memory is its own), on random uint8
RGB images against a second random set of the same size as the reference: every measurement of
the analysis (spectra, CE, depths and their parts at every period the size holds, distance,
replica depth, both detectors) and its figures. Prints one row per case: wall time and peak
memory of the analysis and of the baseline, their ratio, and the growth of each per doubling.
``--folder-counts``: folders of JPEGs instead, each analysed in memory and read from the files a chunk
at a time (``--chunked``, what a folder larger than the memory gets), side by side.
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(kind: str, size: int, count: int, folder: str) -> None:
    """Run one case in this process and print ``{"wall": s, "peak_mb": MB}`` as JSON."""
    import numpy as np

    from PIL import Image

    rng = np.random.default_rng(size)
    paths = []
    for name in ("images", "reference"):
        if kind in FOLDER_KINDS:  # a folder of JPEGs (quality 90), written once for both kinds, an image at a time
            path = Path(folder) / f"{name}_{size}_{count}"
            if not path.is_dir():
                path.mkdir()
                for i in range(count):
                    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                    Image.fromarray(image).save(path / f"{i:05d}.jpg", quality=90)
        else:
            path = Path(folder) / f"{name}_{size}_{count}.npz"
            np.savez(path, images=rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8))
        paths.append(path)
    from gan import analyze
    from gan.core.runtime import lean_heap
    from gan.measure import spectral  # imported before the clock starts: the start-up is not the analysis

    start = time.perf_counter()
    if kind != "baseline":
        lean_heap()  # as `python -m gan.analyze` runs
        options = ["--num-samples", str(count)] + (["--chunked"] if kind == "chunked" else [])
        code = analyze.main([str(paths[0]), "--reference", str(paths[1]), "--out", str(Path(folder) / f"out_{size}"),
                             *options])
        assert code == 0, code
    else:
        for path in paths:
            x = analyze.load_images(str(path), count)[:]
            spectral.power_spectrum(x).mean(dim=0)
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


#: Cases read from folders of JPEGs: in memory (``folder``) or a chunk at a time (``chunked``).
FOLDER_KINDS = ("folder", "chunked")


def run(kind: str, size: int, count: int, folder: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(size), str(count), folder],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"wall": math.nan, "peak_mb": math.nan, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(cases: list[tuple[int, int]], folder: str, label: str) -> None:
    print(f"| {label} | analysis | peak | baseline (load + FFT) | peak | time / baseline | "
          "time growth | memory growth |")
    print("|---|---|---|---|---|---|---|---|")
    last = None
    for size, count in cases:
        a, b = run("analyze", size, count, folder), run("baseline", size, count, folder)
        growth = ("", "") if last is None else (f"{a['wall'] / last['wall']:.1f}x", f"{a['peak_mb'] / last['peak_mb']:.1f}x")
        case = f"{size} px" if label == "size" else f"{count} images"
        error = f" ({a['error']})" if "error" in a else ""
        print(f"| {case} | {a['wall']:.1f} s{error} | {a['peak_mb']:.0f} MB | {b['wall']:.2f} s | {b['peak_mb']:.0f} MB | "
              f"{a['wall'] / b['wall']:.0f} | {growth[0]} | {growth[1]} |", flush=True)
        last = a


def folders(size: int, counts: list[int], folder: str) -> None:
    """The same folders of JPEGs analysed in memory and read from the files a chunk at a time."""
    print(f"| {size} px JPEGs | in memory | peak | read in chunks | peak | chunked / in memory |")
    print("|---|---|---|---|---|---|")
    for count in counts:
        a, b = run("folder", size, count, folder), run("chunked", size, count, folder)
        error = "".join(f" ({x['error']})" for x in (a, b) if "error" in x)
        print(f"| {count} + {count} | {a['wall']:.1f} s | {a['peak_mb']:.0f} MB | {b['wall']:.1f} s | "
              f"{b['peak_mb']:.0f} MB | {b['wall'] / a['wall']:.2f}x time, {b['peak_mb'] / a['peak_mb']:.2f}x memory"
              f"{error} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="32,64,128,256,512,1024")
    ap.add_argument("--images", type=int, default=64, help="images of each set at every size")
    ap.add_argument("--counts", default="", help="image counts to time at --count-size (e.g. 64,256,1024)")
    ap.add_argument("--count-size", type=int, default=64)
    ap.add_argument("--folder-counts", default="", help="image counts of folders of JPEGs at --count-size, "
                    "analysed in memory and read in chunks (e.g. 256,1024,4096); skips the other tables")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, size, count, folder = args.child
        child(kind, int(size), int(count), folder)
        return
    with tempfile.TemporaryDirectory() as folder:
        if args.folder_counts:
            folders(args.count_size, [int(n) for n in args.folder_counts.split(",")], folder)
            return
        table([(int(s), args.images) for s in args.sizes.split(",")], folder, "size")
        if args.counts:
            print()
            table([(args.count_size, int(n)) for n in args.counts.split(",")], folder, "images")


if __name__ == "__main__":
    main()
