"""Image sets read a piece at a time, so a set larger than memory can be measured.

Everything that reads a whole set of images (``gan.measure``) takes an ``ImageSet``: anything with
``shape`` ``(N, C, H, W)``, ``len`` and indexing by an int, a slice or a tensor of indices that returns
float images. A ``torch.Tensor`` is one. ``FolderImages`` holds only file names and reads (decodes)
the images an index asks for, ``ArrayImages`` converts the rows of a stored array it asks for
(a ``.npy`` file mapped from disk); ``Treated`` applies a function to every piece read. Readers walk a set
with ``pieces``; ``head`` keeps the first images without reading them.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence, Union

import numpy as np
import torch

from gan.core.errors import DataError
from gan.data.files import ImageFolder, read_image


class ImageSet(Protocol):
    """``(N, C, H, W)`` images, read when indexed."""

    shape: torch.Size

    def __len__(self) -> int: ...

    def __getitem__(self, index: Union[int, slice, torch.Tensor]) -> torch.Tensor: ...


def pieces(images: ImageSet, size: int, start: int = 0, stop: int | None = None) -> Iterator[torch.Tensor]:
    """``images[start:stop]`` read ``size`` images at a time, in order: ``(<= size, C, H, W)`` each."""
    stop = len(images) if stop is None else min(stop, len(images))
    for i in range(start, stop, size):
        yield images[i:min(i + size, stop)]


def head(images: ImageSet, n: int) -> ImageSet:
    """The first ``n`` images, a view: a lazy set stays unread."""
    return images[:n] if isinstance(images, torch.Tensor) else images.head(n)


def on_device(images: ImageSet, device: torch.device) -> ImageSet:
    """A tensor moved to ``device``; a lazy set as it is (it is read on the CPU, a piece at a time)."""
    return images.to(device) if isinstance(images, torch.Tensor) else images


def float_bytes(images: ImageSet) -> int:
    """Bytes the set takes in memory as float32."""
    return 4 * math.prod(images.shape)


class FolderImages:
    """Image files of one size, read (``ImageFolder``'s transform: RGB or greyscale in [-1, 1]) only
    when indexed; ``of(folder)`` checks every file's size from its header before anything is read."""

    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, files: list[Path], transform: Callable, shape: tuple[int, int, int], source: str = ""):
        self.files, self.transform, self.source = files, transform, source
        self.shape = torch.Size((len(files), *shape))

    @classmethod
    def of(cls, folder: ImageFolder, limit: int | None = None) -> FolderImages:
        """The first ``limit`` images of ``folder`` (an ``ImageFolder`` at the images' own size);
        ``DataError`` naming two files when they differ in size."""
        n = len(folder) if limit is None else min(limit, len(folder))
        files, sizes = folder.files[:n], folder.sizes[:n]
        for path, size in zip(files, sizes):
            if size != sizes[0]:
                raise DataError(f"mixed image sizes: {files[0]} is {sizes[0][0]}x{sizes[0][1]}, {path} is "
                                f"{size[0]}x{size[1]}; crop or resize them to one size")
        width, height = sizes[0]
        return cls(files, folder.transform, (folder.channels, height, width), str(folder.root))

    def __len__(self) -> int:
        return len(self.files)

    def head(self, n: int) -> FolderImages:
        return FolderImages(self.files[:n], self.transform, tuple(self.shape[1:]), self.source)

    def read(self, i: int) -> torch.Tensor:
        """Image ``i``, ``(C, H, W)``."""
        x = read_image(self.files[i], self.transform)
        if x.shape != self.shape[1:]:
            raise DataError(f"{self.files[i]} decodes to {tuple(x.shape)}, not {tuple(self.shape[1:])} as its header "
                            "said")
        return x

    def __getitem__(self, index: Union[int, slice, torch.Tensor]) -> torch.Tensor:
        if isinstance(index, int):
            return self.read(range(len(self))[index])
        rows = range(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index).tolist()
        out = torch.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        for j, i in enumerate(rows):
            out[j] = self.read(i)
        return out


class ArrayImages:
    """Images as a file stored them (a numpy array, memory-mapped or not, or a tensor; any dtype and
    layout), turned into float images of ``shape`` ``(C, H, W)`` by ``convert(rows, positions)`` only
    when indexed (``positions``: the rows' indices, None where all are read; for messages);
    ``source``: where they came from (a file name)."""

    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, data: Union[np.ndarray, torch.Tensor],
                 convert: Callable[[torch.Tensor, Sequence[int] | None], torch.Tensor],
                 shape: tuple[int, int, int], source: str = ""):
        self.data, self.convert, self.source = data, convert, source
        self.shape = torch.Size((len(data), *shape))

    def __len__(self) -> int:
        return len(self.data)

    def head(self, n: int) -> ArrayImages:
        return ArrayImages(self.data[:n], self.convert, tuple(self.shape[1:]), self.source)

    def __getitem__(self, index: Union[int, slice, torch.Tensor]) -> torch.Tensor:
        if isinstance(index, int):
            k = range(len(self))[index]
            return self[k:k + 1][0]
        positions = range(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index).tolist()
        numpy_index = isinstance(self.data, np.ndarray) and not isinstance(index, slice)
        rows = self.data[np.asarray(index) if numpy_index else index]
        if isinstance(rows, np.ndarray):  # a mapped file's rows are read here
            rows = torch.from_numpy(rows if rows.flags.writeable else np.array(rows))
        return self.convert(rows, None if positions == range(len(self)) else positions)


class Treated:
    """``images`` with ``fn`` applied to every piece read (an elementwise function: the same numbers
    as applying it to the whole set)."""

    def __init__(self, images: ImageSet, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.images, self.fn = images, fn
        self.shape = images.shape

    def __len__(self) -> int:
        return len(self.images)

    def head(self, n: int) -> Treated:
        return Treated(head(self.images, n), self.fn)

    def __getitem__(self, index: Union[int, slice, torch.Tensor]) -> torch.Tensor:
        return self.fn(self.images[index])
