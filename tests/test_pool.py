"""Pooling, unpooling, upsampling: the lecture's examples, naive loops, SciPy, gradients, bad input.

Expected values come from the lecture, from nested loops written here that follow
PyTorch's rules one window at a time, or from scipy.ndimage.map_coordinates.
"""
import math

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import assume, example, given, settings, strategies as st

import minifcn as mf
from minifcn import arith, backend
from minifcn import functional as F
from minifcn.functional.pool import Separable2d
from minifcn.functional.upsample import interpolation_matrix
from conftest import to_xp
from strategies import leaf, seeds, separated_values


def image(values, device, dtype=np.float32):
    """A (1, 1, H, W) tensor from a 2-D list."""
    return mf.Tensor(to_xp(np.asarray(values, dtype=dtype)[None, None], device))


# ---- the lecture's worked examples --------------------------------------------------------
LECTURE_4x4 = [[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]


def test_lecture_nearest_and_bed_of_nails(device):
    x = image([[1, 2], [3, 4]], device)
    assert F.unpool_nearest(x, 2).numpy()[0, 0].tolist() == [
        [1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert F.unpool_bed_of_nails(x, 2).numpy()[0, 0].tolist() == [
        [1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]


def test_lecture_max_pool_and_max_unpool(device):
    y, idx = F.max_pool2d(image(LECTURE_4x4, device), 2, return_indices=True)
    assert y.numpy()[0, 0].tolist() == [[5, 6], [7, 8]]
    assert idx.dtype == np.int64 and idx.device == device
    assert idx.numpy()[0, 0].tolist() == [[1 * 4 + 1, 0 * 4 + 2], [3 * 4 + 0, 3 * 4 + 3]]
    out = F.max_unpool2d(image([[1, 2], [3, 4]], device), idx, 2)
    assert out.numpy()[0, 0].tolist() == [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]


def test_known_bilinear_row(device):
    """PyTorch: interpolate([0, 1, 2, 3], scale_factor=2, mode="bilinear") along a row."""
    y = F.interpolate(image([[0, 1, 2, 3]], device), size=(1, 8), mode="bilinear")
    np.testing.assert_allclose(y.numpy()[0, 0, 0], [0, .25, .75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-6)


# ---- naive references, one window at a time -----------------------------------------------
def window_starts(i, k, s, p, d, ceil_mode):
    """Where the windows start (input coordinates), counted directly: a window must fit in
    the padded input; with ceil_mode one more partial window may hang over the end, if it
    starts inside the input or the left padding and the previous one did not reach the end."""
    span, length = d * (k - 1) + 1, i + 2 * p
    return [t - p for t in range(0, length, s)
            if t + span <= length or (ceil_mode and t - s + span < length and t < i + p)]


def first_tap(start, d):
    """PyTorch's starting index: step the window's first tap by the dilation until it is
    no longer in the top/left padding (it may then lie past the input: a window of padding)."""
    while start < 0:
        start += d
    return start


def naive_max_pool(x, k, s, p, d, ceil_mode):
    """PyTorch's CPU loop: taps outside the input are skipped; first strict maximum wins;
    the index starts at the first tap inside the input; NaN wins. A window that holds only
    padding gives -inf and the index of its first tap past the top/left padding."""
    N, C, H, W = x.shape
    rows = window_starts(H, k[0], s[0], p[0], d[0], ceil_mode)
    cols = window_starts(W, k[1], s[1], p[1], d[1], ceil_mode)
    y, idx = np.empty((N, C, len(rows), len(cols))), np.empty((N, C, len(rows), len(cols)), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for a, r0 in enumerate(rows):
                for b, c0 in enumerate(cols):
                    best, arg = -np.inf, -1                 # -1: no tap inside the input yet
                    for kh in range(k[0]):
                        for kw in range(k[1]):
                            r, q = r0 + kh * d[0], c0 + kw * d[1]
                            if 0 <= r < H and 0 <= q < W:
                                arg = r * W + q if arg < 0 else arg
                                v = x[n, c, r, q]
                                if v > best or np.isnan(v):
                                    best, arg = v, r * W + q
                    if arg < 0:                             # padding only
                        arg = first_tap(r0, d[0]) * W + first_tap(c0, d[1])
                    y[n, c, a, b], idx[n, c, a, b] = best, arg
    return y, idx


def naive_avg_pool(x, k, s, p, ceil_mode, count_include_pad):
    """PyTorch's CPU loop for avg_pool2d and its divisor."""
    N, C, H, W = x.shape
    rows, cols = window_starts(H, k[0], s[0], p[0], 1, ceil_mode), window_starts(W, k[1], s[1], p[1], 1, ceil_mode)
    y = np.empty((N, C, len(rows), len(cols)))
    for a, h0 in enumerate(rows):
        for b, w0 in enumerate(cols):
            h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
            size = (h1 - h0) * (w1 - w0)
            h0c, w0c, h1c, w1c = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            div = size if count_include_pad else (h1c - h0c) * (w1c - w0c)
            y[:, :, a, b] = x[:, :, h0c:h1c, w0c:w1c].sum(axis=(2, 3)) / div
    return y


@st.composite
def pool_case(draw, dilation=True, max_side=6):
    """(shape, kernel, stride, padding, dilation, ceil_mode) that PyTorch accepts."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    hw = tuple(draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), max_side)) for a in range(2))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + hw
    return shape, k, s, p, d, draw(st.booleans())


# Edge cases every pooling property runs besides its drawn ones: (shape, k, s, p, d, ceil_mode).
POOL_EXAMPLES = [
    ((1, 1, 1, 1), (2, 2), (1, 1), (1, 1), (2, 2), False),   # 1x1 input: the only window is padding
    ((1, 2, 3, 1), (2, 2), (2, 1), (1, 1), (2, 2), True),    # padding-only windows beside real ones
    ((2, 1, 5, 4), (1, 2), (3, 3), (0, 1), (1, 1), True),    # stride > kernel, ceil_mode overhang
    ((1, 1, 4, 5), (3, 2), (1, 3), (1, 1), (2, 1), False),   # dilation 2 with padding, stride 3 > 2
    ((1, 1, 1, 1), (1, 1), (2, 2), (0, 0), (1, 1), True),    # 1x1 input, 1x1 kernel, stride 2
]
POOL_EXAMPLES_NO_DILATION = [c for c in POOL_EXAMPLES if c[4] == (1, 1)] + [
    ((1, 1, 1, 1), (2, 2), (3, 3), (1, 1), (1, 1), True),    # 1x1 input in a padded 2x2 window
    ((1, 1, 3, 3), (3, 3), (1, 1), (1, 1), (1, 1), False),   # windows mostly padding
]


def pool_examples(cases, **fixed):
    """Add the fixed edge cases to a hypothesis test (other arguments as given in ``fixed``)."""
    def decorate(test):
        for case in cases:
            test = example(case=case, **fixed)(test)
        return test
    return decorate


# ---- max pooling --------------------------------------------------------------------------
@settings(max_examples=100)
@given(case=pool_case(), seed=seeds, ties=st.booleans())
@pool_examples(POOL_EXAMPLES, seed=0, ties=False)
@pool_examples(POOL_EXAMPLES, seed=0, ties=True)               # ties and -inf inputs
def test_max_pool_matches_naive_loop(device, case, seed, ties):
    shape, k, s, p, d, ceil_mode = case
    rng = np.random.default_rng(seed)
    # ties (and -inf inputs) test PyTorch's rule for which index is reported
    x = rng.choice([-np.inf, 0, 1, 2], shape) if ties else separated_values(rng, shape)
    y, idx = F.max_pool2d(leaf(x, device), k, s, p, d, ceil_mode, return_indices=True)
    y_ref, idx_ref = naive_max_pool(x, k, s, p, d, ceil_mode)
    assert y.shape == y_ref.shape
    assert y.shape[2:] == tuple(arith.pool_output_size(shape[2 + a], k[a], s[a], p[a], d[a], ceil_mode)
                                for a in range(2))
    np.testing.assert_array_equal(y.numpy(), y_ref)
    np.testing.assert_array_equal(idx.numpy(), idx_ref)   # windows of padding only included


@settings(max_examples=50)
@given(case=pool_case(), seed=seeds)
@pool_examples(POOL_EXAMPLES, seed=0)
def test_max_pool_gradient(device, case, seed):
    shape, k, s, p, d, ceil_mode = case
    x = leaf(separated_values(np.random.default_rng(seed), shape), device)
    assume(np.isfinite(F.max_pool2d(x, k, s, p, d, ceil_mode).numpy()).all())
    mf.gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode), x)


def test_max_pool_overlapping_windows_add_gradients(device):
    """One big value wins all four 2x2 windows (stride 1) that contain it: its gradient is 4."""
    x = leaf(np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], dtype=float)[None, None], device)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    assert mf.Tensor(x.grad).numpy()[0, 0].tolist() == [[0, 0, 0], [0, 4, 0], [0, 0, 0]]


def test_max_pool_propagates_nan_and_keeps_dtype(device):
    x = image([[1, np.nan], [3, 2]], device)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert y.dtype == np.float32 and np.isnan(y.numpy()).all() and idx.numpy().item() == 1


# ---- the readable (im2col + max / mean, autograd) forms equal the fused ones --------------
def _value_and_grad(op, x_np, device, seed):
    x = leaf(x_np, device)
    y = op(x)
    y.backward(to_xp(np.random.default_rng(seed).standard_normal(y.shape), device))
    return y.numpy(), backend.to_numpy(x.grad)


@given(case=pool_case(), seed=seeds)
def test_max_pool_simple_equals_fused(device, case, seed):
    shape, k, s, p, d, ceil_mode = case
    x_np = separated_values(np.random.default_rng(seed), shape)
    fused = _value_and_grad(lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode), x_np, device, seed)
    assume(np.isfinite(fused[0]).all())       # a dilated window may see padding only
    simple = _value_and_grad(lambda t: F.max_pool2d_simple(t, k, s, p, d, ceil_mode), x_np, device, seed)
    for a, b in zip(fused, simple):
        np.testing.assert_array_equal(b, a)


@given(case=pool_case(dilation=False), include=st.booleans(), seed=seeds)
def test_avg_pool_simple_equals_fused(device, case, include, seed):
    shape, k, s, p, _, ceil_mode = case
    x_np = np.random.default_rng(seed).standard_normal(shape)
    fused = _value_and_grad(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, include), x_np, device, seed)
    simple = _value_and_grad(lambda t: F.avg_pool2d_simple(t, k, s, p, ceil_mode, include), x_np, device, seed)
    for a, b in zip(fused, simple):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


# ---- average pooling ----------------------------------------------------------------------
@settings(max_examples=75)
@given(case=pool_case(dilation=False), include=st.booleans(), seed=seeds)
@pool_examples(POOL_EXAMPLES_NO_DILATION, include=False, seed=0)
@pool_examples(POOL_EXAMPLES_NO_DILATION, include=True, seed=0)
def test_avg_pool_matches_naive_loop_and_gradient(device, case, include, seed):
    shape, k, s, p, _, ceil_mode = case
    x_np = np.random.default_rng(seed).standard_normal(shape)
    x = leaf(x_np, device)
    y = F.avg_pool2d(x, k, s, p, ceil_mode, count_include_pad=include)
    assert y.shape[2:] == tuple(arith.pool_output_size(shape[2 + a], k[a], s[a], p[a], 1, ceil_mode)
                                for a in range(2))
    np.testing.assert_allclose(y.numpy(), naive_avg_pool(x_np, k, s, p, ceil_mode, include), rtol=1e-12, atol=1e-12)
    mf.gradcheck(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, count_include_pad=include), x)


@settings(max_examples=40)
@given(h=st.integers(1, 7), w=st.integers(1, 7), oh=st.integers(1, 4), ow=st.integers(1, 4), seed=seeds)
@example(h=1, w=1, oh=4, ow=3, seed=0)
@example(h=7, w=5, oh=3, ow=2, seed=0)
def test_adaptive_avg_pool(device, h, w, oh, ow, seed):
    x_np = np.random.default_rng(seed).standard_normal((2, 2, h, w))
    x = leaf(x_np, device)
    y = F.adaptive_avg_pool2d(x, (oh, ow))
    ref = np.empty((2, 2, oh, ow))
    for a in range(oh):
        for b in range(ow):
            h0, h1 = math.floor(a * h / oh), math.ceil((a + 1) * h / oh)
            w0, w1 = math.floor(b * w / ow), math.ceil((b + 1) * w / ow)
            ref[:, :, a, b] = x_np[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).numpy(), x_np.mean(axis=(2, 3), keepdims=True), rtol=1e-12)
    if h % oh == 0 and w % ow == 0:     # divisible: exactly avg_pool with kernel = stride = H/OH
        np.testing.assert_allclose(y.numpy(), F.avg_pool2d(x, (h // oh, w // ow)).numpy(), rtol=1e-12)
    mf.gradcheck(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), x)


# ---- unpooling ----------------------------------------------------------------------------
@settings(max_examples=75)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 4), st.integers(1, 4)),
       scale=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=seeds)
@example(shape=(1, 1, 1, 1), scale=(3, 1), seed=0)
@example(shape=(2, 1, 1, 3), scale=(1, 3), seed=0)
def test_unpool_nearest_and_bed_of_nails(device, shape, scale, seed):
    x_np = np.random.default_rng(seed).standard_normal(shape)
    x = leaf(x_np, device)
    sh, sw = scale
    near = np.repeat(np.repeat(x_np, sh, axis=2), sw, axis=3)
    nails = np.zeros_like(near)
    nails[:, :, ::sh, ::sw] = x_np
    np.testing.assert_array_equal(F.unpool_nearest(x, scale).numpy(), near)
    np.testing.assert_array_equal(F.unpool_bed_of_nails(x, scale).numpy(), nails)
    mf.gradcheck(lambda t: F.unpool_nearest(t, scale), x)
    mf.gradcheck(lambda t: F.unpool_bed_of_nails(t, scale), x)


@settings(max_examples=75)
@given(case=pool_case(dilation=False), seed=seeds)
@pool_examples(POOL_EXAMPLES_NO_DILATION, seed=0)
def test_max_unpool_of_max_pool_keeps_exactly_the_maxima(device, case, seed):
    shape, k, _, p, _, ceil_mode = case
    s = k                                                  # non-overlapping: one winner per window
    x_np = separated_values(np.random.default_rng(seed), shape)
    y, idx = F.max_pool2d(leaf(x_np, device), k, s, p, 1, ceil_mode, return_indices=True)
    y_leaf = leaf(y.numpy(), device)
    out = F.max_unpool2d(y_leaf, idx, k, s, p, output_size=shape[2:])
    _, idx_ref = naive_max_pool(x_np, k, s, p, (1, 1), ceil_mode)
    expected = np.zeros(shape)
    for n in range(shape[0]):
        for c in range(shape[1]):
            expected[n, c].flat[idx_ref[n, c].ravel()] = x_np[n, c].flat[idx_ref[n, c].ravel()]
    np.testing.assert_array_equal(out.numpy(), expected)
    mf.gradcheck(lambda t: F.max_unpool2d(t, idx, k, s, p, output_size=shape), y_leaf)


def test_max_unpool_output_size_range_is_what_pooling_can_produce():
    """Every size that pools to H (floor or ceil mode) is accepted; the range ends there."""
    x, idx = np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 1, 3, 3), np.int64)
    for k, s, p in [(2, 2, 0), (3, 2, 1), (2, 3, 0), (3, 3, 1), (3, 1, 0)]:
        default = (3 - 1) * s - 2 * p + k
        pools_to_3 = {i for i in range(1, 20) for ceil in (False, True)
                      if i + 2 * p >= k and arith.pool_output_size(i, k, s, p, 1, ceil) == 3}
        accepted = set()
        for i in range(1, 20):
            try:
                F.max_unpool2d(x, idx, k, s, p, output_size=(i, default))
                accepted.add(i)
            except ValueError as e:
                assert "cannot come from this pooling" in str(e)
        assert pools_to_3 <= accepted == set(range(default - s + 1, default + s))
        assert max(accepted) == max(pools_to_3)          # the floor-mode end is exact


# ---- interpolation ------------------------------------------------------------------------
def source_coordinate(dst, i, o, mode, align_corners, factor):
    """PyTorch's rule for where output cell ``dst`` reads, written out per cell."""
    scale = i / o if factor is None else 1 / factor
    if mode == "nearest":
        return min(dst * i // o if factor is None else math.floor(dst * scale), i - 1)
    if align_corners:
        return dst * (i - 1) / (o - 1) if o > 1 else 0.0
    return max((dst + 0.5) * scale - 0.5, 0.0)


@st.composite
def resize_case(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    if draw(st.booleans()):
        return shape, dict(size=(draw(st.integers(1, 9)), draw(st.integers(1, 9))))
    factor = (draw(st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])),
              draw(st.sampled_from([0.5, 1.0, 1.7, 2.0, 3.0])))
    assume(all(math.floor(n * f) >= 1 for n, f in zip(shape[2:], factor)))
    return shape, dict(scale_factor=factor)


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@settings(max_examples=60)
@given(case=resize_case(), seed=seeds)
@example(case=((1, 1, 1, 1), dict(size=(3, 2))), seed=0)
@example(case=((1, 2, 5, 3), dict(size=(1, 1))), seed=0)
@example(case=((1, 1, 4, 2), dict(scale_factor=(0.75, 1.7))), seed=0)
def test_interpolate_against_scipy_and_gradient(device, mode, align_corners, case, seed):
    shape, how = case
    x_np = np.random.default_rng(seed).standard_normal(shape)
    x = leaf(x_np, device)
    y = F.interpolate(x, mode=mode, align_corners=align_corners, **how)
    factors = how.get("scale_factor", (None, None))
    out = how["size"] if "size" in how else tuple(math.floor(n * f) for n, f in zip(shape[2:], factors))
    assert y.shape == shape[:2] + tuple(out)
    rows = [source_coordinate(r, shape[2], out[0], mode, align_corners, factors[0]) for r in range(out[0])]
    cols = [source_coordinate(c, shape[3], out[1], mode, align_corners, factors[1]) for c in range(out[1])]
    coords = np.meshgrid(rows, cols, indexing="ij")
    ref = np.stack([[scipy.ndimage.map_coordinates(plane, coords, order=1 if mode == "bilinear" else 0,
                                                   mode="nearest") for plane in image_planes]
                    for image_planes in x_np])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)
    mf.gradcheck(lambda t: F.interpolate(t, mode=mode, align_corners=align_corners, **how), x)


@settings(max_examples=50)
@given(h=st.integers(1, 4), w=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3), seed=seeds)
@example(h=1, w=1, sh=3, sw=1, seed=0)
def test_nearest_fast_path_equals_interpolation_matrices(device, h, w, sh, sw, seed):
    """Integer-scale nearest interpolation runs as unpool_nearest; the matrix form agrees."""
    x = leaf(np.random.default_rng(seed).standard_normal((1, 2, h, w)), device)
    fast = F.interpolate(x, size=(h * sh, w * sw))
    mats = [to_xp(interpolation_matrix(i, i * f, "nearest"), device) for i, f in ((h, sh), (w, sw))]
    np.testing.assert_array_equal(fast.numpy(), Separable2d(*mats)(x).numpy())
    assert F.interpolate(x, scale_factor=(sh, sw)).creator.__class__.__name__ == "UnpoolNearest"


def test_float32_in_float32_out(device):
    x = mf.Tensor(to_xp(np.random.default_rng(0).standard_normal((1, 2, 4, 6)).astype(np.float32), device))
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    outs = [y, F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 1), F.unpool_nearest(x), F.unpool_bed_of_nails(x),
            F.max_unpool2d(y, idx, 2), F.interpolate(x, scale_factor=1.5, mode="bilinear"),
            F.interpolate(x, size=(3, 5))]
    assert [(t.dtype, t.device) for t in outs] == [(np.float32, device)] * len(outs)


# ---- the FCN bilinear kernel ----------------------------------------------------------------
def naive_conv_transpose(x, w, s, p):
    """Every input pixel drops a copy of the kernel, scaled by its value, s apart; crop p."""
    (K, _), (H, W) = w.shape, x.shape
    out = np.zeros((s * (H - 1) + K, s * (W - 1) + K))
    for i in range(H):
        for j in range(W):
            out[i * s:i * s + K, j * s:j * s + K] += x[i, j] * w
    return out[p:p + s * H, p:p + s * W]


def interior(s, n):
    """Output cells whose source coordinate (o + 0.5)/s - 0.5 lies in [0, n - 1]."""
    return slice(math.ceil((s - 1) / 2), math.floor((n - 1) * s + (s - 1) / 2) + 1)


def test_bilinear_kernel_values():
    np.testing.assert_allclose(F.bilinear_kernel(1, 1, 2)[0, 0], np.outer([.25, .75, .75, .25], [.25, .75, .75, .25]))
    w = F.bilinear_kernel(3, 3, 3)
    assert w.shape == (3, 3, 5, 5) and w.dtype == np.float32
    assert (w[0, 1] == 0).all() and w[2, 2, 2, 2] == 1


@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_bilinear_kernel_is_bilinear_upsampling_inside(s):
    x = np.random.default_rng(s).standard_normal((5, 4))
    w = F.bilinear_kernel(1, 1, s, dtype="float64")[0, 0]
    up = naive_conv_transpose(x, w, s, s // 2)
    ref = F.interpolate(leaf(x[None, None], "cpu"), scale_factor=s, mode="bilinear").numpy()[0, 0]
    assert up.shape == ref.shape == (5 * s, 4 * s)
    rows, cols = interior(s, 5), interior(s, 4)
    np.testing.assert_allclose(up[rows, cols], ref[rows, cols], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("s", [2, 3])
def test_bilinear_kernel_with_conv_transpose2d(device, s):
    """The same with the library's conv_transpose2d (from minifcn.functional.conv)."""
    from minifcn.functional.conv import conv_transpose2d
    x = np.random.default_rng(s).standard_normal((2, 3, 4, 5))
    w = mf.Tensor(to_xp(F.bilinear_kernel(3, 3, s, dtype="float64"), device))
    up = conv_transpose2d(leaf(x, device), w, stride=s, padding=s // 2).numpy()
    ref = F.interpolate(leaf(x, device), scale_factor=s, mode="bilinear").numpy()
    assert up.shape == ref.shape == (2, 3, 4 * s, 5 * s)
    rows, cols = interior(s, 4), interior(s, 5)
    np.testing.assert_allclose(up[:, :, rows, cols], ref[:, :, rows, cols], rtol=1e-10, atol=1e-12)


# ---- bad input ----------------------------------------------------------------------------
def test_bad_pooling_arguments(device):
    x = image(LECTURE_4x4, device)
    with pytest.raises(ValueError, match=r"max_pool2d along H .*kernel_size=5 .*larger than the padded input"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"avg_pool2d along W .*kernel_size=6 .*larger than the padded input 4"):
        F.avg_pool2d(x, (1, 6))
    with pytest.raises(ValueError, match=r"padding=2 must be at most half the kernel_size.*3 // 2 = 1"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1, got 0"):
        F.avg_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"max_pool2d: x must have 4 axes \(N, C, H, W\), got shape \(4, 4\)"):
        F.max_pool2d(mf.Tensor(to_xp(np.zeros((4, 4), np.float32), device)), 2)
    with pytest.raises(ValueError, match=r"output_size\[1\] must be an integer >= 1, got 0"):
        F.adaptive_avg_pool2d(x, (1, 0))


def test_bad_unpooling_arguments(device):
    y, idx = F.max_pool2d(image(LECTURE_4x4, device), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"indices have shape \(1, 1, 2, 3\) but x has shape \(1, 1, 2, 2\)"):
        F.max_unpool2d(y, mf.Tensor(to_xp(np.zeros((1, 1, 2, 3), np.int64), device)), 2)
    with pytest.raises(TypeError, match=r"indices must be integers .*got float32"):
        F.max_unpool2d(y, y, 2)
    with pytest.raises(ValueError, match=r"indices must lie in 0\.\.3 .*2x2 output plane.*from 2 to 15"):
        F.max_unpool2d(y, idx, 1)
    with pytest.raises(ValueError, match=r"output_size=\(6, 4\) cannot come from this pooling: H = 6 does not "
                                         r"pool to 2 with kernel_size=2, stride=2, padding=0; H must be in 3\.\.5"):
        F.max_unpool2d(y, idx, 2, output_size=(6, 4))
    with pytest.raises(ValueError, match=r"output_size must be \(H, W\) or \(N, C, H, W\), got \(4,\)"):
        F.max_unpool2d(y, idx, 2, output_size=(4,))
    with pytest.raises(ValueError, match=r"scale must be an integer >= 1, got 0"):
        F.unpool_nearest(y, 0)
    with pytest.raises(ValueError, match=r"scale\[1\] must be an integer >= 1, got 0"):
        F.unpool_bed_of_nails(y, (2, 0))
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(ValueError, match=r"different devices"):
        F.max_unpool2d(y, idx.to(other), 2)


def test_bad_interpolate_arguments(device):
    x = image([[1, 2], [3, 4]], device)
    with pytest.raises(ValueError, match=r"exactly one of size and scale_factor, got size=None and scale_factor=None"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"exactly one of size and scale_factor, got size=4 and scale_factor=2"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match=r"mode='bicubic' is not supported; use one of \('nearest', 'bilinear'\)"):
        F.interpolate(x, size=4, mode="bicubic")
    with pytest.raises(ValueError, match=r"align_corners=True only applies to mode='bilinear'"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(ValueError, match=r"scale_factor must be a positive number .*got -2"):
        F.interpolate(x, scale_factor=-2)
    with pytest.raises(ValueError, match=r"scale_factor=0.4 turns an input of size \(2, 2\) into \(0, 0\)"):
        F.interpolate(x, scale_factor=0.4)
    with pytest.raises(ValueError, match=r"size\[0\] must be an integer >= 1, got 0"):
        F.interpolate(x, size=(0, 3))


def test_bad_bilinear_kernel_arguments():
    with pytest.raises(ValueError, match=r"in_channels=2 and out_channels=3 must be equal"):
        F.bilinear_kernel(2, 3, 2)
    with pytest.raises(ValueError, match=r"scale must be an integer >= 1, got 0"):
        F.bilinear_kernel(2, 2, 0)


@settings(max_examples=40)
@given(h=st.integers(2, 9), w=st.integers(2, 9), seed=seeds,
       values=st.sampled_from(["separated", "finite ties", "ties", "nan"]), planes=st.integers(1, 7))
@example(h=5, w=3, seed=0, values="ties", planes=7)
@example(h=4, w=4, seed=1, values="finite ties", planes=1)
@example(h=5, w=6, seed=2, values="nan", planes=2)
def test_max_pool_2x2_cpu_path_matches_naive_loop_and_readable_path(device, monkeypatch, h, w, seed, values, planes):
    """The four-view path (CPU, 2x2/2) against a naive loop (values, PyTorch's indices with ties
    and -inf) and against the general loop (fast_2x2 off) for the gradient; odd sides leave a
    row or column that no window reads (its gradient must stay 0). Blocks of ``planes`` planes
    on three threads, so that one call mixes blocks that take the pairs (finite) and blocks that
    take the scan (NaN or ±inf), in the values and in the output gradient."""
    from minifcn.functional import fastconv, pool
    monkeypatch.setattr(fastconv, "block_bytes", planes * h * w)     # bool scratch: 1 byte per pixel
    monkeypatch.setattr(fastconv, "threads", 3)
    monkeypatch.setattr(fastconv, "parallel_from", 0)
    rng = np.random.default_rng(seed)
    shape = (2, 3, h, w)
    if values == "separated":
        x = separated_values(rng, shape)
    else:
        x = rng.choice([-np.inf, 0.0, 1.0, 2.0] if values != "finite ties" else [0.0, 1.0, 2.0], shape)
        if values == "nan":
            x[rng.random(shape) < 0.2] = np.nan
    g = rng.standard_normal((2, 3, h // 2, w // 2))
    if values == "nan":
        g[rng.random(g.shape) < 0.2] = rng.choice([np.nan, np.inf, -np.inf])
    got, calls = [], []
    real = pool._max_2x2
    monkeypatch.setattr(pool, "_max_2x2", lambda *a: calls.append(1) or real(*a))
    for fast in (True, False):
        monkeypatch.setattr(pool, "fast_2x2", fast)
        t = leaf(x, device)
        y, idx = F.max_pool2d(t, 2, return_indices=True)
        assert len(calls) == (device == "cpu")            # the four-view path runs on the CPU only, when on
        y.backward(to_xp(g, device))
        got.append((y.numpy(), idx.numpy(), backend.to_numpy(t.grad)))
        n = len(calls)
        y_alone = F.max_pool2d(leaf(x, device), 2)       # without indices (none built on the CPU path)
        np.testing.assert_array_equal(y_alone.numpy(), got[-1][0])
        del calls[n:]
    if values != "nan":
        y_ref, idx_ref = naive_max_pool(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
        np.testing.assert_array_equal(got[0][0], y_ref)
        np.testing.assert_array_equal(got[0][1], idx_ref)
    for a, b in zip(got[0], got[1]):
        np.testing.assert_array_equal(a, b)
    assert not got[0][2][:, :, 2 * (h // 2):].any() and not got[0][2][:, :, :, 2 * (w // 2):].any()
