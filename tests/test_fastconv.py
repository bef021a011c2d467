"""The fast convolution paths (minifcn/functional/fastconv.py) against the readable reference.

The reference is conv2d_simple / conv_transpose2d_simple: im2col + matmul (+ col2im)
differentiated by autograd, which never calls fastconv. Its forward value and its gradients
are the three products the fast paths replace:

    conv2d:            y = convolve(x, w);    dx = convolve_adjoint(g, w);  dW = weight_grad(x, g)
    conv_transpose2d:  y = convolve_adjoint(x, w);   dx = convolve(g, w);   dW = weight_grad(g, x)

so drawing both layers covers all three functions, including the cropped geometries of a
transposed convolution with output_padding. Every case is also checked to take the path it
is meant to exercise (on the CPU "shifted" for every stride-1 dense or grouped convolution,
"depthwise" for groups = C_in = C_out; on the strict CuPy stand-in the shifted path must step
aside and the depthwise one must run). The fixture ``eager`` lowers the channel threshold and
the GEMM tile size so that tiny, fast shapes still take the fast paths with several tiles
and uneven thread splits.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import minifcn as mf
from conftest import to_xp
from minifcn import backend
from minifcn.functional import conv2d, conv_fast, conv_transpose2d, fastconv
from minifcn.functional.conv import (conv2d_geometry, conv2d_simple, conv_transpose2d_geometry,
                                     conv_transpose2d_simple)


@pytest.fixture
def eager(monkeypatch):
    """Fast paths for every channel count, tiles of 7+ columns, sums split from 5 columns, depthwise
    blocks of a few planes (flat planes at stride 1 whatever the padding), three threads."""
    monkeypatch.setattr(fastconv, "enabled", True)
    monkeypatch.setattr(fastconv, "min_channels", 1)
    monkeypatch.setattr(fastconv, "tile_bytes", 256)
    monkeypatch.setattr(fastconv, "min_tile", 7)
    monkeypatch.setattr(fastconv, "min_split", 5)
    monkeypatch.setattr(fastconv, "wgrad_tile", 7)
    monkeypatch.setattr(fastconv, "wgrad_bytes", 8)
    monkeypatch.setattr(fastconv, "block_bytes", 40)
    monkeypatch.setattr(fastconv, "flat_slack", 100)
    monkeypatch.setattr(fastconv, "threads", 3)
    monkeypatch.setattr(fastconv, "parallel_from", 0)


@st.composite
def cases(draw, transposed=False):
    """A valid conv2d / conv_transpose2d call: (x shape, w shape, kwargs), odd sizes included."""
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    groups = {"dense": 1, "grouped": draw(st.integers(2, 3)), "depthwise": draw(st.integers(1, 5))}[kind]
    if kind == "depthwise":
        c_in = c_out = groups
    else:
        c_in, c_out = groups * draw(st.integers(1, 4)), groups * draw(st.integers(1, 4))
    # the shifted path needs stride 1; depthwise takes any stride
    stride = (1, 1) if kind != "depthwise" or draw(st.booleans()) else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    same = not transposed and stride == (1, 1) and draw(st.booleans())   # asymmetric for even kernels
    p = "same" if same else (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    size, a = [], []
    for ax in range(2):
        k_eff = d[ax] * (k[ax] - 1) + 1
        if transposed:
            aa = draw(st.integers(0, max(stride[ax], d[ax]) - 1))
            lo = max(1, 1 - (-(2 * p[ax] - k_eff - aa + 1) // stride[ax]))
        else:
            aa, lo = 0, (1 if same else max(1, k_eff - 2 * p[ax]))
        a.append(aa)
        size.append(lo + draw(st.integers(0, 4)))
    kw = dict(stride=stride, padding=p, dilation=d, groups=groups)
    if transposed:
        kw["output_padding"] = tuple(a)
        w_shape = (c_in, c_out // groups) + k
    else:
        w_shape = (c_out, c_in // groups) + k
    return (draw(st.integers(1, 3)), c_in) + tuple(size), w_shape, kw


def expected_path(w_shape, groups, stride, device, geo=None):
    """The path conv2d's convolve and weight_grad must take (with ``eager``)."""
    if w_shape[1] == 1 and w_shape[0] == groups > 1:        # same test for both layers' weights
        return "depthwise"
    if geo is not None and w_shape[2:] == (1, 1) and tuple(stride) == (1, 1) and groups == 1 \
            and geo.padding == ((0, 0), (0, 0)) and geo.in_size == geo.out_size:
        return "pointwise"                                   # on both devices
    if device == "cpu" and geo is not None and geo.kernel == geo.stride != (1, 1) and groups == 1 \
            and geo.padding == ((0, 0), (0, 0)) and geo.dilation == (1, 1):
        return "disjoint"
    if device != "cpu" or tuple(stride) != (1, 1):
        return None
    return "shifted"


def reference(x, w, g, kw, transposed):
    """Forward value and (dx, dW) of the simple form, in float64 from the same numbers."""
    xt = mf.Tensor(np.asarray(x, np.float64), requires_grad=True)
    wt = mf.Tensor(np.asarray(w, np.float64), requires_grad=True)
    y = (conv_transpose2d_simple if transposed else conv2d_simple)(xt, wt, **kw)
    y.backward(np.asarray(g, np.float64))
    return y.data, xt.grad, wt.grad


def close(actual, desired, dtype, terms):
    """float64: to rounding; float32: to float32 rounding of a sum of ``terms`` O(1) products."""
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=2e-6 * terms)
    np.testing.assert_allclose(backend.to_numpy(actual), desired, **tol)


def check_products(case, seed, dtype, device, transposed):
    x_shape, w_shape, kw = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    geo = (conv_transpose2d_geometry if transposed else conv2d_geometry)(x, w, None, **kw)
    y_shape = (x_shape[0], w_shape[1] * kw["groups"] if transposed else w_shape[0]) + \
        tuple(geo.in_size if transposed else geo.out_size)
    g = rng.standard_normal(y_shape).astype(dtype)
    y_ref, dx_ref, dw_ref = reference(x, w, g, kw, transposed)
    X, W, Gr = (to_xp(a, device) for a in (x, w, g))
    # the convolution 𝒞 of the layer reads conv_in and writes conv_out
    conv_in, conv_out = (Gr, X) if transposed else (X, Gr)
    want = expected_path(w_shape, kw["groups"], kw["stride"], device, geo)
    assert fastconv.choose("convolve", conv_in, W, geo) == want
    assert fastconv.choose("weight_grad", conv_in, W, geo) == want
    assert fastconv.choose("adjoint", conv_out, W, geo) in ((want,) if want == "depthwise" else (want, None))
    # conv_fast asks fastconv first, and runs its im2col products where no fast path applies
    conv, adj = conv_fast.convolve(conv_in, W, geo)[0], conv_fast.convolve_adjoint(conv_out, W, geo)
    dw = conv_fast.weight_grad(conv_in, conv_out, W, geo)
    y, dx = (adj, conv) if transposed else (conv, adj)
    for a in (y, dx, dw):
        assert backend.device_of(a) == device and a.dtype == dtype
    inner = int(np.prod(w_shape[1:])) * 4
    close(y, y_ref, dtype, inner)
    close(dx, dx_ref, dtype, inner)
    close(dw, dw_ref, dtype, max(x.size, g.size))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=30)
@given(case=cases(), seed=st.integers(0, 2**16))
@example(case=((2, 6, 5, 7), (6, 1, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=6)), seed=0)
@example(case=((1, 4, 4, 5), (6, 2, 2, 3), dict(stride=(1, 1), padding="same", dilation=(2, 1), groups=2)), seed=0)
@example(case=((3, 1, 1, 1), (1, 1, 1, 1), dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)), seed=0)
@example(case=((3, 5, 4, 3), (2, 5, 1, 1), dict(stride=(1, 1), padding="same", dilation=(2, 1), groups=1)), seed=0)
@example(case=((2, 4, 3, 2), (3, 4, 1, 1), dict(stride=(1, 1), padding=(1, 0), dilation=(1, 1), groups=1)), seed=0)
def test_conv2d_products_match_reference(eager, device, dtype, case, seed):
    check_products(case, seed, dtype, device, transposed=False)


@settings(max_examples=15)
@given(case=cases(), seed=st.integers(0, 2**16))
def test_weight_grad_in_one_part_matches_reference(eager, monkeypatch, case, seed):
    """The weight gradient's sum not split between threads (``min_split`` above the work, as
    for small layers by default): one per-thread dWᵀ, no reduction over parts."""
    monkeypatch.setattr(fastconv, "min_split", 10**12)
    check_products(case, seed, np.float64, "cpu", transposed=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=20)
@given(case=cases(transposed=True), seed=st.integers(0, 2**16))
@example(case=((2, 4, 3, 4), (4, 3, 3, 2), dict(stride=(1, 1), padding=(1, 0), dilation=(2, 3), groups=2,
                                                output_padding=(1, 2))), seed=0)
@example(case=((2, 5, 3, 4), (5, 1, 3, 3), dict(stride=(2, 3), padding=(1, 0), dilation=(1, 1), groups=5,
                                                output_padding=(1, 2))), seed=0)
@example(case=((2, 4, 3, 4), (4, 3, 1, 1), dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                                                output_padding=(0, 0))), seed=0)
@example(case=((2, 4, 3, 4), (4, 3, 1, 1), dict(stride=(1, 1), padding=(0, 0), dilation=(2, 2), groups=1,
                                                output_padding=(1, 0))), seed=0)
def test_conv_transpose2d_products_match_reference(eager, device, dtype, case, seed):
    check_products(case, seed, dtype, device, transposed=True)


@st.composite
def disjoint_cases(draw, transposed=False):
    """Windows that tile the input (kernel = stride, no padding, no dilation, groups 1), with
    rows/columns no window covers (floor mode; output_padding for the transposed layer)."""
    k = draw(st.sampled_from([(1, 2), (2, 1), (2, 2), (3, 2), (2, 3), (3, 3)]))
    c_in, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    cells = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kw = dict(stride=k, padding=(0, 0), dilation=(1, 1), groups=1)
    if transposed:
        kw["output_padding"] = tuple(draw(st.integers(0, k[a] - 1)) for a in range(2))
        return (draw(st.integers(1, 3)), c_in) + cells, (c_in, c_out) + k, kw
    size = tuple(k[a] * cells[a] + draw(st.integers(0, k[a] - 1)) for a in range(2))
    return (draw(st.integers(1, 3)), c_in) + size, (c_out, c_in) + k, kw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transposed", [False, True])
@settings(max_examples=20)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_disjoint_windows_products_match_reference(eager, device, dtype, transposed, data, seed):
    """kernel = stride (U-Net's 2x2/2 transposed convolution, patchify convolutions): the
    gather/scatter path on the CPU (none on the GPU) against im2col + autograd."""
    check_products(data.draw(disjoint_cases(transposed)), seed, dtype, device, transposed)


@settings(max_examples=10)
@given(case=cases(), seed=st.integers(0, 2**16))
def test_convolve_and_adjoint_are_transposes(eager, device, case, seed):
    """<𝒞x, y> = <x, 𝒞ᵀy> and <dW, W'> = <𝒞_{W'} x, g>: the products agree with each other."""
    x_shape, w_shape, kw = case
    rng = np.random.default_rng(seed)
    x, w, w2 = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape)
    geo = conv2d_geometry(x, w, None, **kw)
    X, W, W2 = (to_xp(a, device) for a in (x, w, w2))
    y = conv_fast.convolve(X, W, geo)[0]
    g = to_xp(rng.standard_normal(y.shape), device)
    lhs = float((y * g).sum())
    rhs = float((X * conv_fast.convolve_adjoint(g, W, geo)).sum())
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs))
    lhs_w = float((conv_fast.weight_grad(X, g, W2, geo) * W2).sum())
    rhs_w = float((conv_fast.convolve(X, W2, geo)[0] * g).sum())
    assert abs(lhs_w - rhs_w) <= 1e-9 * (1 + abs(lhs_w))


@pytest.mark.parametrize("kw, w_shape", [
    (dict(padding=1, dilation=2), (5, 4, 3, 3)),                 # shifted
    (dict(padding=(1, 0), stride=(2, 1), groups=4), (4, 1, 3, 2)),   # depthwise, strided
])
def test_conv2d_gradcheck_through_fast_paths(eager, device, kw, w_shape):
    """Central differences on conv2d itself (the layer dispatches to the fast paths)."""
    rng = np.random.default_rng(0)
    x = mf.Tensor(to_xp(rng.standard_normal((2, 4, 5, 4)), device), requires_grad=True)
    w = mf.Tensor(to_xp(rng.standard_normal(w_shape), device), requires_grad=True)
    b = mf.Tensor(to_xp(rng.standard_normal(w_shape[0]), device), requires_grad=True)
    assert mf.gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), x, w, b)


def test_layers_dispatch_to_fast_paths_and_agree(eager, monkeypatch):
    """conv2d and conv_transpose2d as a student calls them: the fast paths run and agree."""
    calls = []
    for name in ("convolve", "convolve_adjoint", "weight_grad"):
        real = getattr(fastconv, name)
        monkeypatch.setattr(fastconv, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    rng = np.random.default_rng(3)
    for layer, simple, w_shape in ((conv2d, conv2d_simple, (6, 4, 3, 3)),
                                   (conv_transpose2d, conv_transpose2d_simple, (4, 6, 3, 3))):
        x = mf.Tensor(rng.standard_normal((2, 4, 6, 5)), requires_grad=True)
        w = mf.Tensor(rng.standard_normal(w_shape), requires_grad=True)
        b = mf.Tensor(rng.standard_normal(6), requires_grad=True)
        y = layer(x, w, b, padding=1)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        got = (y.data, x.grad, w.grad, b.grad)
        x.grad = w.grad = b.grad = None
        y2 = simple(x, w, b, padding=1)
        y2.backward(g)
        for a, r in zip(got, (y2.data, x.grad, w.grad, b.grad)):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)
    assert sorted(set(calls)) == ["convolve", "convolve_adjoint", "weight_grad"]


def test_without_blas_or_disabled_the_reference_runs(eager, monkeypatch):
    """No OpenBLAS found, or enabled = False: choose says None and the results stay right."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    geo = conv2d_geometry(x, w, None, padding=1)
    assert fastconv.choose("convolve", x, w, geo) == "shifted"
    fast = fastconv.convolve(x, w, geo)
    monkeypatch.setattr(fastconv, "_blas", {})
    assert fastconv.choose("convolve", x, w, geo) is None
    with pytest.raises(ValueError, match="no fast path"):
        fastconv.convolve(x, w, geo)
    np.testing.assert_allclose(conv_fast.convolve(x, w, geo)[0], fast, rtol=1e-12, atol=1e-12)
    monkeypatch.undo()
    monkeypatch.setattr(fastconv, "enabled", False)
    assert fastconv.choose("convolve", x, w, geo) is None


def test_default_threshold_keeps_few_channels_on_im2col():
    """Three input channels (an RGB stem): the shifted GEMMs would have K = 3; im2col stays."""
    x, w = np.zeros((1, 3, 8, 8), np.float32), np.zeros((64, 3, 3, 3), np.float32)
    geo = conv2d_geometry(x, w, None, padding=1)
    assert fastconv.choose("convolve", x, w, geo) is None
    x, w = np.zeros((1, 64, 8, 8), np.float32), np.zeros((64, 64, 3, 3), np.float32)
    assert fastconv.choose("convolve", x, w, conv2d_geometry(x, w, None, padding=1)) == "shifted"


def test_results_do_not_share_the_reused_grids(eager):
    """The grids are reused from call to call: what a call returns must not live in them.

    Each product's result is kept, the three products are run again on other data of the same
    shapes (which rewrites the grids), and the first results must be unchanged; then
    ``release()`` frees the grids and the products still agree with the reference.
    """
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 4, 3, 3))
    geo = conv2d_geometry(x, w, None, padding=1)
    g = rng.standard_normal((2, 6) + tuple(geo.out_size))
    assert fastconv.choose("convolve", x, w, geo) == "shifted"
    first = [fastconv.convolve(x, w, geo), fastconv.convolve_adjoint(g, w, geo), fastconv.weight_grad(x, g, geo)]
    kept = [a.copy() for a in first]
    fastconv.convolve(-x, w, geo), fastconv.convolve_adjoint(-g, w, geo), fastconv.weight_grad(-x, g, geo)
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b)
    conv_fast.release_workspace()
    assert not fastconv._buffers
    y_ref, dx_ref, dw_ref = reference(x, w, g, dict(padding=1, stride=(1, 1), dilation=(1, 1), groups=1), False)
    for a, r in zip((fastconv.convolve(x, w, geo), fastconv.convolve_adjoint(g, w, geo),
                     fastconv.weight_grad(x, g, geo)), (y_ref, dx_ref, dw_ref)):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)
