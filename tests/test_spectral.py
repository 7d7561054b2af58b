import math

import pytest
import torch

from gan.data.procedural import dead_leaves_images
from gan.measure import imagestats, metrics, spectral
from gan.measure import names as N
from gan.model import build


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
    ce = {n: spectral.checkerboard_energy(build.upsampler(n, 6, 3)(x)).max().item()
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
    """Obviously correct: loop over bins and images; radius in cycles/pixel per axis, bins of 1/min(H, W)."""
    h, w = power.shape[-2:]
    n = min(h, w)
    radius = {(i, j): math.hypot(min(i, h - i) / h, min(j, w - j) / w) for i in range(h) for j in range(w)}
    top = max(round(r * n) for r in radius.values())
    out = torch.zeros(power.shape[0], top, dtype=power.dtype)
    for b in range(power.shape[0]):
        for k in range(1, top + 1):
            vals = [power[b, i, j] for (i, j), r in radius.items() if round(r * n) == k]
            out[b, k - 1] = sum(vals) / len(vals)
    return out


@pytest.mark.parametrize("shape", [(8, 8), (16, 16), (17, 17), (8, 12), (12, 7)])
def test_radial_profile_matches_slow_loop(shape):
    torch.manual_seed(0)
    power = torch.rand(3, *shape, dtype=torch.float64)
    freqs, prof = spectral.radial_profile(power)
    torch.testing.assert_close(prof, slow_radial_profile(power))
    top = prof.shape[-1]
    torch.testing.assert_close(freqs, torch.arange(1, top + 1, dtype=torch.float64) / min(shape))


@pytest.mark.parametrize("n", [8, 16, 32])
def test_radial_profile_reaches_the_nyquist_corner(n):
    i = torch.arange(n, dtype=torch.float64)
    checker = ((-1.0) ** (i[:, None] + i[None, :]))[None, None]  # (-1)^(x+y): CE_2 = 1
    power = spectral.power_spectrum(checker)[0]
    freqs, prof = spectral.radial_profile(power)
    assert freqs[-1].item() == pytest.approx(round(n / math.sqrt(2)) / n)  # out to radius 1/sqrt(2)
    assert prof[-1] > 0 and prof[:-1].abs().max() == 0  # all of it in the corner bin, none dropped
    assert spectral.corner_power(power).item() == pytest.approx(power.sum().item())


def test_spectral_distance_on_non_square_images():
    torch.manual_seed(0)
    a, b = torch.randn(8, 3, 16, 24), torch.randn(8, 3, 16, 24) * 2
    periods = N.periods_for(16, 24)
    m = metrics.compute(imagestats.image_stats(a, periods), imagestats.image_stats(b, periods))
    assert m["spectral/distance"] == pytest.approx(math.log10(4), rel=0.1)  # 4x the power everywhere


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


# ---------------------------------------------------------------------------------------------
# Boundary leakage: Moisan's periodic component


def ramp(n: int, dtype=torch.float64) -> torch.Tensor:
    return torch.arange(n, dtype=dtype).view(1, 1, n, 1).expand(2, 3, n, n).clone()


def test_periodic_component_removes_a_ramps_leakage_exactly():
    n = 32
    x = ramp(n)
    plain = spectral.checkerboard_energy(x, 2)
    assert plain[0].item() == pytest.approx(3 / (n * n - 1))  # the DFT sees the wrap-around jump
    p = spectral.periodic_component(x)
    torch.testing.assert_close(spectral.mean_free(p), spectral.mean_free(x) / n)  # the ramp scaled by 1/N
    torch.testing.assert_close(p.mean(dim=(-2, -1)), x.mean(dim=(-2, -1)))
    robust = spectral.checkerboard_energy(x, 2, boundary="periodic")
    torch.testing.assert_close(robust, plain / n**2)


def test_periodic_component_is_the_identity_without_border_jumps_and_linear():
    n = 16
    torch.manual_seed(0)
    x = torch.randn(2, 3, n, n, dtype=torch.float64)
    x[..., -1, :] = x[..., 0, :]  # equal opposite borders: no jump, no smooth part
    x[..., :, -1] = x[..., :, 0]
    torch.testing.assert_close(spectral.periodic_component(x), x)
    a, b = torch.randn(2, 3, n, n, dtype=torch.float64), torch.randn(2, 3, n, n, dtype=torch.float64)
    torch.testing.assert_close(spectral.periodic_component(2 * a - b),
                               2 * spectral.periodic_component(a) - spectral.periodic_component(b))


@pytest.mark.parametrize("n", [16, 32, 64])
def test_robust_ce_keeps_a_checkerboard_up_to_its_border_strip(n):
    x = checkerboard(n, n, 2)
    robust = spectral.checkerboard_energy(x, 2, boundary="periodic").item()
    assert 1 - 2.5 / n < robust < 1  # Moisan's smooth part takes a strip along the border


def test_robust_ce_is_invariant_to_offset_and_scale_and_zero_for_constants():
    x = dead_leaves_images(8, 32, seed=3).double()
    a = spectral.checkerboard_energy(x, 2, boundary="periodic")
    torch.testing.assert_close(spectral.checkerboard_energy(3 * x + 7, 2, boundary="periodic"), a)
    assert spectral.checkerboard_energy(torch.full((2, 3, 8, 8), 0.3), 2, boundary="periodic").tolist() == [0, 0]


def test_robust_ce_of_the_data_is_below_its_leaky_value():
    x = dead_leaves_images(256, 32, seed=0).double()
    plain = spectral.checkerboard_energy(x, 2).mean()
    robust = spectral.checkerboard_energy(x, 2, boundary="periodic").mean()
    assert robust < 0.5 * plain  # most of the data's CE_2 is the wrap-around jump


# ---------------------------------------------------------------------------------------------
# Finite ratios


def test_excess_db_is_finite_with_a_floor():
    floor = spectral.ce_floor(2, 32, 32)
    assert floor == pytest.approx(3 / 1023 * 1e-6)
    assert math.isfinite(spectral.excess_db(0.0, 1e-3, floor).item())
    assert math.isfinite(spectral.excess_db(1e-3, 0.0, floor).item())
    assert spectral.excess_db(0.0, 0.0, floor).item() == 0.0
    assert spectral.excess_db(0.02, 0.002, floor).item() == pytest.approx(10.0, abs=1e-4)


def test_every_metric_is_finite_for_blocky_constant_and_zero_inserted_images():
    real = dead_leaves_images(64, 32, seed=0)
    half = dead_leaves_images(64, 16, seed=1)
    nearest = torch.nn.functional.interpolate(half, scale_factor=2, mode="nearest")  # CE_2 exactly 0
    zeros = torch.zeros(64, 3, 32, 32)
    zeros[..., ::2, ::2] = half  # zero insertion
    periods = N.periods_for(32)
    ref = imagestats.image_stats(real, periods)
    for fake in (nearest, torch.full_like(real, 0.25), zeros, real):
        m = metrics.compute(imagestats.image_stats(fake, periods), ref)
        bad = {k: v for k, v in m.items() if not math.isfinite(v)}
        assert not bad, bad
    m = metrics.compute(imagestats.image_stats(nearest, periods), ref)
    assert -70 < m["checkerboard_excess_db/p2"] < -40  # at the floor, not -inf (or -111 dB of rounding)


# ---------------------------------------------------------------------------------------------
# Aggregates


def test_pooled_ce_is_not_moved_by_one_near_blank_image():
    x = dead_leaves_images(256, 32, seed=0)
    blank = x.clone()
    blank[0] = 0.1 + 1e-4 * checkerboard(32, 32, 2)[0].float()  # nearly flat, and what is left is periodic
    a, b = imagestats.image_stats(x, [2]), imagestats.image_stats(blank, [2])
    assert abs(10 * math.log10(b.ce[2].mean() / a.ce[2].mean())) > 3  # the per-image mean jumps
    assert abs(10 * math.log10(b.ce_pooled[2] / a.ce_pooled[2])) < 0.1  # the energy-weighted one does not
    num, den = spectral.periodic_energies(x, [2])
    assert a.ce_pooled[2] == pytest.approx(float(num[2].sum() / den.sum()), rel=1e-5)


def test_fixed_pattern_ce_over_groups_of_the_compared_size():
    x = dead_leaves_images(512, 16, seed=0)
    whole = imagestats.image_stats(x, [2])
    assert whole.ce_fixed[2] == pytest.approx(float(spectral.fixed_pattern_energy(x, 2)), rel=1e-5)
    grouped = imagestats.image_stats(x, [2], group=128)
    by_hand = sum(float(spectral.fixed_pattern_energy(g, 2)) for g in x.split(128)) / 4
    assert grouped.ce_fixed[2] == pytest.approx(by_hand, rel=1e-5) and grouped.group == 128


def test_image_stats_in_chunks_equals_each_definition_on_the_whole_set():
    """The batched, chunked, shared-work path gives what each metric's own function gives."""
    periods = [2, 4, 8]
    x = dead_leaves_images(96, 16, seed=1) * (1 + 0.3 * checkerboard(16, 16, 2).float())
    stats = imagestats.image_stats(x, periods, batch_size=40)  # chunks of 40, 40, 16
    for p in periods:
        torch.testing.assert_close(stats.ce[p], spectral.checkerboard_energy(x, p))
        torch.testing.assert_close(stats.ce_periodic[p], spectral.checkerboard_energy(x, p, boundary="periodic"))
        assert stats.phase_spread[p] == pytest.approx(float(spectral.phase_spread(x.double(), p)), rel=1e-9)
        assert stats.ce_fixed[p] == pytest.approx(float(spectral.fixed_pattern_energy(x, p)), rel=1e-5)
    torch.testing.assert_close(stats.mean_power, spectral.power_spectrum(x).mean(dim=0))


@pytest.mark.parametrize("group, batch", [(4, 3), (4, 4), (5, 3), (3, 10), (10, 4)])
def test_a_sets_statistics_by_group_do_not_depend_on_the_chunks_read(group, batch):
    """The phase spread and the fixed-pattern CE are means over complete groups of ``group`` images
    (the two left over out of 10 with groups of 4, for instance), whatever chunks the set is read
    in, chunks past the last complete group included."""
    x = dead_leaves_images(10, 8, seed=2, channels=1) * (1 + 0.3 * checkerboard(8, 8, 2).float())
    stats = imagestats.image_stats(x, [2, 4], group=group, batch_size=batch)
    whole = 10 // group * group
    for p in (2, 4):
        by_hand = [float(spectral.phase_spread(g.double(), p)) for g in x[:whole].split(group)]
        assert stats.phase_spread[p] == pytest.approx(sum(by_hand) / len(by_hand), rel=1e-9)
        fixed = [float(spectral.fixed_pattern_energy(g, p)) for g in x[:whole].split(group)]
        assert stats.ce_fixed[p] == pytest.approx(sum(fixed) / len(fixed), rel=1e-5)


@pytest.mark.parametrize("window", ["hann", "kaiser"])
def test_windowed_white_noise_profile_is_flat(window):
    torch.manual_seed(0)
    x = torch.randn(4000, 1, 32, 32, dtype=torch.float64) + 5  # flat spectrum of power 1, any offset
    _, prof = spectral.radial_profile(spectral.power_spectrum(x, window=window).mean(dim=0))
    assert (prof[1:] - 1).abs().max() < 0.05  # away from DC the window's main lobe sees a flat spectrum
    assert (prof[0] - 1).abs() < 0.1  # the first bin too: the mean is removed before the window


# ---------------------------------------------------------------------------------------------
# Phase spread PS_P: second-order cyclostationarity


def slow_phase_spread(x: torch.Tensor, period: int) -> float:
    """Obviously correct: every pixel pair, one at a time, pooled over the whole set."""
    y = x - x.mean(dim=(-2, -1), keepdim=True)
    b, c, h, w = y.shape
    moments = []
    for di, dj in spectral.LAGS:
        sums = [[0.0] * period for _ in range(period)]
        counts = [[0] * period for _ in range(period)]
        for n in range(b):
            for ch in range(c):
                for i in range(h - di):
                    for j in range(w - dj):
                        sums[i % period][j % period] += float(y[n, ch, i, j] * y[n, ch, i + di, j + dj])
                        counts[i % period][j % period] += 1
        moments.append([sums[r][t] / counts[r][t] for r in range(period) for t in range(period)])
    variance = sum(moments[0]) / len(moments[0])
    spread = 0.0
    for m in moments:
        mean = sum(m) / len(m)
        spread += sum((v - mean) ** 2 for v in m) / len(m)
    return spread / variance**2


@pytest.mark.parametrize("shape,period", [((2, 3, 8, 8), 2), ((3, 1, 8, 12), 4), ((2, 2, 9, 7), 2)])
def test_phase_spread_matches_slow_loop(shape, period):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64) * (1 + 0.5 * torch.rand(*shape[-2:], dtype=torch.float64))
    assert spectral.phase_spread(x, period).item() == pytest.approx(slow_phase_spread(x, period), rel=1e-10)


def test_phase_spread_known_values():
    torch.manual_seed(0)
    noise = torch.randn(3000, 1, 32, 32, dtype=torch.float64)
    assert spectral.phase_spread(noise, 2).item() < 1e-4  # stationary: only sampling noise
    i = torch.arange(32, dtype=torch.float64)
    c = (-1.0) ** (i[:, None] + i[None, :])  # (-1)^(i+j)
    for a in (0.1, 0.5, 1.0):
        assert spectral.phase_spread(noise * (1 + a * c), 2).item() == pytest.approx(4 * a**2 / (1 + a**2) ** 2, rel=0.02)
    dots = torch.zeros(3000, 1, 32, 32, dtype=torch.float64)
    dots[..., ::2, ::2] = torch.randn(3000, 1, 16, 16, dtype=torch.float64)  # zero insertion x2
    assert spectral.phase_spread(dots, 2).item() == pytest.approx(3.0, rel=0.01)  # one phase in four: P^2 - 1
    assert spectral.phase_spread(dots, 4).item() == pytest.approx(3.0, rel=0.01)  # 4 of 16 phases carry it
    assert spectral.phase_spread(torch.full((4, 3, 8, 8), 0.2), 2).item() == 0.0


def test_phase_spread_is_blind_to_an_added_checkerboard_and_free_of_offset_and_scale():
    torch.manual_seed(0)
    x = torch.randn(2000, 1, 16, 16, dtype=torch.float64)
    i = torch.arange(16, dtype=torch.float64)
    c = (-1.0) ** (i[:, None] + i[None, :])
    base = spectral.phase_spread(x, 2).item()
    assert spectral.phase_spread(x + 0.5 * c, 2).item() < base + 1e-4  # +-a in every phase: CE_P's job
    tile = checkerboard(16, 16, 2, channels=1)  # a pattern whose size differs between phases ...
    assert spectral.phase_spread(x + tile, 2).item() > 100 * base  # ... changes the phases' variances
    y = dead_leaves_images(64, 16, seed=2).double()
    torch.testing.assert_close(spectral.phase_spread(5 * y - 2, 2), spectral.phase_spread(y, 2))


def test_saturation_share_and_pre_tanh():
    x = torch.tensor([-1.0, -0.999, -0.5, 0.0, 0.9999, 1.0]).view(1, 1, 1, 6)
    assert spectral.saturation_share(x).item() == pytest.approx(4 / 6)
    u = spectral.pre_tanh(x)
    assert torch.isfinite(u).all() and u[0, 0, 0, 3] == 0
    torch.testing.assert_close(torch.tanh(spectral.pre_tanh(torch.tensor([0.3, -0.7]))), torch.tensor([0.3, -0.7]))
