"""Shared fixtures: the real Hydra config, composed and shrunk to CPU-sized toys (``conf/debug/tiny.yaml``),
and ``train.py`` run as a command, in this process or in a new one."""
from __future__ import annotations

import os

# One thread per process: two xdist workers (and the commands they start, which inherit this) on two
# cores; OpenMP threads beyond the cores spin against each other (the whole suite: 17 min 48 s with
# torch's default threads, 6 min 40 s with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import contextlib
import gzip
import io
import logging
import runpy
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from gan.app import compose as compose_config
from gan.data.procedural import dead_leaves_images, stroke_images

TINY = ["+debug=tiny"]
ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "train.py"

__all__ = ["TINY", "ROOT", "compose_config", "cli", "cli_process"]


@dataclass
class Outcome:
    """What a command did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def cli(cwd: Path, *args: str) -> Outcome:
    """``python train.py ARGS`` run in ``cwd`` inside this process (``runpy``, as ``__main__``): the same
    code from argument checks to exit code, without an interpreter's and torch's start-up. Hydra's
    global state, the logging handlers it opens, the working directory, ``sys.argv`` and the
    environment are restored afterwards. Signals, exits of a killed process and parallel launchers
    need ``cli_process``."""
    saved = sys.argv, os.getcwd(), dict(os.environ), list(logging.getLogger().handlers)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    sys.argv = [str(TRAIN), *args]
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(TRAIN), run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = saved[0]
        os.chdir(saved[1])
        os.environ.clear()
        os.environ.update(saved[2])
        root = logging.getLogger()
        for handler in root.handlers[:]:
            if handler not in saved[3]:
                root.removeHandler(handler)
                handler.close()
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
    return Outcome(code, out.getvalue(), err.getvalue())


def cli_process(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` in a new process in ``cwd``."""
    return subprocess.run([sys.executable, str(TRAIN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tiny_cfg(tmp_path):
    """A factory: ``tiny_cfg("upsampler=resize_nearest")`` -> a tiny config writing to tmp_path."""
    def make(*overrides: str, run_dir=None):
        return compose_config(*TINY, f"run_dir={run_dir or tmp_path / 'run'}", *overrides)
    return make


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (MNIST's format), gzipped, as torchvision expects it."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, images: np.ndarray, test_images: int = 2) -> Path:
    """``root/MNIST/raw`` with train and t10k IDX files (and their unpacked copies) from ``images``
    ``(N, 28, 28)`` uint8: what ``data=mnist data.root=root`` reads."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    labels = np.random.default_rng(0).integers(0, 10, len(images))
    for split, n in (("train", len(images)), ("t10k", test_images)):  # torchvision checks both splits
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images[:n])
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels[:n])
    for gz in raw.glob("*.gz"):  # torchvision reads the unpacked files
        with gzip.open(gz) as f:
            gz.with_suffix("").write_bytes(f.read())
    return root


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """Tiny MNIST-format data: 64 stroke images of 28 x 28 as IDX files."""
    strokes = ((stroke_images(64, 28, seed=3)[:, 0].numpy() + 1) * 127.5).round()
    return write_mnist(tmp_path_factory.mktemp("mnist"), strokes)


@pytest.fixture(scope="session")
def png_folder(tmp_path_factory) -> Path:
    """A folder of 64 tiny RGB PNGs (dead leaves, 20 x 20) in two subfolders."""
    from PIL import Image
    root = tmp_path_factory.mktemp("pngs")
    images = ((dead_leaves_images(64, 20, seed=4).permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)
    for i, a in enumerate(images):
        (root / f"part{i % 2}").mkdir(exist_ok=True)
        Image.fromarray(a).save(root / f"part{i % 2}" / f"{i}.png")
    return root
