"""The upsampler zoo: every upsampler maps ``(B, Cin, H, W) -> (B, Cout, 2H, 2W)`` for any H, W >= 1.

Each class takes ``(in_channels, out_channels, **options)``, so a Hydra config with
``_partial_: true`` (one YAML per preset in ``conf/upsampler/``) is a factory that the
networks call with the channel counts they need (by name: ``gan.build.upsampler``). Any upsampler takes ``blur=`` (a name from
``gan.model.filters.BLUR_TAPS`` or a list of taps), a fixed low-pass applied after upsampling.

Structured initialisations (ICNR, bilinear) live in ``init_structure_()``, which the
constructor calls and which ``gan.model.networks.dcgan_init_`` calls again after the generic
N(0, 0.02) init, so that a network-wide re-init cannot erase them.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from gan.model.convmath import bilinear_kernel
from gan.model.filters import Blur

BlurSpec = str | Sequence[float] | None


class Upsampler(nn.Module):
    """Base class: ``forward = blur(up(x))``; subclasses build ``self.up``."""

    up: nn.Module

    def __init__(self, in_channels: int, out_channels: int, blur: BlurSpec = None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.blur = Blur(blur) if blur else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.up(x))

    @torch.no_grad()
    def init_structure_(self) -> None:
        """Re-impose a structured initialisation on the current weights (none by default)."""


def transposed_padding(kernel_size: int) -> tuple[int, int]:
    """``(padding, output_padding)`` giving exactly 2H for a stride-2 transposed conv.

    Output size is ``2(H-1) - 2p + k + op``; ``p = (k-1)//2`` and ``op = 2 - k + 2p`` (0 or 1).
    """
    if kernel_size < 1:
        raise ValueError(f"upsampler.kernel_size must be >= 1, got {kernel_size}")
    p = (kernel_size - 1) // 2
    return p, 2 - kernel_size + 2 * p


class TransposedConv(Upsampler):
    """Stride-2 ``ConvTranspose2d`` (DCGAN). ``init="bilinear"``: FCN bilinear kernel times a
    random 1x1 channel mix, i.e. bilinear upsampling of a 1x1 conv at init."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 4,
                 init: str = "default", blur: BlurSpec = None, bias: bool = False):
        super().__init__(in_channels, out_channels, blur)
        if init not in ("default", "bilinear"):
            raise ValueError(f"upsampler.init must be 'default' or 'bilinear' for transposed, got {init!r}")
        p, op = transposed_padding(kernel_size)
        self.init = init
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=2, padding=p,
                                     output_padding=op, bias=bias)
        self.init_structure_()

    @torch.no_grad()
    def init_structure_(self) -> None:
        if self.init == "bilinear":
            w = self.up.weight  # (Cin, Cout, k, k)
            mix = w[:, :, 0, 0].clone()  # keeps the scale of whatever init ran before
            w.copy_(mix[:, :, None, None] * bilinear_kernel(w.shape[-1]).to(w))


class ResizeConv(Upsampler):
    """``F.interpolate(x, scale_factor=2, mode)`` then a 'same' ``Conv2d`` (Odena et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, mode: str = "nearest",
                 kernel_size: int = 3, blur: BlurSpec = None, bias: bool = False):
        super().__init__(in_channels, out_channels, blur)
        if mode not in ("nearest", "bilinear", "bicubic"):
            raise ValueError(f"upsampler.mode must be nearest, bilinear or bicubic, got {mode!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"upsampler.kernel_size must be odd for a 'same' conv, got {kernel_size}")
        align = None if mode == "nearest" else False
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode=mode, align_corners=align),
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias),
        )


class PixelShuffleConv(Upsampler):
    """'Same' ``Conv2d`` to ``4 * Cout`` channels, then ``PixelShuffle(2)`` (Shi et al. 2016).

    ``init="icnr"`` (Aitken et al. 2017): the four sub-kernels feeding each output channel are
    copies of one, so at init the output is nearest-neighbour upsampling of a Cout-kernel conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 init: str = "default", blur: BlurSpec = None, bias: bool = False):
        super().__init__(in_channels, out_channels, blur)
        if init not in ("default", "icnr"):
            raise ValueError(f"upsampler.init must be 'default' or 'icnr' for pixel shuffle, got {init!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"upsampler.kernel_size must be odd for a 'same' conv, got {kernel_size}")
        self.init = init
        self.up = nn.Sequential(nn.Conv2d(in_channels, 4 * out_channels, kernel_size, padding=kernel_size // 2,
                                          bias=bias), nn.PixelShuffle(2))
        self.init_structure_()

    @property
    def conv(self) -> nn.Conv2d:
        """The convolution before the shuffle (registered once, as ``up.0``: no tied names)."""
        return self.up[0]

    @torch.no_grad()
    def init_structure_(self) -> None:
        if self.init == "icnr":
            # PixelShuffle sends channel 4c + s to output channel c, sub-pixel s.
            self.conv.weight.copy_(self.conv.weight[::4].repeat_interleave(4, dim=0))
            if self.conv.bias is not None:
                self.conv.bias.copy_(self.conv.bias[::4].repeat_interleave(4))
