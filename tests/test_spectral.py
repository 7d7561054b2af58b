import math

import pytest
import torch

from gan import spectral, upsamplers
from gan.data import dead_leaves_images


def dft_share(x: torch.Tensor, period: int) -> torch.Tensor:
    """Reference: share of mean-free DFT power at u % (H/P) == 0 and v % (W/P) == 0. (B,C,H,W) -> (B,)"""
    b, c, h, w = x.shape
    power = torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True)).abs() ** 2
    u = torch.arange(h) % (h // period) == 0
    v = torch.arange(w) % (w // period) == 0
    mask = u[:, None] & v[None, :]
    return power[..., mask].sum(dim=(-1, -2)) / power.sum(dim=(-1, -2, -3))


def checkerboard(h: int, w: int, period: int, channels: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(period)
    tile = torch.randn(1, channels, period, period, generator=g, dtype=torch.float64)
    return tile.repeat(1, 1, h // period, w // period)


INPUTS = {
    "noise_rgb": lambda: torch.randn(4, 3, 16, 24, dtype=torch.float64),
    "noise_gray": lambda: torch.randn(4, 1, 32, 16, dtype=torch.float64),
    "deadleaves": lambda: dead_leaves_images(4, 32, seed=1).double(),
    "deadleaves_gray": lambda: dead_leaves_images(4, 16, channels=1, seed=2).double(),
    "checkerboard_plus_noise": lambda: checkerboard(16, 32, 2) + 0.3 * torch.randn(1, 3, 16, 32, dtype=torch.float64),
}


@pytest.mark.parametrize("name", INPUTS)
@pytest.mark.parametrize("period", [2, 4, 8])
def test_checkerboard_energy_equals_dft_share(name, period):
    torch.manual_seed(0)
    x = INPUTS[name]()
    torch.testing.assert_close(spectral.checkerboard_energy(x, period), dft_share(x, period), atol=1e-6, rtol=0)
    torch.testing.assert_close(spectral.checkerboard_energy(x.float(), period),
                               dft_share(x, period).float(), atol=1e-5, rtol=0)


def test_constant_is_zero_and_periodic_pattern_is_one():
    assert spectral.checkerboard_energy(torch.full((2, 3, 8, 8), 0.7)).tolist() == [0.0, 0.0]
    for p in (2, 4, 8):
        ce = spectral.checkerboard_energy(checkerboard(16, 8, p), p)
        assert ce.item() == pytest.approx(1.0, abs=1e-12)
    # periods nest: a 2-periodic pattern is also 4-periodic
    assert spectral.checkerboard_energy(checkerboard(16, 16, 2), 4).item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("period", [2, 4])
def test_white_noise_expectation(period):
    torch.manual_seed(0)
    h, w = 16, 32
    ce = spectral.checkerboard_energy(torch.randn(4000, 3, h, w, dtype=torch.float64), period)
    expected = (period**2 - 1) / (h * w - 1)
    assert ce.mean().item() == pytest.approx(expected, rel=0.03)


def test_period_must_divide_size():
    with pytest.raises(ValueError, match="period 4 must divide"):
        spectral.checkerboard_energy(torch.randn(1, 1, 8, 6), 4)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        spectral.checkerboard_energy(torch.randn(8, 8))


def test_checkerboard_energy_is_differentiable():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    spectral.checkerboard_energy(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_icnr_output_has_zero_ce2_at_init_others_do_not():
    torch.manual_seed(0)
    x = torch.randn(8, 6, 8, 8)
    ce = {n: spectral.checkerboard_energy(upsamplers.build(n, 6, 3)(x)).max().item()
          for n in ("pixel_shuffle_icnr", "pixel_shuffle", "transposed", "transposed_k3")}
    assert ce["pixel_shuffle_icnr"] < 1e-10
    assert ce["pixel_shuffle"] > 1e-3 and ce["transposed"] > 1e-3 and ce["transposed_k3"] > 1e-3


def test_fixed_pattern_energy_sees_shared_pattern_only():
    torch.manual_seed(0)
    noise = torch.randn(64, 3, 16, 16, dtype=torch.float64)
    shared = noise + checkerboard(16, 16, 2)
    assert spectral.fixed_pattern_energy(shared).item() > 0.9
    assert spectral.fixed_pattern_energy(noise).item() < 0.1


def test_periods_up_to():
    assert spectral.periods_up_to(8) == [2, 4, 8]
    assert spectral.periods_up_to(1) == []


def test_excess_db():
    assert spectral.excess_db(0.02, 0.002).item() == pytest.approx(10.0)


@pytest.mark.parametrize("window", ["none", "hann", "kaiser"])
def test_power_spectrum_shape_and_parseval(window):
    torch.manual_seed(0)
    x = torch.randn(5, 3, 16, 12, dtype=torch.float64) + 2.0
    p = spectral.power_spectrum(x, window=window)
    assert p.shape == (5, 16, 12)
    assert p[:, 0, 0].abs().max() < 1e-20 if window == "none" else True
    if window == "none":
        energy = spectral.mean_free(x).square().mean(dim=(1, 2, 3))
        torch.testing.assert_close(p.mean(dim=(1, 2)), energy)


def test_power_spectrum_of_a_cosine_sits_at_its_frequency():
    n = 32
    i = torch.arange(n, dtype=torch.float64)
    x = torch.cos(2 * math.pi * 4 * i / n)[None, None, :, None].expand(1, 1, n, n)  # 4 cycles along H
    p = spectral.power_spectrum(x)[0]
    assert set(map(tuple, (p > 1e-9).nonzero().tolist())) == {(4, 0), (n - 4, 0)}


def test_luma_and_residual_options():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    assert spectral.power_spectrum(x, channels="luma").shape == (2, 16, 16)
    gray = x[:, :1].expand(2, 3, 16, 16)
    torch.testing.assert_close(spectral.power_spectrum(gray, channels="luma"), spectral.power_spectrum(x[:, :1]))
    smooth = torch.ones(1, 1, 16, 16)
    smooth[..., 8:] = 3.0  # a step edge is left untouched by a median filter away from corners
    assert spectral.power_spectrum(smooth, residual=True).max() < 1e-10
    with pytest.raises(ValueError, match="window"):
        spectral.power_spectrum(x, window="gauss")


def slow_radial_profile(power: torch.Tensor) -> torch.Tensor:
    """Obviously correct: loop over bins and images."""
    n = power.shape[-1]
    out = torch.zeros(power.shape[0], n // 2, dtype=power.dtype)
    for b in range(power.shape[0]):
        for k in range(1, n // 2 + 1):
            vals = [power[b, i, j] for i in range(n) for j in range(n)
                    if round(math.hypot(min(i, n - i) / n, min(j, n - j) / n) * n) == k]
            out[b, k - 1] = sum(vals) / len(vals)
    return out


@pytest.mark.parametrize("n", [8, 16, 17])
def test_radial_profile_matches_slow_loop(n):
    torch.manual_seed(0)
    power = torch.rand(3, n, n, dtype=torch.float64)
    freqs, prof = spectral.radial_profile(power)
    torch.testing.assert_close(prof, slow_radial_profile(power))
    torch.testing.assert_close(freqs, torch.arange(1, n // 2 + 1, dtype=torch.float64) / n)


def test_radial_profile_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        spectral.radial_profile(torch.rand(2, 8, 6))


def test_spectral_distance_and_relative_error():
    freqs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    real = torch.tensor([100.0, 10.0, 1.0, 1.0])
    fake = torch.tensor([100.0, 10.0, 10.0, 0.1])
    assert spectral.spectral_distance(fake, real, freqs).item() == pytest.approx(0.5)
    assert spectral.spectral_distance(fake, real, freqs, f_min=0.25).item() == pytest.approx(1.0)
    assert spectral.spectral_distance(real, real, freqs).item() == 0.0
    torch.testing.assert_close(spectral.relative_spectral_error(fake, real), torch.tensor([0.0, 0.0, 9.0, -0.9]))
    with pytest.raises(ValueError, match="f_min"):
        spectral.spectral_distance(fake, real, freqs, f_min=0.9)


@pytest.mark.parametrize("shape", [(16, 12), (15, 9), (8, 7), (5, 2)])
def test_half_spectrum_rebuilds_the_full_fft(shape):
    torch.manual_seed(0)
    x = torch.randn(3, 2, *shape, dtype=torch.float64)
    ref = torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True)).abs().square().mean(dim=1) / (shape[0] * shape[1])
    torch.testing.assert_close(spectral.power_spectrum(x), ref)


def test_energies_in_one_pass_equal_one_period_at_a_time():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 24, 24, dtype=torch.float64)
    for periods in ([2, 4, 8], [2, 3, 6], [4]):
        many = spectral.checkerboard_energies(x, periods)
        for p in periods:
            torch.testing.assert_close(many[p], dft_share(x, p))
