import pytest
import torch

from gan.data.procedural import dead_leaves_images
from gan.measure import swd
from gan.measure.evaluation import Evaluator
from gan.measure.names import SWD
from gan.model.filters import Blur


@pytest.fixture(scope="module")
def sets():
    a = dead_leaves_images(128, 32, seed=1)
    b = dead_leaves_images(128, 32, seed=2)  # other real images from the same distribution
    blurred = Blur("binomial")(Blur("binomial")(a))
    noise = torch.rand_like(a) * 2 - 1
    return a, b, blurred, noise


def test_swd_orders_real_blurred_noise(sets):
    a, b, blurred, noise = sets
    d_real = swd.swd(a, b)["quality/swd"]
    d_blur = swd.swd(a, blurred)["quality/swd"]
    d_noise = swd.swd(a, noise)["quality/swd"]
    assert d_real < d_blur < d_noise


def test_swd_identical_is_zero_symmetric_and_deterministic(sets):
    a, b, _, _ = sets
    assert swd.swd(a, a)["quality/swd"] == 0.0
    ab, ba = swd.swd(a, b, seed=3), swd.swd(b, a, seed=3)
    assert ab["quality/swd"] == pytest.approx(ba["quality/swd"], rel=1e-5)
    assert swd.swd(a, b, seed=3) == ab
    assert set(ab) == {"quality/swd_level_32", "quality/swd_level_16", "quality/swd"}


def test_vectorised_equals_reference():
    torch.manual_seed(0)
    a, b = torch.randn(200, 12, dtype=torch.float64), torch.randn(200, 12, dtype=torch.float64) + 0.3
    dirs = swd.random_directions(12, 16).double()
    assert swd.sliced_wasserstein(a, b, dirs).item() == pytest.approx(
        swd.sliced_wasserstein_reference(a, b, dirs).item(), rel=1e-10)


def test_laplacian_pyramid_reconstructs():
    x = dead_leaves_images(4, 64, seed=0)
    levels = swd.laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]
    rec = levels[-1]
    for band in reversed(levels[:-1]):
        rec = band + swd._upsample(rec)
    torch.testing.assert_close(rec, x, atol=1e-5, rtol=0)


def test_the_pyramid_in_chunks_of_images_is_the_same_pyramid():
    x = dead_leaves_images(5, 64, seed=1)
    whole = swd.laplacian_pyramid(x, chunk_values=x.numel())
    for chunk in (1, 2):  # one image, two images a chunk
        parts = swd.laplacian_pyramid(x, chunk_values=chunk * x[0].numel())
        assert len(parts) == len(whole) and all(torch.equal(a, b) for a, b in zip(parts, whole))


def test_patches_read_a_chunk_of_images_at_a_time_are_those_of_the_whole_pyramid():
    """SWD reads each chunk's pyramid and drops it (``pyramid_patches``): the same neighbourhoods, in
    the same order, as gathered from the whole set's pyramid, whatever the chunk."""
    x = dead_leaves_images(7, 64, seed=2)
    gen = torch.Generator().manual_seed(0)
    shapes = swd.level_shapes(64, 64, 16)
    positions = [swd.patch_positions(len(x), h, w, 5, generator=gen) for h, w in shapes]
    whole = [swd.gather_patches(level, ys, xs) for level, (ys, xs) in zip(swd.laplacian_pyramid(x), positions)]
    assert [lv.shape[-2:] for lv in swd.laplacian_pyramid(x)] == [torch.Size(s) for s in shapes]
    for chunk in (1, 3, 7):
        parts = swd.pyramid_patches(x, positions, chunk_values=chunk * x[0].numel())
        assert len(parts) == len(whole) and all(torch.equal(a, b) for a, b in zip(parts, whole))


def test_patch_descriptors_pick_real_neighbourhoods():
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    g = torch.Generator().manual_seed(0)
    d = swd.patch_descriptors(x, 5, size=7, generator=g)
    assert d.shape == (10, 3, 7, 7)
    g = torch.Generator().manual_seed(0)
    ys = torch.randint(0, 4, (2, 5), generator=g)
    xs = torch.randint(0, 4, (2, 5), generator=g)
    torch.testing.assert_close(d[6], x[1, :, ys[1, 1]:ys[1, 1] + 7, xs[1, 1]:xs[1, 1] + 7])


def test_cached_reference_gives_fresh_results_on_every_call(sets):
    a, b, blurred, _ = sets
    cached = swd.SlicedWasserstein(a, seed=5, per_image=16, num_dirs=32)
    for other in (b, blurred, b):  # reuse does not consume the reference's patch positions
        assert cached(other) == swd.swd(a, other, seed=5, per_image=16, num_dirs=32)
    with pytest.raises(ValueError, match="differ"):
        cached(b[:10])


def test_swd_rejects_mismatched_sets():
    with pytest.raises(ValueError, match="differ"):
        swd.swd(torch.zeros(4, 3, 32, 32), torch.zeros(4, 1, 32, 32))


def test_the_images_swd_reads_are_those_whose_projections_and_descriptors_fit_the_budget(monkeypatch):
    """``max_images``: the reference's sorted projections and one set's descriptors, as a
    ``SlicedWasserstein`` holds them, fit in ``SWD_BYTES`` for that many images and not for one
    more; a run's evaluation (256 images of up to 128 px, ProGAN's settings too) is never cut."""
    assert min(swd.max_images(s, s, 128, 512) for s in (16, 32, 64, 128)) >= 256
    x = dead_leaves_images(40, 32, seed=1)
    monkeypatch.setattr(swd, "SWD_BYTES", 400_000)

    def held(n: int) -> int:  # bytes of the reference's projections and of one set's descriptors
        s = swd.SlicedWasserstein(x[:n], 0, 16, 32)
        return sum(4 * t.numel() for t in (*s.reference, *s.descriptors(x[:n])))

    n = swd.max_images(32, 32, 16, 32)
    assert 10 < n < 39 and held(n) <= swd.SWD_BYTES < held(n + 1)
    evaluate = Evaluator(x, [2], {}, group=40, swd=(16, 32))
    assert evaluate.swd_count == n and evaluate.swd.shape[0] == n
    assert evaluate(dead_leaves_images(40, 32, seed=2)).metrics[SWD] > 0
