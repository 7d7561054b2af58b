"""Convolution arithmetic behind checkerboard artifacts."""
from __future__ import annotations

import torch


def bilinear_kernel(k: int) -> torch.Tensor:
    """FCN bilinear upsampling kernel ``(k, k)`` (Long et al. 2015).

    With ``conv_transpose2d(stride=2, padding=1)`` and k=4 it reproduces
    ``F.interpolate(mode="bilinear", align_corners=False)`` away from the border.
    """
    if k < 1:
        raise ValueError(f"kernel size must be >= 1, got {k}")
    factor = (k + 1) // 2
    center = factor - 1 if k % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(k, dtype=torch.float64) - center).abs() / factor
    return torch.outer(taps, taps).float()
