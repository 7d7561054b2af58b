"""``python -m gan.analyze PATH [--reference PATH_OR_DATASET] [--out DIR]``: spectra of any images.

PATH is a run directory (its last good checkpoint is loaded and N images are sampled), a folder
of images (up to N, one size; one that would not fit in memory is read from its files a chunk at a
time, ``gan.data.imageset``), or a ``.pt``/``.npz`` tensor file ``(N, C, H, W)`` (or ``(N, H, W, C)``;
uint8 or float).
The reference is another such path or a dataset name from ``conf/data`` (``deadleaves``, ...); a
run directory without one is compared with the dataset it was trained on. PATH is only read.

Writes, in ``--out`` (default ``analysis/<PATH's name>`` in the current directory): ``spectra.npz``
(the arrays), ``metrics.json`` (numbers and options) and PNG figures drawn from ``spectra.npz``
alone (``python -m gan.analyze OUT --plot-only`` redraws them). With a reference of at least 32 images, the published
spectrum-based detectors (``gan.measure.detectors``) are trained and tested on disjoint halves of both sets:
their held-out AUC with its 95% interval is printed and saved with the numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from gan.app import compose
from gan.core import config
from gan.core.errors import report
from gan.core.runtime import available_memory, lean_heap
from gan.data.files import ImageFolder
from gan.data.imageset import ArrayImages, FolderImages, ImageSet, float_bytes, head
from gan.data.loading import sample_images
from gan.measure import depths as D
from gan.measure import detectors, spectral
from gan.measure import names as N
from gan.measure.figures import radial_profiles_figure, save_figure, spectra_figure
from gan.measure.evaluation import Evaluator
from gan.measure.imagestats import SpectralStats
from gan.model.build import build_dataset, build_generator
from gan.model.networks import sample
from gan.model.replicas import replica_state
from gan.run import checkpoint as ckpt
from gan.run.rundir import RunDir

TENSOR_SUFFIXES = (".pt", ".pth", ".npz", ".npy")


class AnalysisError(ValueError):
    """Unusable input for the analysis; the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Loading images -> (N, C, H, W) float in [-1, 1]


def _layout(x: torch.Tensor, where: str) -> torch.Tensor:
    """Images ``(N, C, H, W)``, ``(N, H, W, C)`` or ``(N, H, W)`` as a view ``(N, C, H, W)``."""
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise AnalysisError(f"{where}: expected images (N, C, H, W) or (N, H, W, C), got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2) if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3) else x


def _to_nchw(x: torch.Tensor, where: str, positions: Sequence[int] | None = None) -> torch.Tensor:
    """Images as ``_layout`` takes them, uint8 or float, as float32 ``(N, C, H, W)`` (uint8 to
    [-1, 1]); ``positions``: the rows' indices in their file, where they are not all of it (messages)."""
    x = _layout(x, where)
    if x.shape[0] == 0:
        raise AnalysisError(f"{where}: holds no images")
    # one float32 copy at most, laid out (N, C, H, W) in memory: every later pass reads whole images
    contiguous = dict(dtype=torch.float32, memory_format=torch.contiguous_format)
    if x.dtype == torch.uint8:
        return x.to(**contiguous).div_(127.5).sub_(1)  # scaled in place
    if not x.is_floating_point():
        raise AnalysisError(f"{where}: expected uint8 or float images, got {x.dtype}")
    bad = (~torch.isfinite(x)).flatten(1).any(dim=1)
    if bool(bad.any()):
        first = int(bad.nonzero()[0])
        of, first = (f"{len(x)} images", first) if positions is None else (f"the {len(x)} images read", positions[first])
        raise AnalysisError(f"{where}: {int(bad.sum())} of {of} hold NaN or Inf pixels (the first: image "
                            f"{first}); remove them or fix what wrote them")
    return x.to(**contiguous)


def load_tensor_file(path: Path) -> ArrayImages:
    """The images of a tensor file, kept as stored (uint8 stays uint8; a ``.npy`` file is mapped from
    disk, not read), turned into float32 when read (``in_memory`` reads them whole)."""
    try:
        if path.suffix in (".npz", ".npy"):
            data = np.load(path, mmap_mode="r" if path.suffix == ".npy" else None)
            if isinstance(data, np.lib.npyio.NpzFile):
                if not data.files:
                    raise AnalysisError(f"{path}: the .npz file holds no arrays")
                data = data["images"] if "images" in data.files else data[data.files[0]]
            x = data
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            x = obj.get("images") if isinstance(obj, dict) else obj
            if not isinstance(x, torch.Tensor):
                raise AnalysisError(f"{path}: expected a tensor or a dict with key 'images'")
        if x.ndim == 0 or len(x) == 0:
            raise AnalysisError(f"{path}: holds no images")
    except AnalysisError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure is reported as one line
        raise AnalysisError(f"{path}: cannot read ({type(e).__name__}: {e})") from e
    shape = _layout(torch.empty(tuple(x.shape), device="meta"), str(path)).shape[1:]  # no memory: the shape alone
    return ArrayImages(x, lambda rows, positions: _to_nchw(rows, str(path), positions), shape, str(path))


#: The analysis peaks at about this many times the bytes of the images it reads (float32), with a
#: margin: 3.3 GB for 64 + 64 images of 1024 px (1.6 GB) in ``experiments/benchmarks/bench_analyze.py``.
PEAK_PER_IMAGE_BYTE = 3


def in_memory(sets: list[ImageSet | None], chunked: bool | None = None) -> list[ImageSet | None]:
    """The sets to analyse: those read from files (``FolderImages``, ``ArrayImages``) read whole into
    memory where the analysis of all of them fits in the memory available (``PEAK_PER_IMAGE_BYTE``
    times their float32 bytes, less what is in memory already; ``runtime.available_memory``: a
    container's or a job's limit included), else left to be read a chunk at a time, as is every
    one with ``chunked`` (None: decide). Says which."""
    files = [x for x in sets if x is not None and not isinstance(x, torch.Tensor)]
    loaded = sum(float_bytes(x) for x in sets if isinstance(x, torch.Tensor))
    need = PEAK_PER_IMAGE_BYTE * sum(float_bytes(x) for x in sets if x is not None) - loaded
    free = available_memory()
    short = free is not None and need > free
    if files and (chunked or (chunked is None and short)):
        for x in files:
            print(f"{x.source}: {len(x)} images of {'x'.join(map(str, x.shape[1:]))} "
                  f"({float_bytes(x) / 1e9:.1f} GB as float32) read a chunk at a time")
        if short:
            print(f"(analysing them in memory needs about {need / 1e9:.1f} GB, {free / 1e9:.1f} GB available)")
        return sets
    return [x if x is None or isinstance(x, torch.Tensor) else x[:] for x in sets]


def load_folder(path: Path, limit: int | None = None, channels: int | None = None) -> FolderImages:
    """The first ``limit`` images under ``path`` (sorted by path) at their own size (all must match,
    checked from the files' headers); RGB unless all are greyscale. Not read yet (``in_memory``)."""
    folder = ImageFolder(path, image_size=None, channels=channels, strict=True)
    if limit is not None and limit < len(folder):
        print(f"{path}: the first {limit} of its {len(folder)} images by path (--num-samples)")
    return FolderImages.of(folder, limit)


def load_run(path: Path, num_samples: int, seed: int = 0) -> torch.Tensor:
    """Sample ``num_samples`` images from the last good checkpoint of a training run directory (the
    run's own, or its packed job's, for a run in ``JOB/seed=S/``)."""
    run = RunDir(path)
    try:
        cfg = run.config()
    except FileNotFoundError as e:
        raise AnalysisError(str(e)) from e
    warn = lambda m: print(f"warning: {m}", file=sys.stderr)  # noqa: E731
    found = next((f for d in dict.fromkeys((run.checkpoint_dir, run.owner.checkpoint_dir)) if d.is_dir()
                  for f in [ckpt.load_latest(d, warn=warn)] if f is not None and cfg.seed in f[0].get("seeds", [cfg.seed])),
                 None)
    if found is None:
        raise AnalysisError(f"{path}: no readable checkpoint in {run.checkpoint_dir} (or its job's)")
    state = found[0]
    weights = state["G"] if "seeds" not in state else replica_state(state["G"], state["seeds"].index(cfg.seed))
    G = build_generator(cfg, cfg.data.channels)
    G.load_state_dict(weights)
    z = torch.randn(num_samples, cfg.generator.z_dim, generator=torch.Generator().manual_seed(seed))
    return sample(G, z)


def load_dataset(name: str, image_size: int, num: int, seed: int = 0) -> torch.Tensor:
    if name not in config.presets("data"):
        raise AnalysisError(f"reference {name!r} is neither a path nor a dataset; datasets: "
                            f"{', '.join(config.presets('data'))}")
    cfg = compose(f"data={name}", f"image_size={image_size}")
    if "num_images" in cfg.data:
        cfg.data.num_images = num
    return sample_images(build_dataset(cfg), num, seed)


def default_out(path: Path) -> Path:
    """``analysis/<PATH's name>`` under the current directory: the inputs are only read."""
    return Path("analysis") / (path.resolve().name if path.is_dir() else path.stem)


def run_reference(path: Path, num: int, seed: int = 0) -> torch.Tensor | None:
    """``num`` images of the dataset a run directory was trained on (its own config); None for
    anything that is not a run directory."""
    run = RunDir(path)
    if not path.is_dir() or not run.has_config():
        return None
    return sample_images(build_dataset(run.config()), num, seed)


def load_images(spec: str, num_samples: int, image_size: int | None = None) -> ImageSet:
    """Images from a run directory, folder, tensor file (these two not read yet: ``in_memory``), or
    (with ``image_size``) a dataset name."""
    path = Path(spec)
    if path.is_dir():
        if RunDir(path).config_file.is_file() or RunDir(path).checkpoint_dir.is_dir():
            return load_run(path, num_samples)
        return load_folder(path, num_samples)
    if path.is_file():
        if path.suffix not in TENSOR_SUFFIXES:
            raise AnalysisError(f"{path}: not a run directory, folder or tensor file ({', '.join(TENSOR_SUFFIXES)})")
        return load_tensor_file(path)
    if image_size is not None and "/" not in spec:
        return load_dataset(spec, image_size, num_samples)
    raise AnalysisError(f"{path}: no such file or folder")


# ---------------------------------------------------------------------------------------------
# Compute, save, plot


def stats_arrays(prefix: str, stats: SpectralStats) -> dict[str, np.ndarray]:
    out = {f"{prefix}mean_power": stats.mean_power.numpy(), f"{prefix}log_spectrum": stats.log_spectrum.numpy()}
    for p, ce in stats.ce.items():
        out[f"{prefix}ce_p{p}"] = ce.numpy()
    freqs, profile = stats.radial
    out["freqs"], out[f"{prefix}profile"] = freqs.numpy(), profile.numpy()
    if stats.size[0] % 2 == 0 and stats.size[1] % 2 == 0:
        out[f"{prefix}corner"] = spectral.corner_power(stats.mean_power).numpy()  # the (H/2, W/2) bin alone
    return out


def swd_settings() -> tuple[int, int]:
    """SWD's patches and directions as a run's evaluation has them (``conf/eval/default.yaml``)."""
    e = config.load_preset("eval", "default")
    return int(e.swd_patches), int(e.swd_dirs)


def analyze(images: ImageSet, reference: ImageSet | None, out: Path, window: str = "none",
            channels: str = "mean", residual: bool = False, f_min: float = 0.0, boundary: str = "none",
            saturation: str = "none", source: str = "images", max_period: int | None = None,
            detail: bool = False, swd: tuple[int, int] | None = None) -> dict:
    """Compute (``gan.measure.evaluation.Evaluator``: the numbers a run's evaluation logs, ``detail``:
    every number, ``swd``: SWD's patches and directions) and save ``spectra.npz`` and ``metrics.json``
    in ``out``; return the metrics. The
    periods read are ``gan.measure.names.periods_for`` the size (a generator that starts at 4x4), up to
    ``max_period``; which were read, and why the others were not, is printed and saved."""
    h, w = images.shape[-2:]
    if reference is not None and reference.shape[-2:] != images.shape[-2:]:
        raise AnalysisError(f"{source}: images are {w}x{h} but the reference images are "
                            f"{reference.shape[-1]}x{reference.shape[-2]}: sizes must match")
    if reference is not None and reference.shape[1] != images.shape[1]:
        raise AnalysisError(f"{source}: images have {images.shape[1]} channel(s) but the reference images "
                            f"{reference.shape[1]}: channels must match (greyscale against greyscale, RGB against RGB)")
    if min(len(images), len(reference) if reference is not None else len(images)) < D.MIN_IMAGES:
        print(f"fewer than {D.MIN_IMAGES} images: the depths are left out (NaN); the detectors need 32 of each set")
    if max_period is not None and max_period < 2:
        raise AnalysisError(f"--max-period must be at least 2, got {max_period}")
    periods = [p for p in N.periods_for(h, w) if max_period is None or p <= max_period]
    if not periods:
        raise AnalysisError(f"{source}: image size {w}x{h} is not divisible by 2 (or smaller than 8): "
                            f"no checkerboard period fits")
    skipped = N.left_out(h, w, max_period)
    grid = max((p for p in periods if p not in skipped), default=None)
    print(f"periods read: {', '.join(f'P={p}' for p in periods if p not in skipped) or 'none for the depths'}"
          + (f" (the whole grid: P={grid}, {int(math.log2(grid))} x2 stages)" if grid else "")
          + "".join(f"; P={p} {'spectra only: ' if p in periods else 'left out: '}{why}" for p, why in skipped.items()))
    options = dict(window=window, channels=channels, residual=residual, boundary=boundary, saturation=saturation)
    # the reference's set statistics (fixed-pattern CE, phase spread) at the analysed images' sample count;
    # the published detectors, held out, where both sets have 32 images or more
    detect = reference is not None and min(len(images), len(reference)) >= 32
    cap = detectors.max_images(h, w) if detect else 0
    if detect and cap < max(len(images), len(reference)):
        print(f"detectors: at most the first {cap} images of each set (their features' memory: "
              f"gan.measure.detectors.MAX_PIXELS)")
    evaluate = Evaluator(reference, periods, options, group=len(images), f_min=f_min, swd=swd,
                         detector_images=min(cap, len(reference)) if detect else 0, detail=detail, progress=True)
    if evaluate.swd is not None and evaluate.swd_count < min(len(images), len(reference)):
        print(f"SWD: the first {evaluate.swd_count} images of each set (their projections' memory: "
              "gan.measure.swd.SWD_BYTES)")
    evaluation = evaluate(images, detector_fake=head(images, cap) if detect else None)
    values, stats, ref = evaluation.metrics, evaluation.fake, evaluation.real
    for what, s in (("images", stats), ("reference", ref)):
        if s is not None and s.value_range[0] == s.value_range[1]:
            print(f"the {what} are constant (blank): they hold no pattern; a depth's distance reads the other "
                  "set's own pattern, and every detector tells a blank set from one that is not")
    arrays = stats_arrays("", stats) | (stats_arrays("ref_", ref) if ref is not None else {})
    if detect:  # which features give the images away
        arrays |= {f"detector_{name}_weights": d.weights for name, d in evaluate.detections.items()}
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "spectra.npz", **arrays)
    record = {"metrics": values, "options": {**options, "f_min": f_min, "periods": periods, "grid": grid,
                                              "left_out": {str(p): why for p, why in skipped.items()},
                                              "num_images": int(images.shape[0]),
                                              "num_reference": int(reference.shape[0]) if reference is not None else 0,
                                              "num_swd": evaluate.swd_count,
                                              "num_detector": [min(cap, len(x)) for x in (images, reference)]
                                              if detect else [0, 0],
                                              "image_size": [int(h), int(w)]}}
    (out / "metrics.json").write_text(json.dumps(record, indent=2))
    return values


def plot(out: Path) -> list[Path]:
    """Draw the figures from ``out/spectra.npz`` only."""
    a = np.load(out / "spectra.npz")
    has_ref = "ref_log_spectrum" in a.files
    spectra = {"images": a["log_spectrum"], **({"reference": a["ref_log_spectrum"]} if has_ref else {})}
    fig = spectra_figure(spectra, title="mean log10 power spectrum", ratio_of=("images", "reference") if has_ref else None)
    written = [save_figure(fig, out / "mean_log_spectrum.png", dpi=120)]
    if "profile" in a.files:
        profiles = {"images": a["profile"], **({"reference": a["ref_profile"]} if has_ref else {})}
        corners = {k: a[p] for k, p in (("images", "corner"), ("reference", "ref_corner")) if p in a.files}
        fig = radial_profiles_figure(a["freqs"], profiles, title="radial power profile", corners=corners)
        written.append(save_figure(fig, out / "radial_profile.png", dpi=120))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gan.analyze", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="run directory, image folder, or .pt/.npz/.npy tensor file")
    ap.add_argument("--reference", help="path as above, or a dataset name from conf/data (e.g. deadleaves); "
                    "default for a run directory: the dataset it was trained on")
    ap.add_argument("--out", help="output folder (default: analysis/<PATH's name> here; PATH is only read)")
    ap.add_argument("--num-samples", type=int, default=1024, help="images sampled from a run / a dataset, and the "
                    "most read from a folder (the first by path)")
    ap.add_argument("--window", default="none", choices=spectral.WINDOWS)
    ap.add_argument("--channels", default="mean", choices=spectral.CHANNEL_MODES)
    ap.add_argument("--residual", action="store_true", help="spectrum of the median-filter residual")
    ap.add_argument("--boundary", default="none", choices=spectral.BOUNDARIES,
                    help="spectra of the images as they are, or of their periodic component (no boundary leakage)")
    ap.add_argument("--saturation", default="none", choices=spectral.SATURATION_TREATMENTS,
                    help="atanh: measure before tanh squashes artifacts (mostly-saturated images such as MNIST)")
    ap.add_argument("--f-min", type=float, default=0.0, help="lowest frequency in spectral/distance (cycles/px)")
    ap.add_argument("--max-period", type=int, help="the largest period read (2^L for L x2 stages; default: a quarter of "
                    "the side, the grid of a generator that starts at 4x4)")
    ap.add_argument("--detail", action="store_true", help="every number: the superseded dB detectors (CE_P, PS_P, ...) "
                    "and each depth part per period too")
    ap.add_argument("--chunked", action="store_true", help="read folders and tensor files a chunk at a time even where "
                    "they fit in memory (default: only where they do not; slower: every pass reads them again)")
    ap.add_argument("--plot-only", action="store_true", help="redraw the figures of an existing output folder")
    args = ap.parse_args(argv)
    try:
        if args.plot_only:
            out = Path(args.out or args.path)
            if not (out / "spectra.npz").is_file():
                raise AnalysisError(f"{out}: no spectra.npz to plot")
        else:
            if args.num_samples < 1:
                raise AnalysisError(f"--num-samples must be >= 1, got {args.num_samples}")
            path = Path(args.path)
            out = Path(args.out) if args.out else default_out(path)
            images = load_images(args.path, args.num_samples)
            if args.reference:
                reference = load_images(args.reference, args.num_samples, image_size=images.shape[-1])
            else:
                reference = run_reference(path, args.num_samples)
            images, reference = in_memory([images, reference], True if args.chunked else None)
            print(f"writing to {out}" + ("" if reference is not None else " (no reference: numbers of PATH alone)"))
            values = analyze(images, reference, out, args.window, args.channels, args.residual, args.f_min,
                             args.boundary, args.saturation, source=args.path, max_period=args.max_period,
                             detail=args.detail, swd=swd_settings())
            for k, v in values.items():
                print(f"{k:32s} {v:.6g}")
            for name in detectors.DETECTORS:
                auc = N.DETECTOR_AUC.format(d=name)
                if auc in values:
                    acc = N.DETECTOR_ACCURACY.format(d=name)
                    print(f"{name} detector: held-out AUC {values[auc]:.3f} [{values[auc + '_low']:.3f}, "
                          f"{values[auc + '_high']:.3f}], accuracy {values[acc]:.3f} [{values[acc + '_low']:.3f}, "
                          f"{values[acc + '_high']:.3f}] (95%; 0.5: the two sets not told apart)")
        for p in plot(out):
            print(f"wrote {p}")
    except (AnalysisError, ValueError) as e:
        return report(e)
    return 0


if __name__ == "__main__":
    lean_heap()  # the command's own process: memory back to the system as the analysis frees it (large images)
    sys.exit(main())
