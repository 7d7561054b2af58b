"""Images from files: torchvision's datasets and any folder of images."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
import torchvision.datasets as tvd
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from gan.core.errors import DataError

log = logging.getLogger(__name__)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
GREY_MODES = ("L", "I", "I;16", "1", "F")


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
        self.sizes: list[tuple[int, int]] = []  # (width, height) of each file, from its header
        modes = set()
        for p in candidates:
            try:
                with Image.open(p) as im:
                    im.verify()
                    modes.add(im.mode)
                    self.sizes.append(im.size)
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
                return read_image(path, self.transform)
            except DataError:
                self.failed += 1
                log.warning("could not read %s; using the next image", path)
        raise DataError(f"no image under {self.root} could be decoded")


def read_image(path: Path, transform) -> torch.Tensor:
    """``transform`` of the image in ``path``; ``DataError`` naming the file where it cannot be decoded."""
    try:
        with Image.open(path) as im:
            return transform(im)
    except Exception as e:  # noqa: BLE001 - any decoder failure names the file
        raise DataError(f"{path}: unreadable image ({type(e).__name__}: {e})") from e


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


