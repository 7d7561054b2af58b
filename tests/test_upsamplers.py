import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from gan.core.config import presets
from gan.model import build, upsamplers
from gan.model.filters import Blur, blur_kernel, fir_filter2d
from gan.model.networks import Generator, dcgan_init_
from tests.conftest import compose_config

PRESETS = presets("upsampler")


def test_presets_cover_the_documented_zoo():
    expected = {"transposed", "transposed_k3", "transposed_bilinear", "resize_nearest", "resize_bilinear",
                "pixel_shuffle", "pixel_shuffle_icnr", "pixel_shuffle_icnr_zoh", "transposed_zoh",
                "transposed_binomial"}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("hw", [(1, 1), (3, 3), (4, 7), (7, 4), (16, 16)])
def test_every_preset_doubles_exactly_with_gradients(name, hw):
    cfg = compose_config(f"upsampler={name}")
    up = instantiate(cfg.upsampler)(5, 3)
    x = torch.randn(2, 5, *hw, requires_grad=True)
    y = up(x)
    assert y.shape == (2, 3, 2 * hw[0], 2 * hw[1])
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in up.parameters())


def test_build_by_name_matches_config_and_rejects_unknown():
    assert isinstance(build.upsampler("transposed_k3", 2, 2), upsamplers.TransposedConv)
    with pytest.raises(ValueError, match="transposed_k3"):
        build.upsampler("no_such_upsampler", 2, 2)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_transposed_padding_gives_2h(k):
    up = upsamplers.TransposedConv(2, 2, kernel_size=k)
    assert up(torch.randn(1, 2, 5, 3)).shape == (1, 2, 10, 6)


def _icnr_property(up: upsamplers.PixelShuffleConv, x: torch.Tensor) -> None:
    conv = up.conv
    sub = F.conv2d(x, conv.weight[::4], None if conv.bias is None else conv.bias[::4], padding=conv.padding)
    expected = F.interpolate(sub, scale_factor=2, mode="nearest")
    torch.testing.assert_close(up.up(x), expected, atol=1e-6, rtol=0)


def test_icnr_equals_nearest_upsampling_of_subkernel_conv():
    torch.manual_seed(0)
    up = upsamplers.PixelShuffleConv(4, 3, init="icnr", bias=True)
    torch.nn.init.normal_(up.conv.bias)
    up.init_structure_()
    _icnr_property(up, torch.randn(2, 4, 5, 6))


def test_icnr_survives_generator_init():
    torch.manual_seed(0)
    G = Generator(32, 3, ngf=8, upsampler="pixel_shuffle_icnr")
    dcgan_init_(G)  # a second network-wide re-init must not erase ICNR either
    for up in G.upsampling_layers():
        assert 0.005 < up.conv.weight.std() < 0.05  # the DCGAN N(0, 0.02) scale, not PyTorch's default
        _icnr_property(up, torch.randn(2, up.conv.in_channels, 4, 4))


def test_default_pixel_shuffle_is_not_icnr():
    torch.manual_seed(0)
    up = upsamplers.PixelShuffleConv(4, 3)
    with pytest.raises(AssertionError):
        _icnr_property(up, torch.randn(1, 4, 5, 5))


def test_bilinear_init_survives_generator_init_and_interpolates():
    torch.manual_seed(0)
    G = Generator(32, 3, ngf=8, upsampler="transposed_bilinear")
    up = G.upsampling_layers()[0]
    x = torch.randn(1, up.up.in_channels, 6, 6)
    mix = up.up.weight[:, :, 1, 1] / 0.75**2  # centre tap of the bilinear kernel is 0.75 * 0.75
    mixed = torch.einsum("bihw,io->bohw", x, mix)
    expected = F.interpolate(mixed, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up(x)[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("taps", ["zoh", "binomial"])
def test_blurred_transposed_maps_constant_to_constant_interior(taps):
    torch.manual_seed(0)
    up = upsamplers.TransposedConv(3, 2, kernel_size=4, blur=taps)
    plain = upsamplers.TransposedConv(3, 2, kernel_size=4)
    plain.load_state_dict(up.state_dict(), strict=False)
    x = torch.ones(1, 3, 8, 8)
    y, y0 = up(x)[..., 4:-4, 4:-4], plain(x)[..., 4:-4, 4:-4]
    assert (y0.amax(dim=(-2, -1)) - y0.amin(dim=(-2, -1))).max() > 1e-3  # the plain layer checkers
    torch.testing.assert_close(y, y[..., :1, :1].expand_as(y), atol=1e-6, rtol=0)


def test_icnr_zoh_constant_in_constant_out():
    up = build.upsampler("pixel_shuffle_icnr_zoh", 3, 2)
    y = up(torch.ones(1, 3, 8, 8))[..., 4:-4, 4:-4]  # away from the zero-padded border
    torch.testing.assert_close(y, y[..., :1, :1].expand_as(y), atol=1e-6, rtol=0)


def test_blur_kernels_are_normalised_and_keep_constants_everywhere():
    for name in ("zoh", "binomial"):
        k = blur_kernel(name)
        assert k.sum().item() == pytest.approx(1.0)
        x = torch.full((1, 2, 5, 7), 3.0)
        torch.testing.assert_close(Blur(name)(x), x)
    torch.testing.assert_close(blur_kernel([1, 2, 1]), torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16.0)
    with pytest.raises(ValueError, match="unknown blur"):
        blur_kernel("gauss")


def test_zoh_is_the_fastai_box_filter():
    x = torch.randn(1, 2, 6, 5)
    fastai = F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)
    torch.testing.assert_close(fir_filter2d(x, blur_kernel("zoh")), fastai)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="init"):
        upsamplers.PixelShuffleConv(2, 2, init="bilinear")
    with pytest.raises(ValueError, match="mode"):
        upsamplers.ResizeConv(2, 2, mode="area")
    with pytest.raises(ValueError, match="kernel_size"):
        upsamplers.ResizeConv(2, 2, kernel_size=4)
