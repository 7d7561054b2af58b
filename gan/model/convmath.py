"""Convolution arithmetic behind checkerboard artifacts (Odena et al. 2016; Dumoulin & Visin 2016).

Transposed convolution three ways, each equal to ``F.conv_transpose2d``:

* ``transposed_conv_matrix``: y -> C^T y, C the convolution as a matrix (``conv_matrix``);
* ``transposed_conv_zero_insertion``: insert stride-1 zeros, pad by k-1-p, convolve with the
  kernel rotated by 180 degrees;
* ``transposed_conv_scatter``: every input pixel adds a scaled copy of the kernel to its window.

Plus overlap maps (how many kernel taps reach each output pixel), polyphase sums and the
condition for a constant input to give a constant output (Sugawara et al. 2019).
Weights follow PyTorch: conv ``(Cout, Cin, kh, kw)``, transposed conv ``(Cin, Cout, kh, kw)``; kernels
may be non-square.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def conv_output_size(i: int, k: int, s: int = 1, p: int = 0) -> int:
    """Output length of a convolution: floor((i + 2p - k) / s) + 1."""
    return (i + 2 * p - k) // s + 1


def transposed_output_size(i: int, k: int, s: int = 1, p: int = 0, output_padding: int = 0) -> int:
    """Output length of a transposed convolution: (i - 1) s - 2p + k + output_padding.

    For ``output_padding < s`` the conv with the same (k, s, p) maps it back to i.
    """
    return (i - 1) * s - 2 * p + k + output_padding


def conv_matrix(kernel: torch.Tensor, input_size: int | tuple[int, int], stride: int = 1,
                padding: int = 0) -> torch.Tensor:
    """The matrix C with ``conv2d(x).flatten() == C @ x.flatten()`` (cross-correlation, as PyTorch).

    kernel: ``(k, k)`` (one channel) or ``(Cout, Cin, k, k)``; returns ``(Cout*Ho*Wo, Cin*H*W)``.
    Built by placing every tap: output (o, y, x) reads input (c, y*s - p + ky, x*s - p + kx).
    """
    w = kernel if kernel.ndim == 4 else kernel[None, None]
    cout, cin, kh, kw = w.shape
    h, wd = _pair(input_size)
    ho, wo = conv_output_size(h, kh, stride, padding), conv_output_size(wd, kw, stride, padding)
    if ho < 1 or wo < 1:
        raise ValueError(f"kernel {kh}x{kw} with padding {padding} does not fit an input of {h}x{wd}")
    o, c, oy, ox, ky, kx = torch.meshgrid(*(torch.arange(n) for n in (cout, cin, ho, wo, kh, kw)), indexing="ij")
    iy, ix = oy * stride - padding + ky, ox * stride - padding + kx
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
    rows = ((o * ho + oy) * wo + ox)[ok]
    cols = ((c * h + iy) * wd + ix)[ok]
    C = torch.zeros(cout * ho * wo, cin * h * wd, dtype=w.dtype)
    C.index_put_((rows, cols), w[o, c, ky, kx][ok], accumulate=True)
    return C


def _transposed_shape(y: torch.Tensor, weight: torch.Tensor, stride: int, padding: int,
                      output_padding: int) -> tuple[int, int, int, int]:
    """``(kh, kw, ho, wo)`` of a transposed conv, checked as ``F.conv_transpose2d`` checks it."""
    if weight.ndim != 4 or y.ndim != 4 or weight.shape[0] != y.shape[1]:
        raise ValueError(f"expected y (B, Cin, H, W) and weight (Cin, Cout, kh, kw), got {tuple(y.shape)} "
                         f"and {tuple(weight.shape)}")
    if not 0 <= output_padding < stride:
        raise ValueError(f"output padding must be smaller than the stride: output_padding={output_padding}, "
                         f"stride={stride}")
    kh, kw = weight.shape[-2:]
    ho = transposed_output_size(y.shape[-2], kh, stride, padding, output_padding)
    wo = transposed_output_size(y.shape[-1], kw, stride, padding, output_padding)
    return kh, kw, ho, wo


def transposed_conv_matrix(y: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0,
                           output_padding: int = 0) -> torch.Tensor:
    """Transposed conv as C^T y. y: ``(B, Cin, H, W)``; weight ``(Cin, Cout, kh, kw)`` -> ``(B, Cout, Ho, Wo)``."""
    _, _, ho, wo = _transposed_shape(y, weight, stride, padding, output_padding)
    C = conv_matrix(weight, (ho, wo), stride, padding)  # the conv Cout -> Cin on (ho, wo) inputs
    return (y.reshape(y.shape[0], -1) @ C).reshape(y.shape[0], weight.shape[1], ho, wo)


def transposed_conv_zero_insertion(y: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0,
                                   output_padding: int = 0) -> torch.Tensor:
    """Transposed conv as zero insertion + padding by k-1-p + a conv with the 180-degree-rotated kernel."""
    kh, kw, _, _ = _transposed_shape(y, weight, stride, padding, output_padding)
    b, cin, h, w = y.shape
    z = y.new_zeros(b, cin, (h - 1) * stride + 1, (w - 1) * stride + 1)
    z[..., ::stride, ::stride] = y
    top, left = kh - 1 - padding, kw - 1 - padding
    z = F.pad(z, (left, left + output_padding, top, top + output_padding))  # negative padding crops
    return F.conv2d(z, weight.flip(-1, -2).transpose(0, 1))


def transposed_conv_scatter(y: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0,
                            output_padding: int = 0) -> torch.Tensor:
    """Transposed conv as a scatter: input pixel (i, j) adds ``y[i, j] * kernel`` at rows
    i*s .. i*s+kh-1, cols j*s .. j*s+kw-1 of a full canvas; the canvas is then cropped by p."""
    kh, kw, ho, wo = _transposed_shape(y, weight, stride, padding, output_padding)
    b, cin, h, w = y.shape
    canvas = y.new_zeros(b, weight.shape[1], (h - 1) * stride + kh + output_padding,
                         (w - 1) * stride + kw + output_padding)
    for i in range(h):
        for j in range(w):
            canvas[..., i * stride:i * stride + kh, j * stride:j * stride + kw] += torch.einsum(
                "bc,cokl->bokl", y[:, :, i, j], weight)
    return canvas[..., padding:padding + ho, padding:padding + wo]


def overlap_map(kernel_size: int, stride: int, size: int, layers: int = 1, dims: int = 2) -> torch.Tensor:
    """How many kernel taps reach each output position of ``layers`` stacked transposed convs
    (all-ones input of ``size`` and all-ones kernels, no padding), 1-D ``(L,)`` or 2-D ``(L, L)``.

    Stacked layers multiply: each layer's map is the next one's input (Odena et al. 2016, fig. 2).
    """
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims}")
    x = torch.ones((1, 1) + (size,) * dims, dtype=torch.float64)
    w = torch.ones((1, 1) + (kernel_size,) * dims, dtype=torch.float64)
    op = F.conv_transpose1d if dims == 1 else F.conv_transpose2d
    for _ in range(layers):
        x = op(x, w, stride=stride)
    return x[0, 0]


def polyphase_sums(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """Sums of the stride^2 polyphase sub-kernels of a transposed-conv weight.

    weight ``(Cin, Cout, kh, kw)`` -> ``(Cin, Cout, s, s)``: entry (r, t) sums the taps with
    ky = r and kx = t (mod s), i.e. what a constant input contributes to one output phase.
    """
    cin, cout, kh, kw = weight.shape
    w = F.pad(weight, (0, (-kw) % stride, 0, (-kh) % stride))
    nh, nw = w.shape[-2] // stride, w.shape[-1] // stride
    return w.reshape(cin, cout, nh, stride, nw, stride).sum(dim=(2, 4))


def dc_checkerboard(sums: torch.Tensor) -> torch.Tensor:
    """Spread of polyphase sums relative to their mean, ``(Cin, Cout, s, s) -> ()``:
    RMS over pairs and phases of (S - mean over phases) / RMS over pairs of the phase mean.
    0 exactly when a constant input gives a constant output."""
    mean = sums.mean(dim=(-2, -1), keepdim=True)
    return (sums - mean).square().mean().sqrt() / mean.square().mean().sqrt().clamp_min(1e-30)


def checkerboard_free(weight: torch.Tensor, stride: int, tol: float = 1e-6) -> bool:
    """True when every in/out channel pair has equal polyphase sums (to ``tol``, relative)."""
    return bool(dc_checkerboard(polyphase_sums(weight, stride)) <= tol)


@torch.no_grad()
def dc_response(module: nn.Module, in_channels: int, stride: int = 2, size: int = 8) -> torch.Tensor:
    """Polyphase DC response of any linear upsampler, measured: ``(Cin, Cout, s, s)``.

    Input channel c alone is set to 1 everywhere; the output's interior phase means are the sums
    (for a transposed conv, exactly ``polyphase_sums``). The response to a zero input (a bias)
    is subtracted.
    """
    p = next(module.parameters(), None)
    dtype, device = (p.dtype, p.device) if p is not None else (torch.float32, "cpu")
    x = torch.eye(in_channels, dtype=dtype, device=device)[:, :, None, None].expand(-1, -1, size, size)
    y = module(x) - module(torch.zeros_like(x[:1]))
    m = size // 2 * stride // 2  # crop the border the padding reaches
    m -= m % stride
    inner = y[..., m:y.shape[-2] - m, m:y.shape[-1] - m]
    ci, co, hh, ww = inner.shape
    return inner.reshape(ci, co, hh // stride, stride, ww // stride, stride).mean(dim=(2, 4))


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
