import pytest
import torch

from gan.model.networks import Discriminator, Generator, num_stages


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(size, channels):
    G = Generator(size, channels, ngf=4, z_dim=8)
    D = Discriminator(size, channels, ndf=4)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, channels, size, size)
    assert x.abs().max() <= 1  # tanh output
    assert D(x).shape == (3,)
    assert len(G.upsampling_layers()) == num_stages(size) == int(torch.log2(torch.tensor(size / 4)))


def test_generator_widths_follow_dcgan():
    G = Generator(64, 3, ngf=8, z_dim=10)
    assert G.project[0].out_channels == 64  # ngf * 8 at 4x4 for 64x64
    assert [up.up.out_channels for up in G.upsampling_layers()] == [32, 16, 8, 3]


def test_upsample_layers_last_swaps_only_the_final_stage():
    G = Generator(32, 3, ngf=4, upsampler="resize_nearest", upsample_layers="last")
    kinds = [type(u).__name__ for u in G.upsampling_layers()]
    assert kinds == ["TransposedConv", "TransposedConv", "ResizeConv"]


@pytest.mark.parametrize("downsample", ["strided", "blur_strided", "resize"])
def test_discriminator_downsampling_options(downsample):
    D = Discriminator(32, 3, ndf=4, downsample=downsample)
    assert D(torch.randn(2, 3, 32, 32)).shape == (2,)


@pytest.mark.parametrize("size", [0, 4, 6, 48, 100])
def test_bad_image_size_is_rejected(size):
    with pytest.raises(ValueError, match="power of two"):
        Generator(size, 3, ngf=4)


def test_dcgan_init_scale():
    torch.manual_seed(0)
    G = Generator(64, 3, ngf=16)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
