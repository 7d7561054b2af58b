import math

import pytest
import torch
import torch.nn.functional as F

from gan.model import build
from gan.model import convmath as cm
from gan.model.filters import blur_kernel

X = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
WAYS = [cm.transposed_conv_matrix, cm.transposed_conv_zero_insertion, cm.transposed_conv_scatter]


def test_tutorial_examples():
    expected = torch.tensor([[0.0, 0, 1], [0, 4, 6], [4, 12, 9]])
    for way in WAYS:
        torch.testing.assert_close(way(X[None, None], K[None, None])[0, 0], expected)
        torch.testing.assert_close(way(X[None, None], K[None, None], padding=1)[0, 0], torch.tensor([[4.0]]))


def test_conv_matrix_shapes_from_the_tutorials():
    assert cm.conv_matrix(torch.ones(3, 3), 4).shape == (4, 16)
    assert cm.conv_matrix(torch.ones(2, 2), 3).shape == (4, 9)


@pytest.mark.parametrize("k,s,p", [(3, 1, 0), (3, 2, 1), (4, 2, 1), (2, 3, 0), (5, 2, 2)])
def test_conv_matrix_equals_conv2d(k, s, p):
    torch.manual_seed(0)
    x, w = torch.randn(1, 2, 7, 6, dtype=torch.float64), torch.randn(3, 2, k, k, dtype=torch.float64)
    C = cm.conv_matrix(w, (7, 6), stride=s, padding=p)
    torch.testing.assert_close((C @ x.flatten()).reshape(F.conv2d(x, w, stride=s, padding=p).shape),
                               F.conv2d(x, w, stride=s, padding=p))


def test_conv_then_transposed_restores_the_size():
    conv = torch.nn.Conv2d(10, 20, 5, stride=3, padding=2)
    tconv = torch.nn.ConvTranspose2d(20, 10, 5, stride=3, padding=2)
    y = conv(torch.randn(1, 10, 16, 16))
    assert y.shape[-1] == cm.conv_output_size(16, 5, 3, 2) == 6
    assert tconv(y, output_size=(16, 16)).shape[-1] == 16
    assert cm.transposed_output_size(6, 5, 3, 2) == 16


@pytest.mark.parametrize("k,s,p", [(k, s, p) for k in range(1, 6) for s in range(1, 4) for p in range(k)])
def test_output_sizes_are_inverse(k, s, p):
    for i in range(1, 9):
        for op in range(s):
            o = cm.transposed_output_size(i, k, s, p, op)
            if o >= 1:
                assert cm.conv_output_size(o, k, s, p) == i


def test_scatter_equals_matrix_transpose_small():
    torch.manual_seed(0)
    y, w = torch.randn(1, 1, 3, 3, dtype=torch.float64), torch.randn(1, 1, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(cm.transposed_conv_scatter(y, w), cm.transposed_conv_matrix(y, w))


GRID = [(k, s, p, op) for k in range(1, 6) for s in range(1, 4) for p in range(k) for op in range(s)]


@pytest.mark.parametrize("k,s,p,op", GRID)
def test_three_ways_equal_conv_transpose2d(k, s, p, op):
    torch.manual_seed(k * 100 + s * 10 + p)
    h = 4
    if cm.transposed_output_size(h, k, s, p, op) < 1:
        pytest.skip("empty output")
    y, w = torch.randn(2, 3, h, h + 1), torch.randn(3, 2, k, k)
    ref = F.conv_transpose2d(y, w, stride=s, padding=p, output_padding=op)
    for way in WAYS:
        torch.testing.assert_close(way(y, w, s, p, op), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("k,s,p", [(3, 2, 1), (4, 2, 1), (5, 3, 2), (2, 1, 0)])
def test_adjoint_identity(k, s, p):
    torch.manual_seed(0)
    w = torch.randn(3, 2, k, k, dtype=torch.float64)  # conv 2 -> 3; its transpose 3 -> 2
    x = torch.randn(2, 2, 9, 9, dtype=torch.float64)
    cx = F.conv2d(x, w, stride=s, padding=p)
    y = torch.randn_like(cx)
    op = 9 - cm.transposed_output_size(cx.shape[-1], k, s, p)
    lhs = (cx * y).sum()
    rhs = (x * F.conv_transpose2d(y, w, stride=s, padding=p, output_padding=op)).sum()
    assert lhs.item() == pytest.approx(rhs.item(), rel=1e-10)


def test_overlap_map_by_hand():
    assert cm.overlap_map(3, 2, 4, dims=1).tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    assert cm.overlap_map(4, 2, 3, dims=1).tolist() == [1, 1, 2, 2, 2, 2, 1, 1]
    assert cm.overlap_map(2, 2, 3, dims=1).tolist() == [1] * 6
    two = cm.overlap_map(3, 2, 4, dims=2)
    torch.testing.assert_close(two, torch.outer(cm.overlap_map(3, 2, 4, dims=1), cm.overlap_map(3, 2, 4, dims=1)))
    stacked = cm.overlap_map(3, 2, 2, layers=2, dims=1)
    first = cm.overlap_map(3, 2, 2, dims=1)  # [1, 1, 2, 1, 1]
    assert stacked.tolist() == F.conv_transpose1d(first[None, None], torch.ones(1, 1, 3, dtype=torch.float64),
                                                  stride=2)[0, 0].tolist()


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_overlap_interior_closed_form(k, s):
    m = cm.overlap_map(k, s, 12, dims=1)
    interior = m[k:-k]
    assert set(interior.tolist()) <= {math.floor(k / s), math.ceil(k / s)}
    assert interior.mean().item() == pytest.approx(k / s, rel=0.1)
    assert (len(set(interior.tolist())) == 1) == (k % s == 0)  # even overlap iff s divides k


def test_checkerboard_free_condition():
    torch.manual_seed(0)
    w = torch.randn(3, 2, 4, 4)
    assert not cm.checkerboard_free(w, 2)
    box = blur_kernel("zoh")  # (2, 2), sum 1
    w_box = F.conv2d(F.pad(w.reshape(6, 1, 4, 4), (1, 1, 1, 1)), box[None, None]).reshape(3, 2, 5, 5)
    assert cm.checkerboard_free(w_box, 2, tol=1e-5)
    y = F.conv_transpose2d(torch.ones(1, 3, 8, 8), w_box, stride=2, padding=2, output_padding=1)
    inner = y[..., 4:-4, 4:-4]
    torch.testing.assert_close(inner, inner[..., :1, :1].expand_as(inner), atol=1e-5, rtol=0)


def test_dc_response_matches_polyphase_sums_and_ranks_presets():
    torch.manual_seed(0)
    for name in ("transposed", "transposed_k3"):
        up = build.upsampler(name, 3, 2)
        p = up.up.padding[0]
        expected = cm.polyphase_sums(up.up.weight, 2).roll((-p, -p), (-2, -1))  # tap phase -> output phase
        torch.testing.assert_close(cm.dc_response(up, 3), expected.detach(), atol=1e-6, rtol=0)
    free = ["resize_nearest", "resize_bilinear", "pixel_shuffle_icnr", "pixel_shuffle_icnr_zoh",
            "transposed_zoh", "transposed_binomial", "transposed_bilinear"]
    for name in free:
        assert cm.dc_checkerboard(cm.dc_response(build.upsampler(name, 3, 2), 3)) < 1e-5, name
    for name in ("transposed", "transposed_k3", "pixel_shuffle"):
        assert cm.dc_checkerboard(cm.dc_response(build.upsampler(name, 3, 2), 3)) > 0.1, name


def test_bilinear_kernel_reproduces_interpolate():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 6, 7)
    k = cm.bilinear_kernel(4)
    torch.testing.assert_close(k[0], torch.tensor([0.0625, 0.1875, 0.1875, 0.0625]))
    y = F.conv_transpose2d(x, k[None, None], stride=2, padding=1)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])


@pytest.mark.parametrize("kh,kw,s,p,op", [(2, 3, 2, 0, 1), (3, 5, 2, 1, 0), (4, 1, 3, 1, 2), (1, 4, 2, 0, 0)])
def test_non_square_kernels_equal_conv_transpose2d(kh, kw, s, p, op):
    torch.manual_seed(kh * 10 + kw)
    y, w = torch.randn(2, 3, 4, 5), torch.randn(3, 2, kh, kw)
    ref = F.conv_transpose2d(y, w, stride=s, padding=p, output_padding=op)
    for way in WAYS:
        torch.testing.assert_close(way(y, w, s, p, op), ref, atol=1e-5, rtol=1e-5)
    sums = cm.polyphase_sums(w, s)
    assert sums.shape == (3, 2, s, s)
    torch.testing.assert_close(sums.sum(dim=(-2, -1)), w.sum(dim=(-2, -1)))  # every tap in exactly one phase


@pytest.mark.parametrize("s,op", [(2, 2), (2, 3), (1, 1)])
def test_output_padding_must_be_below_the_stride_as_in_torch(s, op):
    y, w = torch.randn(1, 2, 4, 4), torch.randn(2, 2, 3, 3)
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(y, w, stride=s, output_padding=op)
    for way in WAYS:
        with pytest.raises(ValueError, match="output padding"):
            way(y, w, s, 0, op)
