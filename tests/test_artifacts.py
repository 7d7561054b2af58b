"""Known artifacts (gan.measure.artifacts) do what they say, and the logged metrics detect every one of them."""
import pytest
import torch

from gan.data.procedural import dead_leaves_images, stroke_images
from gan.measure import artifacts, imagestats, spectral
from gan.measure import metrics as M
from gan.measure import names as N


@pytest.fixture(scope="module")
def clean():
    return dead_leaves_images(64, 16, seed=5)


def test_zero_insertion_and_nearest_at_full_strength(clean):
    dots = artifacts.zero_insertion(clean)
    mean = artifacts.half(clean).mean(dim=(-2, -1), keepdim=True)
    off_grid = torch.ones(16, 16, dtype=torch.bool)
    off_grid[::2, ::2] = False
    torch.testing.assert_close(dots[..., off_grid], mean.expand_as(dots)[..., off_grid])  # 3 pixels in 4
    near = artifacts.nearest(clean)
    torch.testing.assert_close(near[..., ::2, ::2], near[..., 1::2, 1::2])  # every value four times
    assert spectral.checkerboard_energy(near, 2).abs().max() < 1e-6  # CE_2 is blind to it


def test_random_layers_keep_brightness_but_not_their_phases():
    flat = torch.full((2, 3, 16, 16), 0.3)
    for k in (3, 4):
        y = artifacts.random_transposed(k)(flat)[..., 4:-4, 4:-4]
        assert y.mean().item() == pytest.approx(0.3, rel=1e-5)  # unit mean polyphase gain
        phases = spectral.phase_means(y, 2)
        assert (phases.amax() - phases.amin()) > 1e-3  # a fixed checkerboard on a constant image
    y = artifacts.random_pixel_shuffle()(flat)
    torch.testing.assert_close(y, flat)  # every sub-kernel sums to 1: no fixed pattern at all


def test_apply_mixes_linearly_and_presets_keep_shape_and_statistics(clean):
    a = artifacts.modulated_checkerboard
    torch.testing.assert_close(artifacts.apply(clean, a, 0.0), clean)
    torch.testing.assert_close(artifacts.apply(clean, a, 1.0), a(clean))
    y = artifacts.preset_last_stage("transposed_k3")(clean)
    assert y.shape == clean.shape
    torch.testing.assert_close(y.mean(dim=(-2, -1)), clean.mean(dim=(-2, -1)), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(-2, -1)), clean.std(dim=(-2, -1)), atol=1e-4, rtol=1e-4)


def test_strokes_are_mnist_like():
    x = stroke_images(32, 16, seed=1)
    assert x.shape == (32, 1, 16, 16) and torch.equal(x, stroke_images(32, 16, seed=1))
    assert spectral.saturation_share(x) > 0.8 and x.min() == -1 and x.max() == 1


def excess(fake: torch.Tensor, real: torch.Tensor, name: str) -> float:
    periods = N.periods_for(fake.shape[-1])
    return M.compute(imagestats.image_stats(fake, periods), imagestats.image_stats(real, periods, group=len(fake)))[name]


def test_ce_misses_what_phase_spread_sees_and_the_reverse():
    """The calibration's central finding, on fresh data: CE_2 reads a checkerboard that follows the
    content, and a grid of dots, as clean data; PS_2 sees both. An added +-a checkerboard is the
    other way round."""
    real, base = dead_leaves_images(512, 32, seed=0), dead_leaves_images(256, 32, seed=1)
    for artifact in (artifacts.modulated_checkerboard, artifacts.zero_insertion):
        y = artifacts.apply(base, artifact, 0.3)
        assert abs(excess(y, real, N.CE_EXCESS_DB.format(p=2))) < 1.5
        assert excess(y, real, "phase_spread_excess_db/p2") > 15
    y = artifacts.apply(base, artifacts.additive_checkerboard, 0.1)
    assert excess(y, real, N.CE_EXCESS_DB.format(p=2)) > 10
    assert excess(y, real, "phase_spread_excess_db/p2") < 2
