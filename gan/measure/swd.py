"""Image quality beside artifact energy: the multi-scale sliced Wasserstein distance (SWD) of
Karras et al. 2018 (ProGAN), needing no downloaded weights.

Each image set becomes a Laplacian pyramid down to 16x16; from every level, random 7x7
neighbourhoods are drawn, normalised per channel, and the two sets of descriptors are compared
by the sliced Wasserstein distance: the mean, over random unit directions, of the mean absolute
difference between the sorted projections. Reported x 1e3 per level (as ProGAN) and averaged.
"""
from __future__ import annotations

import math
from typing import Iterator

import torch

from gan.data.imageset import ImageSet, on_device, pieces
from gan.measure.imagestats import CHUNK_VALUES, chunk_size
from gan.measure.names import SWD, SWD_LEVEL
from gan.model.filters import blur_kernel, fir_filter2d

GAUSS_TAPS = (1.0, 4.0, 6.0, 4.0, 1.0)  # ProGAN's 5-tap binomial


def _downsample(x: torch.Tensor) -> torch.Tensor:
    return fir_filter2d(x, blur_kernel(GAUSS_TAPS).to(x))[..., ::2, ::2]


def _upsample(x: torch.Tensor) -> torch.Tensor:
    y = x.new_zeros(*x.shape[:-2], 2 * x.shape[-2], 2 * x.shape[-1])
    y[..., ::2, ::2] = x * 4
    return fir_filter2d(y, blur_kernel(GAUSS_TAPS).to(x))


def _pyramid(x: torch.Tensor, min_size: int) -> Iterator[torch.Tensor]:
    g = x
    while g.shape[-1] > min_size:
        low = _downsample(g)
        yield g - _upsample(low)
        g = low
    yield g


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16, chunk_values: int = CHUNK_VALUES) -> list[torch.Tensor]:
    """``(N, C, S, S)`` -> band-pass levels at S, S/2, ..., and the low-pass residual at ``min_size``: the
    whole set's pyramid (SWD itself reads it a chunk at a time, ``pyramid_patches``).
    Images are filtered in chunks of at most ``chunk_values`` values (the same numbers: each image's
    pyramid is its own), so the filters' working memory does not grow with the set."""
    per_chunk = max(1, chunk_values // max(1, x[0].numel()))
    chunks = [list(_pyramid(x[i:i + per_chunk], min_size)) for i in range(0, len(x), per_chunk)]
    return [torch.cat(level) if len(level) > 1 else level[0] for level in zip(*chunks)]


def level_shapes(h: int, w: int, min_size: int) -> list[tuple[int, int]]:
    """``(H, W)`` of each level of ``laplacian_pyramid`` for images of ``h x w``."""
    shapes = [(h, w)]
    while shapes[-1][1] > min_size:
        shapes.append(((shapes[-1][0] + 1) // 2, (shapes[-1][1] + 1) // 2))
    return shapes


def patch_positions(n: int, h: int, w: int, per_image: int, size: int = 7,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left corners ``(ys, xs)``, each ``(n, per_image)``, of random ``size x size`` neighbourhoods
    of ``n`` images of ``h x w``."""
    ys = torch.randint(0, h - size + 1, (n, per_image), generator=generator)
    xs = torch.randint(0, w - size + 1, (n, per_image), generator=generator)
    return ys, xs


def gather_patches(level: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, size: int = 7) -> torch.Tensor:
    """The neighbourhoods at ``(ys, xs)`` ``(N, P)`` of images ``(N, C, H, W)``: ``(N*P, C, size, size)``."""
    n, c, h, w = level.shape
    per_image = ys.shape[1]
    offs = torch.arange(size)
    rows = (ys[..., None] + offs)[..., :, None].expand(n, per_image, size, size)  # (N, P, size, size)
    cols = (xs[..., None] + offs)[..., None, :].expand(n, per_image, size, size)
    flat = (rows * w + cols).reshape(n, 1, -1).to(level.device).expand(n, c, -1)
    patches = level.reshape(n, c, h * w).gather(2, flat).reshape(n, c, per_image, size, size)
    return patches.permute(0, 2, 1, 3, 4).reshape(n * per_image, c, size, size)


def patch_descriptors(level: torch.Tensor, per_image: int, size: int = 7,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """``per_image`` random ``size x size`` neighbourhoods of every image. ``-> (N*per_image, C, size, size)``."""
    return gather_patches(level, *patch_positions(len(level), *level.shape[-2:], per_image, size, generator), size)


def pyramid_patches(x: ImageSet, positions: list[tuple[torch.Tensor, torch.Tensor]], min_size: int = 16,
                    chunk_values: int | None = None) -> list[torch.Tensor]:
    """The neighbourhoods at ``positions`` (per level of ``level_shapes``, ``(ys, xs)`` each ``(N, P)``) of
    every level of the Laplacian pyramid of ``x`` ``(N, C, S, S)`` (a lazy set: read a chunk at a
    time): ``[(N*P, C, 7, 7), ...]``. Each chunk of at most ``chunk_values`` values (default:
    ``imagestats.chunk_size``'s images) builds its pyramid, gives its patches and drops it: the
    memory is a chunk's pyramid and the patches, never the set's pyramid."""
    per_chunk = chunk_size(x.shape[1:]) if chunk_values is None else max(1, chunk_values // math.prod(x.shape[1:]))
    parts: list[list[torch.Tensor]] = [[] for _ in positions]
    for i, chunk in zip(range(0, len(x), per_chunk), pieces(x, per_chunk)):
        for part, level, (ys, xs) in zip(parts, _pyramid(chunk.float(), min_size), positions):
            part.append(gather_patches(level, ys[i:i + per_chunk], xs[i:i + per_chunk]))
    return [torch.cat(part) for part in parts]


#: Bytes an SWD's images may take per set: the reference's sorted projections plus one set's
#: descriptors, every level, float32. SWD reads at most ``max_images`` images of each set: 3050 of
#: 256 px, 2178 of 1024 px at a run's settings (64 patches, 128 directions), 636 and 454 at ProGAN's
#: (128, 512); a run's evaluation (256 images of at most 128 px) is never cut.
SWD_BYTES = 2**30


def max_images(h: int, w: int, per_image: int, num_dirs: int, channels: int = 3, min_size: int = 16) -> int:
    """The most images of ``channels x h x w`` whose SWD projections and descriptors fit in ``SWD_BYTES``."""
    per = 4 * per_image * (num_dirs + channels * 7 * 7) * len(level_shapes(h, w, min_size))
    return max(1, SWD_BYTES // per)


def normalize_descriptors(d: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit std per channel over the whole set; ``(M, C, k, k) -> (M, C*k*k)``."""
    d = d - d.mean(dim=(0, 2, 3), keepdim=True)
    d = d / d.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return d.reshape(d.shape[0], -1)


def random_directions(dim: int, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` unit vectors in ``dim`` dimensions, ``(dim, count)``."""
    d = torch.randn(dim, count, generator=generator)
    return d / d.norm(dim=0, keepdim=True)


def sorted_projections(d: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Descriptors ``(M, D)`` projected on directions ``(D, K)`` and sorted: ``(K, M)``."""
    return (directions.to(d).t() @ d.t()).sort(dim=1).values


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Mean over directions of mean |sort(a @ dir) - sort(b @ dir)|. a, b: ``(M, D)``; directions ``(D, K)``."""
    if a.shape != b.shape:
        raise ValueError(f"descriptor sets must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (sorted_projections(a, directions) - sorted_projections(b, directions)).abs().mean()


def sliced_wasserstein_reference(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Slow, obviously correct: one direction at a time, one sorted pair at a time."""
    total = 0.0
    for k in range(directions.shape[1]):
        d = directions[:, k].to(a)
        pa, pb = sorted((a @ d).tolist()), sorted((b @ d).tolist())
        total += sum(abs(x - y) for x, y in zip(pa, pb)) / len(pa)
    return torch.tensor(total / directions.shape[1], dtype=a.dtype)


class SlicedWasserstein:
    """Multi-scale SWD to a fixed reference set ``real`` ``(N, C, S, S)``, on ``real``'s device.

    The reference's patches, directions and sorted projections are computed once, so each call on a
    generated set ``(N, C, S, S)`` costs half of a fresh comparison. Deterministic for a given
    ``seed``; the same patch positions and directions serve both sets.
    """

    def __init__(self, real: ImageSet, seed: int = 0, per_image: int = 128, num_dirs: int = 512,
                 min_size: int = 16):
        if real.shape[-1] < min_size or real.shape[-1] < 7:
            raise ValueError(f"SWD needs images of at least {max(min_size, 7)} px, got {real.shape[-1]}")
        self.shape, self.per_image, self.min_size = tuple(real.shape), per_image, min_size
        self.device = real.device
        gen = torch.Generator().manual_seed(seed)
        self.levels = []  # (size, patch positions (ys, xs), directions (D, K))
        for h, w in level_shapes(*real.shape[-2:], min_size):
            positions = patch_positions(len(real), h, w, per_image, generator=gen)
            self.levels.append((w, positions, random_directions(real.shape[1] * 7 * 7, num_dirs, generator=gen).to(self.device)))
        self.reference = [sorted_projections(d, dirs) for d, (_, _, dirs) in zip(self.descriptors(real), self.levels)]

    def descriptors(self, x: ImageSet) -> list[torch.Tensor]:
        """Each level's normalised descriptors of ``x`` ``(N, C, S, S)``: ``[(N*P, C*49), ...]``."""
        patches = pyramid_patches(x, [positions for _, positions, _ in self.levels], self.min_size)
        return [normalize_descriptors(d) for d in patches]

    def __call__(self, fake: ImageSet) -> dict[str, float]:
        """``{"quality/swd_level_S": ..., ..., "quality/swd": mean over levels}``, each x 1e3."""
        if tuple(fake.shape) != self.shape:
            raise ValueError(f"image sets differ in shape: {self.shape} (reference) vs {tuple(fake.shape)}")
        fake = on_device(fake, self.device)
        values = [1e3 * (sorted_projections(d, dirs) - ref).abs().mean()
                  for d, (_, _, dirs), ref in zip(self.descriptors(fake), self.levels, self.reference)]
        out = {SWD_LEVEL.format(size=size): v for (size, *_), v in zip(self.levels, torch.stack(values).tolist())}
        out[SWD] = sum(out.values()) / len(out)  # one host sync for every level
        return out


def swd(real: torch.Tensor, fake: torch.Tensor, seed: int = 0, per_image: int = 128, num_dirs: int = 512,
        min_size: int = 16) -> dict[str, float]:
    """Multi-scale SWD between two image sets ``(N, C, S, S)`` (the larger set is cut to the smaller);
    see ``SlicedWasserstein``."""
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"image sets differ in shape: {tuple(real.shape[1:])} vs {tuple(fake.shape[1:])}")
    n = min(len(real), len(fake))
    return SlicedWasserstein(real[:n], seed, per_image, num_dirs, min_size)(fake[:n])
