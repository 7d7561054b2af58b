"""Loading: in-memory image sets, the seeded endless stream of batches (whose order depends only on
(seed, step), so a resumed run sees the same data as an uninterrupted one), samples and descriptions."""
from __future__ import annotations

import logging
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from gan.core.errors import DataError

log = logging.getLogger(__name__)



class TensorImages(Dataset):
    """Images held in memory, ``images``: (N, C, S, S) in [-1, 1]."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


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

