"""Known upsampling artifacts, applied to clean images at a controlled strength (calibration).

Each artifact is a map ``A(x)`` of clean images ``(N, C, H, W)`` (H, W even) to a version of
them with one kind of artifact at full strength; ``apply(x, A, s) = x + s (A(x) - x)`` mixes it
in at strength ``s`` in [0, 1]. The resampling artifacts upsample a half-size version of x
(2 x 2 average pooling), so at ``s = 1`` the image is what that upsampler makes of it.
``ARTIFACTS`` names them; ``preset_last_stage(name)`` is the untrained last stage of an upsampler
preset as a further artifact. ``CONTROLS`` are changes that are not upsampling artifacts (a blur,
noise, lower contrast, a dark border, vignettes, JPEG blocks, another texture): a metric that
responds to them is not specific to checkerboards.
"""
from __future__ import annotations

import hashlib
import io
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gan.data.procedural import dead_leaves_images
from gan.model.build import upsampler as build_upsampler
from gan.model.convmath import polyphase_sums
from gan.model.filters import Blur
from gan.model.networks import dcgan_init_
from gan.model.upsamplers import transposed_padding

Artifact = Callable[[torch.Tensor], torch.Tensor]


def checkerboard(height: int, width: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(-1)^(i + j), ``(H, W)``."""
    i = torch.arange(height, device=device, dtype=dtype)[:, None]
    j = torch.arange(width, device=device, dtype=dtype)[None, :]
    return 1 - 2 * ((i + j) % 2)


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.mean(dim=(-2, -1), keepdim=True), x.std(dim=(-2, -1), keepdim=True)


def additive_checkerboard(x: torch.Tensor) -> torch.Tensor:
    """A fixed (-1)^(i+j) pattern as strong as the image's own contrast (its per-channel std)."""
    return x + _stats(x)[1] * checkerboard(*x.shape[-2:], x.dtype, x.device)


def modulated_checkerboard(x: torch.Tensor) -> torch.Tensor:
    """A checkerboard whose amplitude follows the content: x + (x - mean x) (-1)^(i+j), 100% modulation."""
    return x + (x - _stats(x)[0]) * checkerboard(*x.shape[-2:], x.dtype, x.device)


def half(x: torch.Tensor) -> torch.Tensor:
    """The half-size version that the resampling artifacts upsample: 2 x 2 average pooling."""
    return F.avg_pool2d(x, 2)


def zero_insertion(x: torch.Tensor) -> torch.Tensor:
    """A grid of dots: the half-size image's detail (minus its mean) at every other pixel of every
    other row, the mean elsewhere; a stride-2 transposed convolution with a 1 x 1 kernel."""
    h = half(x)
    mean = _stats(h)[0]
    y = mean.expand(*x.shape).clone()
    y[..., ::2, ::2] += h - mean
    return y


def nearest(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(half(x), scale_factor=2, mode="nearest")


def bilinear(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(half(x), scale_factor=2, mode="bilinear", align_corners=False)


def bicubic_down_up(x: torch.Tensor) -> torch.Tensor:
    """Resampling down and up again: bicubic x1/2 with an anti-aliasing filter, then bicubic x2
    (what an image pipeline that resizes twice does)."""
    down = F.interpolate(x, scale_factor=0.5, mode="bicubic", align_corners=False, antialias=True)
    return F.interpolate(down, scale_factor=2, mode="bicubic", align_corners=False)


def random_transposed(kernel_size: int, seed: int = 0) -> Artifact:
    """A stride-2 transposed convolution of the half-size image with one random positive k x k kernel
    per channel (taps uniform in [0, 1)), scaled to unit mean polyphase gain: brightness is kept,
    but the four output phases get different gains (k = 3: uneven overlap; k = 4: random taps)."""
    kernel = torch.rand(kernel_size, kernel_size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    kernel = kernel / polyphase_sums(kernel[None, None], 2).mean()
    pad, out_pad = transposed_padding(kernel_size)

    def artifact(x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        w = kernel.to(x).expand(c, 1, kernel_size, kernel_size)
        return F.conv_transpose2d(half(x), w, stride=2, padding=pad, output_padding=out_pad, groups=c)
    return artifact


def random_pixel_shuffle(seed: int = 0) -> Artifact:
    """Pixel shuffle x2 of the half-size image with four random positive 3 x 3 sub-kernels, each
    summing to 1: no fixed pattern (every phase keeps the brightness), only differently blurred phases."""
    sub = torch.rand(4, 1, 3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    sub = sub / sub.sum(dim=(-2, -1), keepdim=True)

    def artifact(x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        w = sub.to(x).repeat(c, 1, 1, 1)  # (4C, 1, 3, 3): channel c feeds outputs 4c .. 4c+3
        return F.pixel_shuffle(F.conv2d(F.pad(half(x), (1, 1, 1, 1), mode="replicate"), w, groups=c), 2)
    return artifact


def preset_last_stage(name: str, seed: int = 0) -> Artifact:
    """The untrained (DCGAN-initialised) upsampler preset ``name``, C -> C channels, on the half-size
    image; its output brought to the clean image's per-channel mean and std."""
    modules: dict[int, torch.nn.Module] = {}

    def artifact(x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if c not in modules:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                modules[c] = dcgan_init_(build_upsampler(name, c, c)).to(x.device, x.dtype)
        with torch.no_grad():
            u = modules[c](half(x))
        (mu, sd), (mx, sx) = _stats(u), _stats(x)
        return mx + (u - mu) / sd.clamp_min(1e-12) * sx
    return artifact


def apply(x: torch.Tensor, artifact: Artifact, strength: float) -> torch.Tensor:
    """``x + strength (artifact(x) - x)``: the artifact mixed in at ``strength`` (1: all of it)."""
    return x + strength * (artifact(x) - x)


#: The generic artifacts of the calibration, by name.
ARTIFACTS: dict[str, Artifact] = {
    "additive checkerboard": additive_checkerboard,
    "modulated checkerboard": modulated_checkerboard,
    "zero insertion": zero_insertion,
    "nearest x2": nearest,
    "bilinear x2": bilinear,
    "bicubic down-up": bicubic_down_up,
    "transposed k3 (random)": random_transposed(3),
    "transposed k4 (random)": random_transposed(4),
    "pixel shuffle (random)": random_pixel_shuffle(),
}


def blur(x: torch.Tensor) -> torch.Tensor:
    """A [1, 2, 1]^2 / 16 low-pass: softer images, no grid."""
    return Blur([1.0, 2.0, 1.0]).to(x.device)(x)


def content_seed(x: torch.Tensor) -> int:
    """A seed drawn from the images' values: a new draw for every input set, the same for the same set
    (independent sets get independent controls, as a repeated experiment needs)."""
    return int(hashlib.sha1(x.detach().cpu().numpy().tobytes()).hexdigest()[:8], 16)


def white_noise(x: torch.Tensor, seed: int | None = None) -> torch.Tensor:
    """Gaussian noise as strong as the image's contrast (its per-channel std): stationary, no grid;
    a new draw for every input set unless ``seed`` is given."""
    g = torch.Generator(device=x.device).manual_seed(content_seed(x) if seed is None else seed)
    return x + _stats(x)[1] * torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)


def low_contrast(x: torch.Tensor) -> torch.Tensor:
    """Half the contrast about the image's mean."""
    mean = _stats(x)[0]
    return mean + 0.5 * (x - mean)


#: The sides of an image a dark band can lie on.
SIDES = ("top", "bottom", "left", "right")


def dark_band(sides: tuple[str, ...] = SIDES, width: int = 1, gain: float = 0.8) -> Artifact:
    """Bands ``width`` pixels wide on ``sides``, their contrast x ``gain`` about the image's mean:
    what zero padding does to a generator's border (on one side only when the padding is uneven),
    and no grid."""
    unknown = set(sides) - set(SIDES)
    if unknown:
        raise ValueError(f"sides must be among {SIDES}, got {sorted(unknown)}")

    def artifact(x: torch.Tensor) -> torch.Tensor:
        mean = _stats(x)[0]
        g = torch.ones(x.shape[-2:], dtype=x.dtype, device=x.device)
        bands = {"top": (slice(0, width), slice(None)), "bottom": (slice(-width, None), slice(None)),
                 "left": (slice(None), slice(0, width)), "right": (slice(None), slice(-width, None))}
        for side in sides:
            g[bands[side]] = gain
        return mean + (x - mean) * g
    return artifact


#: The outermost rows and columns on every side x 0.8.
dark_border = dark_band(SIDES, 1)


def vignette(centre: tuple[float, float] = (0.5, 0.5)) -> Artifact:
    """Contrast falling with the distance r from ``centre`` (fractions of the side; r = 1 at the
    corners of a centred one): x * (1 - 0.2 r^2). Smooth, no grid."""
    def artifact(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        i = ((torch.arange(h, dtype=x.dtype, device=x.device) + 0.5) / h - centre[0])[:, None]
        j = ((torch.arange(w, dtype=x.dtype, device=x.device) + 0.5) / w - centre[1])[None, :]
        return x * (1 - 0.2 * (i.square() + j.square()) / 0.5)
    return artifact


def jpeg(quality: int = 75, subsampling: str = "4:2:0") -> Artifact:
    """JPEG compression through Pillow (8 x 8 blocks; colour images with chroma ``subsampling``):
    block edges at fixed places, but between an odd and an even column at period 2."""
    def artifact(x: torch.Tensor) -> torch.Tensor:
        out = []
        for img in ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu():
            arr = img.permute(1, 2, 0).numpy()
            pil = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
            buf = io.BytesIO()
            pil.save(buf, format="JPEG", quality=quality, subsampling=subsampling)
            back = np.asarray(Image.open(buf)).reshape(arr.shape)
            out.append(torch.from_numpy(back.copy()).permute(2, 0, 1))
        return (torch.stack(out).to(x) / 127.5 - 1)
    return artifact


def other_texture(x: torch.Tensor) -> torch.Tensor:
    """Different content of the same size: dead leaves with discs 2-3x bigger than the default
    (a generator that gets the texture wrong), stationary like the data; a new draw for every
    input set (seeded by its content)."""
    n, c, h, _ = x.shape
    return dead_leaves_images(n, h, channels=c, seed=content_seed(x), r_min=0.25, r_max=0.9).to(x)


#: Changes that are not upsampling artifacts, to see which metrics respond to anything.
CONTROLS: dict[str, Artifact] = {
    "control: blur": blur,
    "control: white noise": white_noise,
    "control: half contrast": low_contrast,
    "control: dark border": dark_border,
    "control: dark band top-left, 1/8": lambda x: dark_band(("top", "left"), max(1, x.shape[-1] // 8))(x),
    "control: vignette": vignette(),
    "control: off-centre vignette": vignette((0.3, 0.25)),
    "control: JPEG q75 4:2:0": jpeg(75, "4:2:0"),
    "control: JPEG q75 4:4:4": jpeg(75, "4:4:4"),
    "control: other texture": other_texture,
}
