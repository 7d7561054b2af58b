"""DCGAN generator and discriminator (Radford et al. 2016) built around a swappable upsampler."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn

from gan.core.config import preset_factory
from gan.model import upsamplers
from gan.model.filters import Blur

UpsamplerSpec = str | Mapping[str, Any] | Callable[[int, int], nn.Module]

#: ``generator.upsample_layers``: the chosen upsampler in every stage, or only in the last one.
UPSAMPLE_LAYERS = ("all", "last")
#: ``discriminator.downsample`` choices.
DOWNSAMPLERS = ("strided", "blur_strided", "resize")


def num_stages(image_size: int) -> int:
    """Number of x2 stages from 4x4 to ``image_size`` (a power of two >= 8)."""
    n = int(round(math.log2(image_size))) if image_size > 0 else 0
    if image_size < 8 or 2**n != image_size:
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
    return n - 2


def _factory(spec: UpsamplerSpec) -> Callable[[int, int], nn.Module]:
    """``(in_channels, out_channels) -> upsampler`` from a preset name, a config or a factory."""
    if callable(spec) and not isinstance(spec, Mapping):
        return spec
    return preset_factory("upsampler", spec)


@torch.no_grad()
def dcgan_init_(net: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN init: conv weights N(0, std), BatchNorm scale N(1, std), biases 0; then every
    upsampler re-imposes its structured init (ICNR, bilinear) on top."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    for m in net.modules():
        if isinstance(m, upsamplers.Upsampler):
            m.init_structure_()
    return net


class Generator(nn.Module):
    """z ``(B, z_dim)`` -> image ``(B, channels, S, S)`` in [-1, 1].

    A 4x4 projection (``ConvTranspose2d(z_dim, ngf * 2^(n-1), 4)``, the same for every upsampler),
    then n = log2(S/4) stages of [upsampler -> BatchNorm -> ReLU]; the last stage maps to
    ``channels`` and ends in tanh. ``upsample_layers="last"`` uses ``upsampler`` only in the last
    stage and ``transposed`` elsewhere (Chandrasegaran et al. 2021).
    """

    def __init__(self, image_size: int = 32, channels: int = 3, ngf: int = 64, z_dim: int = 100,
                 upsampler: UpsamplerSpec = "transposed", upsample_layers: str = "all"):
        super().__init__()
        if upsample_layers not in UPSAMPLE_LAYERS:
            raise ValueError(f"generator.upsample_layers must be one of {', '.join(UPSAMPLE_LAYERS)}, "
                             f"got {upsample_layers!r}")
        n = num_stages(image_size)
        self.z_dim = z_dim
        chosen, default = _factory(upsampler), _factory("transposed")
        widths = [ngf * 2 ** (n - 1 - i) for i in range(n)] + [channels]  # stage i: widths[i] -> widths[i+1]
        self.project = nn.Sequential(  # (B, z_dim, 1, 1) -> (B, widths[0], 4, 4)
            nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        )
        stages = []
        for i in range(n):
            last = i == n - 1
            make = chosen if (last or upsample_layers == "all") else default
            up = make(widths[i], widths[i + 1])  # (B, w_i, s, s) -> (B, w_{i+1}, 2s, 2s)
            tail = [nn.Tanh()] if last else [nn.BatchNorm2d(widths[i + 1]), nn.ReLU(True)]
            stages.append(nn.Sequential(up, *tail))
        self.stages = nn.Sequential(*stages)
        dcgan_init_(self)

    def upsampling_layers(self) -> list[upsamplers.Upsampler]:
        """The upsampler of each stage, first to last."""
        return [stage[0] for stage in self.stages]

    def forward(self, z: torch.Tensor, stages: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Images ``(B, channels, S, S)``; ``stages=True``: every stage's output, first to last,
        ``[(B, w_1, 8, 8), (B, w_2, 16, 16), ..., (B, channels, S, S)]`` (the last is the image)."""
        x = self.project(z.view(z.shape[0], -1, 1, 1))  # (B, w_0, 4, 4)
        if not stages:
            return self.stages(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def _downsampler(kind: str, cin: int, cout: int) -> nn.Module:
    """(B, cin, H, W) -> (B, cout, H/2, W/2)."""
    if kind == "strided":  # DCGAN
        return nn.Conv2d(cin, cout, 4, 2, 1, bias=False)
    if kind == "blur_strided":  # anti-aliased: low-pass, then the strided conv
        return nn.Sequential(Blur("binomial"), nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
    if kind == "resize":  # bilinear x1/2 then a 'same' conv
        return nn.Sequential(nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=False),
                             nn.Conv2d(cin, cout, 3, 1, 1, bias=False))
    raise ValueError(f"discriminator.downsample must be one of {', '.join(DOWNSAMPLERS)}; got {kind!r}")


class Discriminator(nn.Module):
    """Image ``(B, channels, S, S)`` -> logit ``(B,)``; the DCGAN mirror of the generator:
    n stride-2 stages (LeakyReLU 0.2, BatchNorm except the first) to 4x4, then a 4x4 conv."""

    def __init__(self, image_size: int = 32, channels: int = 3, ndf: int = 64, downsample: str = "strided"):
        super().__init__()
        n = num_stages(image_size)
        layers: list[nn.Module] = []
        cin = channels
        for i in range(n):  # (B, cin, s, s) -> (B, ndf * 2^i, s/2, s/2)
            cout = ndf * 2**i
            layers.append(_downsampler(downsample, cin, cout))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, 0, bias=False))  # (B, 1, 1, 1)
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


@torch.no_grad()
def sample(G: Any, z: torch.Tensor, batch_size: int = 256, stages: bool = False) -> torch.Tensor | list[torch.Tensor]:
    """Images of a generator from noise, ``batch_size`` at a time, float32 on the noise's device.

    ``G``: a ``Generator`` and ``z`` ``(N, z_dim)`` -> ``(N, C, S, S)``; or ``gan.model.replicas.Replicas``
    of generators and ``z`` ``(K, N, z_dim)`` -> ``(K, N, C, S, S)``. ``stages=True``: every stage's
    output, first to last (the last are the images), ``[(..., C_1, 8, 8), ..., (..., C, S, S)]``.
    BatchNorm uses batch statistics (train mode, as DCGAN samples), and the running statistics
    are restored afterwards, so sampling never changes the model.
    """
    replicated = hasattr(G, "eager")  # Replicas: the uncompiled forward over (K, B, ...)
    forward, buffers = (G.eager, G.buffers) if replicated else (G, dict(G.named_buffers()))
    saved = {k: v.clone() for k, v in buffers.items()}
    dim = 1 if replicated else 0
    chunks = [forward(zb, stages=True) if stages else [forward(zb)] for zb in z.split(batch_size, dim=dim)]
    out = [torch.cat([c[i] for c in chunks], dim=dim).float() for i in range(len(chunks[0]))]
    for k, v in buffers.items():
        v.copy_(saved[k])
    return out if stages else out[0]
