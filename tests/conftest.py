"""Shared fixtures: the real Hydra config, composed and shrunk to CPU-sized toys (``conf/debug/tiny.yaml``)."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from gan.app import compose as compose_config

TINY = ["+debug=tiny"]

__all__ = ["TINY", "compose_config"]


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
    from gan.data import stroke_images
    strokes = ((stroke_images(64, 28, seed=3)[:, 0].numpy() + 1) * 127.5).round()
    return write_mnist(tmp_path_factory.mktemp("mnist"), strokes)


@pytest.fixture(scope="session")
def png_folder(tmp_path_factory) -> Path:
    """A folder of 64 tiny RGB PNGs (dead leaves, 20 x 20) in two subfolders."""
    from PIL import Image
    from gan.data import dead_leaves_images
    root = tmp_path_factory.mktemp("pngs")
    images = ((dead_leaves_images(64, 20, seed=4).permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)
    for i, a in enumerate(images):
        (root / f"part{i % 2}").mkdir(exist_ok=True)
        Image.fromarray(a).save(root / f"part{i % 2}" / f"{i}.png")
    return root
