"""Procedural images generated in memory: dead leaves (the embedded default) and strokes."""
from __future__ import annotations

import logging

import torch

from gan.core.errors import DataError
from gan.data.loading import TensorImages

log = logging.getLogger(__name__)


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
    out = torch.empty(n, channels, size, size)  # filled chunk by chunk: the images once in memory, not four times
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
        out[start:start + m] = img * 2 - 1
    return out


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
    out = torch.empty(n, channels, size, size)
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
        out[start:start + m] = ink[:, None].expand(m, channels, size, size) * 2 - 1
    return out


def strokes(image_size: int, num_images: int = 8192, channels: int = 1, seed: int = 0, num_strokes: int = 3,
            width: float = 0.07) -> TensorImages:
    """The embedded MNIST-like dataset: saturated strokes on black (generated in memory; no download)."""
    if num_images < 1:
        raise DataError(f"data.num_images must be >= 1, got {num_images}")
    return TensorImages(stroke_images(num_images, image_size, channels, seed, num_strokes, width))


