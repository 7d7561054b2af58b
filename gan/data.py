"""Datasets chosen by ``data=NAME``: the embedded procedural default, torchvision sets, any folder.

Every dataset yields images ``(C, S, S)`` scaled to [-1, 1]. ``batches`` turns one into an
endless, seeded stream of batches whose order depends only on (seed, step), so a resumed run
sees the same data as an uninterrupted one.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import torch
import torchvision.datasets as tvd
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from gan.errors import DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
GREY_MODES = ("L", "I", "I;16", "1", "F")


class TensorImages(Dataset):
    """Images held in memory, ``images``: (N, C, S, S) in [-1, 1]."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


# ---------------------------------------------------------------------------------------------
# Dead leaves (Lee, Mumford & Huang 2001), the embedded default


def dead_leaves_images(n: int, size: int, channels: int = 3, seed: int = 0, num_discs: int = 16,
                       r_min: float = 0.1, r_max: float = 0.6, alpha: float = 3.0,
                       chunk: int = 256) -> torch.Tensor:
    """``n`` dead-leaves images ``(n, channels, size, size)`` in [-1, 1], deterministic in ``seed``.

    Discs with uniform centres, radii from the scale-invariant law p(r) ~ r^-alpha on
    [r_min, r_max] (fractions of the image side) and uniform random colours are painted back to
    front over a random background, so nearer discs occlude farther ones. Edges are anti-aliased
    analytically (pixel coverage ramps over one pixel). The radial power spectrum falls as about
    f^-2.2 below 0.1 cycles/pixel and f^-3 above it at 32 x 32 (f^-2.9 to f^-3.1 at 64 x 64):
    like natural images at low frequencies, steeper at high ones (fewer fine details).
    """
    gen = torch.Generator().manual_seed(int(seed))
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size  # pixel centres in [0, 1]
    yy, xx = coords.view(1, size, 1), coords.view(1, 1, size)
    a, b = r_min ** (1 - alpha), r_max ** (1 - alpha)
    out = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        u = torch.rand(m, num_discs, generator=gen)
        radius = (a - u * (a - b)) ** (1 / (1 - alpha))  # inverse CDF of the power law, (m, K)
        centre = torch.rand(m, num_discs, 2, generator=gen) * 1.2 - 0.1
        colour = torch.rand(m, num_discs, channels, 1, 1, generator=gen)
        img = torch.rand(m, channels, 1, 1, generator=gen).expand(m, channels, size, size).clone()
        for k in range(num_discs):  # back to front
            dist = torch.hypot(yy - centre[:, k, 0, None, None], xx - centre[:, k, 1, None, None])
            cover = ((radius[:, k, None, None] - dist) * size + 0.5).clamp_(0, 1).unsqueeze(1)  # (m,1,S,S)
            img.lerp_(colour[:, k], cover)
        out.append(img)
    return torch.cat(out) * 2 - 1


def deadleaves(image_size: int, num_images: int = 8192, channels: int = 3, seed: int = 0, num_discs: int = 16,
               r_min: float = 0.1, r_max: float = 0.6, alpha: float = 3.0) -> TensorImages:
    """The embedded procedural dataset (generated in memory; no download)."""
    if num_images < 1:
        raise DataError(f"data.num_images must be >= 1, got {num_images}")
    if not 0 < r_min <= r_max or alpha == 1:
        raise DataError(f"data.r_min, data.r_max must satisfy 0 < r_min <= r_max, and data.alpha != 1; "
                        f"got {r_min}, {r_max}, {alpha}")
    return TensorImages(dead_leaves_images(num_images, image_size, channels, seed, num_discs, r_min, r_max, alpha))


def stroke_images(n: int, size: int, channels: int = 1, seed: int = 0, num_strokes: int = 3,
                  width: float = 0.07, chunk: int = 256) -> torch.Tensor:
    """``n`` MNIST-like images ``(n, channels, size, size)`` in [-1, 1], deterministic in ``seed``:
    ``num_strokes`` straight strokes of half-width ``width`` (a fraction of the side) in the central
    60% of a black background, anti-aliased over one pixel. Like MNIST most pixels sit exactly at
    -1 and stroke cores at +1, so most values are at tanh's limits."""
    gen = torch.Generator().manual_seed(int(seed))
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    yy, xx = coords.view(1, size, 1), coords.view(1, 1, size)
    out = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        ends = torch.rand(m, num_strokes, 2, 2, generator=gen) * 0.6 + 0.2  # (m, K, end, yx)
        ink = torch.zeros(m, size, size)
        for k in range(num_strokes):
            p0, d = ends[:, k, 0], ends[:, k, 1] - ends[:, k, 0]  # (m, 2)
            t = ((yy - p0[:, 0, None, None]) * d[:, 0, None, None] + (xx - p0[:, 1, None, None]) * d[:, 1, None, None])
            t = (t / d.square().sum(dim=1).clamp_min(1e-6)[:, None, None]).clamp(0, 1)  # nearest point on the segment
            dist = torch.hypot(yy - p0[:, 0, None, None] - t * d[:, 0, None, None],
                               xx - p0[:, 1, None, None] - t * d[:, 1, None, None])
            ink = torch.maximum(ink, ((width - dist) * size + 0.5).clamp(0, 1))
        out.append(ink[:, None].expand(m, channels, size, size))
    return torch.cat(out) * 2 - 1


def strokes(image_size: int, num_images: int = 8192, channels: int = 1, seed: int = 0, num_strokes: int = 3,
            width: float = 0.07) -> TensorImages:
    """The embedded MNIST-like dataset: saturated strokes on black (generated in memory; no download)."""
    if num_images < 1:
        raise DataError(f"data.num_images must be >= 1, got {num_images}")
    return TensorImages(stroke_images(num_images, image_size, channels, seed, num_strokes, width))


# ---------------------------------------------------------------------------------------------
# Files: torchvision datasets and image folders


def image_transform(image_size: int | None, channels: int):
    """PIL image -> (channels, S, S) in [-1, 1]: grey/RGB conversion, resize and centre crop to
    ``image_size`` (None: the image's own size)."""
    if channels not in (1, 3):
        raise DataError(f"data.channels must be 1 or 3, got {channels}")
    mode = "L" if channels == 1 else "RGB"
    resize = [T.Resize(image_size), T.CenterCrop(image_size)] if image_size is not None else []
    return T.Compose([
        T.Lambda(lambda im: im.convert(mode)),
        *resize,
        T.ToTensor(),
        T.Normalize([0.5] * channels, [0.5] * channels),
    ])


class _DropLabels(Dataset):
    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.base[i][0]


TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def torchvision_dataset(name: str, image_size: int, root: str = "data", channels: int = 1,
                        download: bool = False, train: bool = True) -> Dataset:
    """A torchvision dataset (``mnist``, ``fashion_mnist``, ``cifar10``) without labels."""
    if name not in TORCHVISION:
        raise DataError(f"unknown torchvision dataset {name!r}; choose one of {sorted(TORCHVISION)}")
    cls = getattr(tvd, TORCHVISION[name])
    root_path = Path(root).expanduser().resolve()
    try:
        base = cls(str(root_path), train=train, download=download, transform=image_transform(image_size, channels))
    except RuntimeError as e:
        raise DataError(
            f"{TORCHVISION[name]} not found under {root_path} ({e}); run with data.download=true "
            f"to fetch it, or point data.root at a folder that holds {cls.__name__}/raw or its archive") from e
    return _DropLabels(base)


class ImageFolder(Dataset):
    """Every image file under ``root``, searched recursively (no class subfolders needed).

    ``image_size``: resize and centre-crop to S x S (None: keep each image's size). ``channels``:
    1 or 3, or None for 1 when every image is greyscale and 3 otherwise. With ``strict=False``
    (training) files whose header cannot be read are skipped at start with a count in the log, and
    a file that fails later is replaced by the next readable one (counted in ``failed``); with
    ``strict=True`` (``gan.analyze``) an unreadable file is an error naming it.
    """

    def __init__(self, root: str | Path, image_size: int | None = None, channels: int | None = 3,
                 strict: bool = False):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DataError(f"data.root {self.root} is not a folder; set data.root=/path/to/images "
                            f"(any tree of {', '.join(IMAGE_EXTENSIONS[:4])}, ... files)")
        candidates = image_files(self.root)
        self.files: list[Path] = []
        modes = set()
        for p in candidates:
            try:
                with Image.open(p) as im:
                    im.verify()
                    modes.add(im.mode)
                self.files.append(p)
            except Exception as e:  # noqa: BLE001 - any unreadable file is skipped and counted
                if strict:
                    raise DataError(f"{p}: unreadable image ({type(e).__name__})") from e
        skipped = len(candidates) - len(self.files)
        if skipped:
            log.warning("skipped %d unreadable image file(s) under %s", skipped, self.root)
        if not self.files:
            raise DataError(no_readable_images(self.root, len(candidates)))
        self.channels = channels or (1 if modes <= set(GREY_MODES) else 3)
        self.transform = image_transform(image_size, self.channels)
        self.failed = 0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        for j in range(len(self.files)):
            path = self.files[(i + j) % len(self.files)]
            try:
                with Image.open(path) as im:
                    return self.transform(im)
            except Exception:  # noqa: BLE001
                self.failed += 1
                log.warning("could not read %s; using the next image", path)
        raise DataError(f"no image under {self.root} could be decoded")

    def load_all(self, limit: int | None = None) -> torch.Tensor:
        """The first ``limit`` images (default: every one), ``(N, C, H, W)``, read one at a time into
        one tensor; all must have the same size (``image_size=None``)."""
        n = len(self) if limit is None else min(limit, len(self))
        first = self[0]
        out = torch.empty((n, *first.shape), dtype=first.dtype)
        for i in range(n):
            x = first if i == 0 else self[i]
            if x.shape != first.shape:
                raise DataError(f"mixed image sizes: {self.files[0]} is {first.shape[2]}x{first.shape[1]}, "
                                f"{self.files[i]} is {x.shape[2]}x{x.shape[1]}; crop or resize them to one size")
            out[i] = x
        return out


def no_readable_images(root: Path, candidates: int) -> str:
    return (f"no readable images under {root} (found {candidates} candidate file(s); no image files with "
            f"extensions {', '.join(IMAGE_EXTENSIONS)} that open)")


def image_files(root: Path) -> list[Path]:
    """The files under ``root`` (recursively) whose extension is an image's, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)


def readable(path: Path) -> bool:
    """Whether Pillow can open ``path`` and verify its header."""
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:  # noqa: BLE001 - any failure means unreadable
        return False


def unavailable(options: dict) -> str | None:
    """Why the dataset of ``data`` options (a ``_target_`` and its settings) cannot be read here, or
    None. Cheap (at most one readable image is opened), so every job of a sweep is checked before any
    starts, and a refused command has written nothing."""
    target = str(options.get("_target_", ""))
    root = Path(str(options.get("root", "data"))).expanduser().resolve()
    if target.endswith(".folder") and not root.is_dir():
        return f"data.root {root} is not a folder; set data.root=/path/to/images"
    if target.endswith(".folder"):
        candidates = image_files(root)
        if not any(readable(p) for p in candidates):  # stops at the first readable one
            return no_readable_images(root, len(candidates))
    if target.endswith(".torchvision_dataset") and not options.get("download", False):
        name = TORCHVISION.get(str(options.get("name")))
        if name:
            cls = getattr(tvd, name)
            places = [root / getattr(cls, "base_folder", name), root / str(getattr(cls, "filename", name))]
            if not any(p.exists() for p in places):  # MNIST: root/MNIST; CIFAR10: its batches or archive
                return (f"{name} not found under {root}; run with data.download=true to fetch it, or point "
                        f"data.root at a folder that holds {places[0].name}")
    return None


def folder(image_size: int, root: str, channels: int = 3) -> ImageFolder:
    """``data=folder``: any image folder, resized to the run's size."""
    return ImageFolder(root, image_size, channels)


# ---------------------------------------------------------------------------------------------
# Batches


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch, a function of (seed, epoch) only."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch))


class _StepBatches(torch.utils.data.Sampler):
    """Index batches for steps ``start_step, start_step + 1, ...`` (drop-last epochs)."""

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int):
        self.n, self.batch_size, self.seed, self.start_step = n, batch_size, seed, start_step
        self.per_epoch = n // batch_size

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            epoch, k = divmod(step, self.per_epoch)
            perm = epoch_permutation(self.n, self.seed, epoch)
            for j in range(k, self.per_epoch):
                yield perm[j * self.batch_size:(j + 1) * self.batch_size].tolist()
            step = (epoch + 1) * self.per_epoch


def batches(dataset: Dataset, batch_size: int, seed: int = 0, start_step: int = 0,
            num_workers: int = 0) -> Iterator[torch.Tensor]:
    """Endless batches ``(B, C, S, S)``; batch number ``t`` depends only on (seed, t)."""
    n = len(dataset)
    if n < batch_size:
        raise DataError(f"the dataset has {n} image(s), fewer than train.batch_size={batch_size}")
    sampler = _StepBatches(n, batch_size, seed, start_step)
    if isinstance(dataset, TensorImages):  # in memory: index directly, no per-item collate
        for idx in sampler:
            yield dataset.images[idx]
        return
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                        persistent_workers=num_workers > 0)
    yield from loader


def sample_images(dataset: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """``min(n, len)`` images ``(n, C, S, S)`` drawn without replacement, fixed by ``seed``."""
    idx = epoch_permutation(len(dataset), seed, -1)[:n]
    if isinstance(dataset, TensorImages):
        return dataset.images[idx]
    return torch.stack([dataset[int(i)] for i in idx])


def describe(dataset: Dataset) -> str:
    return f"{type(dataset).__name__} with {len(dataset)} images of shape {tuple(dataset[0].shape)}"


__all__ = ["DataError", "TensorImages", "dead_leaves_images", "deadleaves", "stroke_images", "strokes",
           "torchvision_dataset",
           "ImageFolder", "folder", "batches", "sample_images", "epoch_permutation", "describe"]
