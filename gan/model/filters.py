"""Fixed low-pass FIR filters ("blurs") applied after an upsampler or before a subsampler.

``fir_filter2d`` is the op; ``Blur`` is a thin module that only holds the kernel as a buffer.
Padding replicates the border, so a constant image stays exactly constant everywhere.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Named 1-D taps; the 2-D kernel is their outer product, normalised to sum 1.
BLUR_TAPS: dict[str, tuple[float, ...]] = {
    "zoh": (1.0, 1.0),  # 2x2 box: zero-order hold (Sugawara et al. 2019; fastai blur=True)
    "binomial": (1.0, 3.0, 3.0, 1.0),  # StyleGAN2's [1,3,3,1] anti-aliasing filter
}


def blur_kernel(taps: str | Sequence[float]) -> torch.Tensor:
    """Separable 2-D kernel ``(K, K)`` from a name in ``BLUR_TAPS`` or a list of 1-D taps, sum 1."""
    if isinstance(taps, str):
        if taps not in BLUR_TAPS:
            raise ValueError(f"unknown blur {taps!r}; choose one of {sorted(BLUR_TAPS)} or a list of taps")
        taps = BLUR_TAPS[taps]
    t = torch.as_tensor(list(taps), dtype=torch.float64)
    if t.ndim != 1 or t.numel() == 0 or t.sum() == 0:
        raise ValueError(f"blur taps must be a non-empty 1-D list with a non-zero sum, got {list(taps)}")
    k = torch.outer(t, t)
    return (k / k.sum()).float()


def fir_filter2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise 'same'-size filtering with replicate padding.

    x: (B, C, H, W); kernel: (K, K). Returns (B, C, H, W). For even K the extra tap sits
    before the centre (left/top pad = K // 2), so the 2x2 box averages a pixel with its
    upper-left neighbours, as fastai's ``ReplicationPad2d((1, 0, 1, 0)) + AvgPool2d(2, 1)``.
    """
    k = kernel.shape[-1]
    lo, hi = k // 2, (k - 1) // 2
    xp = F.pad(x, (lo, hi, lo, hi), mode="replicate")
    c = x.shape[1]
    w = kernel.to(x.dtype).flip(-1, -2).expand(c, 1, k, k)  # flip: true convolution
    return F.conv2d(xp, w, groups=c)


class Blur(nn.Module):
    """``fir_filter2d`` with a fixed kernel held as a (non-trainable) buffer."""

    def __init__(self, taps: str | Sequence[float]):
        super().__init__()
        self.taps = taps if isinstance(taps, str) else list(taps)
        self.register_buffer("kernel", blur_kernel(taps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fir_filter2d(x, self.kernel)

    def extra_repr(self) -> str:
        return f"taps={self.taps!r}"
