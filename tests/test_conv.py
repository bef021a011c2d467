"""Convolution family: im2col/col2im, conv2d, conv_transpose2d, conv_matrix.

Expected values come from mathematics, from SciPy (scipy.signal.correlate, independent of
im2col), from naive loops written here, or are worked out by hand in the comments.
"""
import numpy as np
import pytest
import scipy.signal
from hypothesis import example, given, settings, strategies as st

import minifcn as mf
from conftest import to_xp
from minifcn import arith, backend
from minifcn.functional import conv as conv_module
from minifcn.functional import conv2d, conv_transpose2d
from minifcn.functional import conv_fast, fastconv
from minifcn.functional.conv import conv2d_simple, conv_transpose2d_simple
from minifcn.functional.im2col import col2im, im2col
from strategies import leaf, seeds


# ---- strategies: valid hyperparameters built directly, never filtered ---------------------
@st.composite
def conv_cases(draw, transposed=False, max_k=3, max_s=3, max_d=2, max_p=2, extra=2, max_mult=2):
    """(shapes, hyperparameters) of a valid conv2d or conv_transpose2d call.

    Per axis: draw k, d, s, p (and output_padding a < max(s, d)), then the input size from
    the smallest that gives an output >= 1 up to ``extra`` more.
    """
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in, c_out = groups * draw(st.integers(1, max_mult)), groups * draw(st.integers(1, max_mult))
    k, s, p, d, a, size = [], [], [], [], [], []
    for _ in range(2):
        kk, dd, ss, pp = (draw(st.integers(1, max_k)), draw(st.integers(1, max_d)),
                          draw(st.integers(1, max_s)), draw(st.integers(0, max_p)))
        k_eff = dd * (kk - 1) + 1
        if transposed:  # o' = (i - 1)s - 2p + k_eff + a >= 1
            aa = draw(st.integers(0, max(ss, dd) - 1))
            lo = max(1, 1 - (-(2 * pp - k_eff - aa + 1) // ss))
        else:           # o = floor((i + 2p - k_eff)/s) + 1 >= 1
            aa, lo = 0, max(1, k_eff - 2 * pp)
        k.append(kk), s.append(ss), p.append(pp), d.append(dd), a.append(aa)
        size.append(lo + draw(st.integers(0, extra)))
    hyper = dict(stride=tuple(s), padding=tuple(p), dilation=tuple(d), groups=groups)
    if transposed:
        hyper["output_padding"] = tuple(a)
        w_shape = (c_in, c_out // groups) + tuple(k)
    else:
        w_shape = (c_out, c_in // groups) + tuple(k)
    x_shape = (draw(st.integers(1, 2)), c_in) + tuple(size)
    return x_shape, w_shape, c_out, hyper


# Cases every hypothesis test runs besides its drawn ones (25 drawn examples may miss a
# corner): groups with several channels per group on both sides, depthwise with a channel
# multiplier, and stride, padding, dilation, output_padding different along H and W.
CONV_EXAMPLES = [
    ((2, 4, 5, 6), (6, 2, 3, 2), 6, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ((1, 3, 4, 4), (6, 1, 3, 3), 6, dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=3)),
    # edges: a 1x1 input whose one dilated window holds padding only; stride > kernel with
    # dilation 3 and padding; a 1x1 input, 1x1 kernel, stride 2
    ((1, 2, 1, 1), (2, 2, 2, 2), 2, dict(stride=(1, 1), padding=(1, 1), dilation=(2, 2), groups=1)),
    ((2, 2, 5, 4), (2, 1, 2, 1), 2, dict(stride=(3, 4), padding=(2, 0), dilation=(3, 1), groups=2)),
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, dict(stride=(2, 2), padding=(0, 0), dilation=(1, 1), groups=1)),
]
CONV_T_EXAMPLES = [
    ((2, 4, 3, 2), (4, 3, 3, 2), 6, dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2), groups=2,
                                         output_padding=(1, 2))),
    ((1, 3, 3, 3), (3, 2, 2, 2), 6, dict(stride=(2, 2), padding=(0, 0), dilation=(1, 1), groups=3,
                                         output_padding=(1, 1))),
    # edges: a 1x1 input, 1x1 kernel, stride > kernel with output_padding; dilation 2 with padding
    ((1, 2, 1, 1), (2, 1, 1, 1), 1, dict(stride=(3, 2), padding=(0, 0), dilation=(1, 1), groups=1,
                                         output_padding=(2, 1))),
    ((1, 1, 2, 2), (1, 1, 2, 2), 1, dict(stride=(1, 1), padding=(1, 1), dilation=(2, 2), groups=1,
                                         output_padding=(1, 0))),
]


def with_examples(transposed=False, seed=True):
    """Add the fixed corner cases above to a hypothesis test."""
    def decorate(test):
        for case in CONV_T_EXAMPLES if transposed else CONV_EXAMPLES:
            test = example(case=case, seed=1)(test) if seed else example(case=case)(test)
        return test
    return decorate


def _tensors(rng, device, x_shape, w_shape, c_out):
    return (leaf(rng.standard_normal(x_shape), device), leaf(rng.standard_normal(w_shape), device),
            leaf(rng.standard_normal(c_out), device))


def host(t):
    return backend.to_numpy(t.data if isinstance(t, mf.Tensor) else t)


# ---- an independent reference: SciPy, one 2-D correlation per channel pair ----------------
def reference_conv2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """Zero-pad, correlate each input plane with the zero-inserted (dilated) kernel, keep
    every stride-th output. Shares no code with minifcn."""
    N, C, H, W = x.shape
    C_out, Cg, KH, KW = w.shape
    (SH, SW), (DH, DW) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    wd = np.zeros((C_out, Cg, DH * (KH - 1) + 1, DW * (KW - 1) + 1))
    wd[:, :, ::DH, ::DW] = w                              # holes between the taps
    out = []
    for n in range(N):
        planes = []
        for o in range(C_out):
            first = o // (C_out // groups) * Cg           # first input channel of o's group
            acc = sum(scipy.signal.correlate(xp[n, first + c], wd[o, c], mode="valid") for c in range(Cg))
            planes.append(acc[::SH, ::SW] + (0 if b is None else b[o]))
        out.append(planes)
    return np.array(out)


def sym(p):
    return ((p[0], p[0]), (p[1], p[1]))


# ---- im2col / col2im ----------------------------------------------------------------------
@settings(max_examples=100)
@given(case=conv_cases(), seed=seeds)
@with_examples()
def test_im2col_matches_its_definition_and_col2im_is_its_adjoint(device, case, seed):
    (N, C, H, W), (_, _, KH, KW), _, hyper = case
    s, p, d = hyper["stride"], hyper["padding"], hyper["dilation"]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    cols = im2col(to_xp(x, device), (KH, KW), s, sym(p), d)
    OH, OW = (arith.conv_output_size(H, KH, s[0], p[0], d[0]), arith.conv_output_size(W, KW, s[1], p[1], d[1]))
    assert cols.shape == (C * KH * KW, N * OH * OW)
    # cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh*SH + i*DH, ow*SW + j*DW], by loops
    xpad = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    expect = np.empty((C, KH, KW, N, OH, OW))
    for c, i, j, n, oh, ow in np.ndindex(expect.shape):
        expect[c, i, j, n, oh, ow] = xpad[n, c, oh * s[0] + i * d[0], ow * s[1] + j * d[1]]
    np.testing.assert_array_equal(host(cols), expect.reshape(cols.shape))
    # <im2col(x), c> == <x, col2im(c)>
    c = rng.standard_normal(cols.shape)
    back = col2im(to_xp(c, device), x.shape, (KH, KW), s, sym(p), d)
    assert back.shape == x.shape
    np.testing.assert_allclose((expect.reshape(cols.shape) * c).sum(), (x * host(back)).sum(), rtol=1e-10)


# ---- gradients ----------------------------------------------------------------------------
@settings(max_examples=50)
@given(case=conv_cases(), seed=seeds)
@with_examples()
def test_conv2d_gradients(device, case, seed):
    x_shape, w_shape, c_out, hyper = case
    x, w, b = _tensors(np.random.default_rng(seed), device, x_shape, w_shape, c_out)
    mf.gradcheck(lambda x, w, b: conv2d(x, w, b, **hyper), x, w, b)


@settings(max_examples=50)
@given(case=conv_cases(transposed=True), seed=seeds)
@with_examples(transposed=True)
def test_conv_transpose2d_gradients(device, case, seed):
    x_shape, w_shape, c_out, hyper = case
    x, w, b = _tensors(np.random.default_rng(seed), device, x_shape, w_shape, c_out)
    mf.gradcheck(lambda x, w, b: conv_transpose2d(x, w, b, **hyper), x, w, b)


@pytest.mark.parametrize("kernel, dilation", [((2, 4), (1, 1)), ((3, 2), (2, 3))])
def test_same_padding_gradients_with_even_effective_kernels(device, kernel, dilation):
    rng = np.random.default_rng(0)
    x, w, b = _tensors(rng, device, (1, 2, 5, 4), (3, 2) + kernel, 3)
    mf.gradcheck(lambda x, w, b: conv2d(x, w, b, padding="same", dilation=dilation), x, w, b)


def test_gradient_only_for_what_requires_it(device):
    rng = np.random.default_rng(1)
    x = leaf(rng.standard_normal((2, 3, 5, 5)), device, requires_grad=False)
    w = leaf(rng.standard_normal((4, 3, 3, 3)), device)
    conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)


# ---- shapes -------------------------------------------------------------------------------
@settings(max_examples=200)
@given(case=conv_cases(max_k=5, max_s=4, max_d=3, max_p=3, extra=4, max_mult=1))
@with_examples(seed=False)
def test_shapes_follow_arith(device, case):
    (N, C, H, W), (_, _, KH, KW), c_out, hyper = case
    s, p, d = hyper["stride"], hyper["padding"], hyper["dilation"]
    x = mf.tensor(np.zeros((N, C, H, W)), device=device)
    w = mf.tensor(np.zeros((c_out, C // hyper["groups"], KH, KW)), device=device)
    y = conv2d(x, w, **hyper)
    OH = arith.conv_output_size(H, KH, s[0], p[0], d[0])
    OW = arith.conv_output_size(W, KW, s[1], p[1], d[1])
    assert y.shape == (N, c_out, OH, OW)
    # the transposed convolution maps OH back to H for the output_padding the stride skipped
    a = ((H + 2 * p[0] - d[0] * (KH - 1) - 1) % s[0], (W + 2 * p[1] - d[1] * (KW - 1) - 1) % s[1])
    wt = mf.tensor(np.zeros((c_out, C // hyper["groups"], KH, KW)), device=device)
    z = conv_transpose2d(y, wt, output_padding=a, **hyper)
    assert z.shape == (N, C, H, W)
    assert z.shape[2:] == (arith.conv_transpose_output_size(OH, KH, s[0], p[0], a[0], d[0]),
                           arith.conv_transpose_output_size(OW, KW, s[1], p[1], a[1], d[1]))


@settings(max_examples=200)
@given(case=conv_cases(transposed=True, max_k=5, max_s=4, max_d=3, max_p=3, extra=4, max_mult=1))
@with_examples(transposed=True, seed=False)
def test_transposed_shapes_follow_arith(device, case):
    (N, C, H, W), (_, c_g, KH, KW), c_out, hyper = case
    s, p, d, a = hyper["stride"], hyper["padding"], hyper["dilation"], hyper["output_padding"]
    x = mf.tensor(np.zeros((N, C, H, W)), device=device)
    y = conv_transpose2d(x, mf.tensor(np.zeros((C, c_g, KH, KW)), device=device), **hyper)
    assert y.shape == (N, c_out, arith.conv_transpose_output_size(H, KH, s[0], p[0], a[0], d[0]),
                       arith.conv_transpose_output_size(W, KW, s[1], p[1], a[1], d[1]))


@pytest.mark.parametrize("k, d", [(1, 1), (2, 1), (3, 1), (4, 1), (3, 2), (2, 3)])
def test_same_padding_keeps_the_size_and_pads_the_extra_zero_last(device, k, d):
    rng = np.random.default_rng(k * 10 + d)
    x, w = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((3, 2, k, k))
    y = conv2d(mf.tensor(x, device=device), mf.tensor(w, device=device), padding="same", dilation=d)
    total = d * (k - 1)                     # PyTorch: the odd zero goes to the bottom / right
    pads = ((total // 2, total - total // 2),) * 2
    assert y.shape == (1, 3, 6, 5)
    np.testing.assert_allclose(host(y), reference_conv2d(x, w, pads=pads, dilation=(d, d)), atol=1e-12)
    valid = conv2d(mf.tensor(x, device=device), mf.tensor(w, device=device), padding="valid", dilation=d)
    np.testing.assert_allclose(host(valid), reference_conv2d(x, w, dilation=(d, d)), atol=1e-12)


# ---- against independent references -------------------------------------------------------
@settings(max_examples=100)
@given(case=conv_cases(max_k=4, max_d=3, extra=3), seed=seeds)
@with_examples()
def test_conv2d_matches_scipy_correlate(device, case, seed):
    x_shape, w_shape, c_out, hyper = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(c_out)
    y = conv2d(*(mf.tensor(a, device=device) for a in (x, w, b)), **hyper)
    expect = reference_conv2d(x, w, b, hyper["stride"], sym(hyper["padding"]), hyper["dilation"], hyper["groups"])
    np.testing.assert_allclose(host(y), expect, atol=1e-12)


def test_depthwise_convolution_filters_each_channel_alone(device):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((4, 1, 3, 3))
    y = conv2d(mf.tensor(x, device=device), mf.tensor(w, device=device), padding=1, groups=4)
    for c in range(4):
        plane = np.pad(x[:, c], ((0, 0), (1, 1), (1, 1)))
        np.testing.assert_allclose(host(y)[:, c], [scipy.signal.correlate(q, w[c, 0], mode="valid") for q in plane],
                                   atol=1e-12)


@settings(max_examples=100)
@given(case=conv_cases(), seed=seeds)
@with_examples()
def test_adjoint_identity(device, case, seed):
    """<conv2d(x), y> == <x, conv_transpose2d(y)> for the same weight: 𝒞ᵀ really is the transpose."""
    (N, C, H, W), w_shape, _, hyper = case
    s, p, d, (KH, KW) = hyper["stride"], hyper["padding"], hyper["dilation"], w_shape[2:]
    a = ((H + 2 * p[0] - d[0] * (KH - 1) - 1) % s[0], (W + 2 * p[1] - d[1] * (KW - 1) - 1) % s[1])
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((N, C, H, W)), mf.tensor(rng.standard_normal(w_shape), device=device)
    cx = conv2d(mf.tensor(x, device=device), w, **hyper)
    y = rng.standard_normal(cx.shape)
    cty = conv_transpose2d(mf.tensor(y, device=device), w, output_padding=a, **hyper)
    np.testing.assert_allclose((host(cx) * y).sum(), (x * host(cty)).sum(), rtol=1e-10, atol=1e-10)


@given(case=conv_cases(), seed=seeds)
@with_examples()
def test_conv_matrix_reproduces_both_ops(device, case, seed):
    (_, C, H, W), w_shape, _, hyper = case
    s, p, d, (KH, KW) = hyper["stride"], hyper["padding"], hyper["dilation"], w_shape[2:]
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((1, C, H, W)), mf.tensor(rng.standard_normal(w_shape), device=device)
    Cm = mf.conv_matrix(w, (H, W), s, p, d, groups=hyper["groups"])
    y = conv2d(mf.tensor(x, device=device), w, **hyper)
    np.testing.assert_allclose(host(Cm) @ x.ravel(), host(y).ravel(), atol=1e-12)
    a = ((H + 2 * p[0] - d[0] * (KH - 1) - 1) % s[0], (W + 2 * p[1] - d[1] * (KW - 1) - 1) % s[1])
    g = rng.standard_normal(y.shape)
    z = conv_transpose2d(mf.tensor(g, device=device), w, output_padding=a, **hyper)
    np.testing.assert_allclose(host(Cm).T @ g.ravel(), host(z).ravel(), atol=1e-12)
    sparse = mf.conv_matrix(host(w), (H, W), s, p, d, groups=hyper["groups"], sparse=True)
    np.testing.assert_array_equal(sparse.toarray(), host(Cm))


def test_conv_matrix_1d_by_hand():
    # the kernel slides one step per row: a band (Toeplitz) matrix
    np.testing.assert_array_equal(mf.conv_matrix_1d([1, 2, 3], 4), [[1, 2, 3, 0], [0, 1, 2, 3]])
    # stride 2, padding 1: windows start at -1, 1, 3 of a 5-long input; the tap at -1 falls in the padding
    np.testing.assert_array_equal(mf.conv_matrix_1d([1, 2], 5, stride=2, padding=1),
                                  [[2, 0, 0, 0, 0], [0, 1, 2, 0, 0], [0, 0, 0, 1, 2]])
    # dilation 2: the taps of [1, 2] sit two apart
    np.testing.assert_array_equal(mf.conv_matrix_1d([1, 2], 4, dilation=2), [[1, 0, 2, 0], [0, 1, 0, 2]])


# ---- transposed convolution worked out by hand --------------------------------------------
def _convT(x, w, device, **kw):
    out = conv_transpose2d(mf.tensor(np.array(x, float)[None, None], device=device),
                           mf.tensor(np.array(w, float)[None, None], device=device), **kw)
    return host(out)[0, 0]


def test_transposed_convolution_by_hand(device):
    x = [[1, 2], [3, 4]]
    # stride 1: each input pixel stamps value * kernel at its own position; overlaps add.
    # With a kernel of ones the centre collects all four: 1 + 2 + 3 + 4 = 10.
    np.testing.assert_array_equal(_convT(x, [[1, 1], [1, 1]], device), [[1, 3, 2], [4, 10, 6], [3, 7, 4]])
    # kernel [[1, 2], [3, 4]], stride 1: out[1, 1] = 1*4 + 2*3 + 3*2 + 4*1 = 20, out[1, 2] = 2*4 + 4*2 = 16
    np.testing.assert_array_equal(_convT(x, [[1, 2], [3, 4]], device), [[1, 4, 4], [6, 20, 16], [9, 24, 16]])
    # stride 2: the stamps no longer overlap; block (i, j) is x[i, j] * kernel
    np.testing.assert_array_equal(_convT(x, [[1, 2], [3, 4]], device, stride=2),
                                  [[1, 2, 2, 4], [3, 4, 6, 8], [3, 6, 4, 8], [9, 12, 12, 16]])
    # the lecture's 2x2 -> 4x4: 3x3 kernel of ones, stride 2, padding 1, output_padding 1.
    # The 3x3 stamps of input rows 0 and 1 cover canvas rows 0-2 and 2-4; padding 1 drops
    # canvas row 0, output_padding keeps row 4. Output rows see input rows {0}, {0,1}, {1}, {1}
    # (columns alike), and each output pixel sums the inputs it sees.
    np.testing.assert_array_equal(_convT(x, np.ones((3, 3)), device, stride=2, padding=1, output_padding=1),
                                  [[1, 3, 2, 2], [4, 10, 6, 6], [3, 7, 4, 4], [3, 7, 4, 4]])


def test_transposed_convolution_is_not_an_inverse(device):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 4, 4))
    w = mf.tensor(rng.standard_normal((1, 1, 3, 3)), device=device)
    y = conv2d(mf.tensor(x, device=device), w, stride=2, padding=1)
    z = conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)
    assert z.shape == x.shape                       # the shape comes back ...
    assert not np.allclose(host(z), x, atol=0.1)    # ... the values do not: z = CᵀC x, not x
    Cm = host(mf.conv_matrix(w, 4, stride=2, padding=1))
    np.testing.assert_allclose(host(z).ravel(), Cm.T @ Cm @ x.ravel(), atol=1e-12)
    assert np.linalg.matrix_rank(Cm.T @ Cm) == 4    # rank 4 < 16: no matrix could undo C


# ---- simple (autograd-composed) form == fused form; chunked == unchunked ------------------
def _values_and_grads(op, device, x_shape, w_shape, c_out, hyper, seed):
    rng = np.random.default_rng(seed)
    x, w, b = _tensors(rng, device, x_shape, w_shape, c_out)
    y = op(x, w, b, **hyper)
    y.backward(to_xp(rng.standard_normal(y.shape), device))
    return [host(t) for t in (y, x.grad, w.grad, b.grad)]


@given(case=conv_cases(), seed=seeds)
@with_examples()
def test_simple_conv2d_equals_fused(device, case, seed):
    for fused, simple in zip(_values_and_grads(conv2d, device, *case, seed),
                             _values_and_grads(conv2d_simple, device, *case, seed)):
        np.testing.assert_allclose(simple, fused, rtol=1e-12, atol=1e-12)


@given(case=conv_cases(transposed=True), seed=seeds)
@with_examples(transposed=True)
def test_simple_conv_transpose2d_equals_fused(device, case, seed):
    for fused, simple in zip(_values_and_grads(conv_transpose2d, device, *case, seed),
                             _values_and_grads(conv_transpose2d_simple, device, *case, seed)):
        np.testing.assert_allclose(simple, fused, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op, w_shape", [(conv2d, (4, 3, 3, 3)), (conv_transpose2d, (3, 4, 3, 3))])
def test_chunked_equals_unchunked(device, monkeypatch, op, w_shape):
    case = ((5, 3, 7, 6), w_shape, 4, dict(stride=2, padding=1))
    whole = _values_and_grads(op, device, *case, seed=7)
    monkeypatch.setattr(conv_fast, "workspace_limit", 1)         # one image per chunk
    conv_fast.reset_workspace_peak()
    chunked = _values_and_grads(op, device, *case, seed=7)
    # columns of one image, C·KH·KW x OH·OW float64: conv2d 3·9 x 4·3; the transposed op's
    # convolution runs on its 4-channel 7x6 output
    one_image = (3 * 9 * 4 * 3 if op is conv2d else 4 * 9 * 7 * 6) * 8
    assert conv_fast.workspace_peak == one_image
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


# ---- the fast path (conv_fast.py) == the readable products (conv.py) -----------------------
@given(case=conv_cases(), seed=seeds, chunked=st.booleans(), keep=st.booleans())
@example(case=CONV_EXAMPLES[0], seed=1, chunked=True, keep=True)
@example(case=CONV_EXAMPLES[1], seed=1, chunked=False, keep=True)
def test_fast_products_equal_the_readable_ones(device, case, seed, chunked, keep):
    x_shape, w_shape, c_out, hyper = case
    rng = np.random.default_rng(seed)
    x, w = to_xp(rng.standard_normal(x_shape), device), to_xp(rng.standard_normal(w_shape), device)
    geo = conv_module.conv2d_geometry(x, w, None, **hyper)
    g = to_xp(rng.standard_normal((x_shape[0], c_out) + geo.out_size), device)
    limit = conv_fast.workspace_limit
    conv_fast.workspace_limit = 1 if chunked else limit           # 1: one image per chunk
    try:
        y_fast, cols_fast = conv_fast.convolve(x, w, geo, keep_cols=keep)
        adjoint_fast = conv_fast.convolve_adjoint(g, w, geo)
        wgrad_fast = conv_fast.weight_grad(x, g, w, geo, cols_fast), conv_fast.weight_grad(x, g, w, geo)
    finally:
        conv_fast.workspace_limit = limit
    im2col_path = fastconv.choose("convolve", x, w, geo) is None   # fastconv's paths keep no columns
    assert (cols_fast is not None) == (keep and im2col_path and (not chunked or x_shape[0] == 1))
    y_read, cols_read = conv_module.convolve(x, w, geo, keep_cols=keep)
    assert (cols_read is not None) == keep
    if cols_fast is not None:
        np.testing.assert_array_equal(host(cols_fast), host(cols_read))
    pairs = [(y_fast, y_read),
             (adjoint_fast, conv_module.convolve_adjoint(g, w, geo)),
             (wgrad_fast[0], conv_module.weight_grad(x, g, w, geo)),
             (wgrad_fast[1], conv_module.weight_grad(x, g, w, geo, cols_read))]
    for fast, readable in pairs:
        assert fast.shape == readable.shape
        np.testing.assert_allclose(host(fast), host(readable), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("op, w_shape", [(conv2d, (4, 2, 3, 3)), (conv_transpose2d, (4, 3, 3, 3))])
def test_layers_give_the_same_results_on_either_path(device, monkeypatch, op, w_shape):
    case = ((2, 4, 7, 6), w_shape, 4 if op is conv2d else 6, dict(stride=2, padding=1, groups=2))
    fast = _values_and_grads(op, device, *case, seed=3)
    monkeypatch.setattr(conv_module, "use_fast_path", False)
    readable = _values_and_grads(op, device, *case, seed=3)
    for a, b in zip(fast, readable):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)


# ---- bad input ----------------------------------------------------------------------------
def test_bad_input_messages(device):
    t = lambda *shape: mf.tensor(np.zeros(shape), device=device)  # noqa: E731
    with pytest.raises(ValueError, match=r"conv2d: along H \(input size 3\): kernel_size=5 .*padded input "
                                         r"3 \+ 2\*0 = 3: output size floor\(\(3 \+ 2\*0 - 1\*\(5-1\) - 1\)/1\) "
                                         r"\+ 1 = -1 < 1"):
        conv2d(t(1, 1, 3, 8), t(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"x has C_in = 3 channels but weight of shape \(4, 2, 3, 3\) with "
                                         r"groups=1 expects weight.shape\[1\]\*groups = 2\*1 = 2"):
        conv2d(t(1, 3, 5, 5), t(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"groups=2 must divide the input channels C_in = x.shape\[1\] = 3"):
        conv2d(t(1, 3, 5, 5), t(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"groups=2 must divide the output channels C_out = weight.shape\[0\] = 3"):
        conv2d(t(1, 4, 5, 5), t(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"output_padding=2 must be smaller than max\(stride, dilation\) = "
                                         r"max\(2, 1\) = 2"):
        conv_transpose2d(t(1, 2, 3, 3), t(2, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"conv2d: x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\); add a batch"):
        conv2d(t(3, 5, 5), t(1, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: weight must be 4-D \(C_in, C_out/groups, KH, KW\), "
                                         r"got shape \(2, 3, 3\)"):
        conv_transpose2d(t(1, 2, 5, 5), t(2, 3, 3))
    with pytest.raises(ValueError, match=r"padding='same' needs stride=1, got stride=2"):
        conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding must be an int, a pair \(PH, PW\), 'valid' or 'same', got 'full'"):
        conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), padding="full")
    with pytest.raises(ValueError, match=r"conv_transpose2d: x has C_in = 3 channels but weight of shape "
                                         r"\(2, 1, 3, 3\) expects weight.shape\[0\] = 2"):
        conv_transpose2d(t(1, 3, 5, 5), t(2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: along W \(input size 1\): padding=2 crops more"):
        conv_transpose2d(t(1, 1, 5, 1), t(1, 1, 3, 3), padding=(0, 2))
    with pytest.raises(ValueError, match=r"bias must have shape \(C_out,\) = \(4,\), got \(3,\)"):
        conv2d(t(1, 3, 5, 5), t(4, 3, 3, 3), t(3))
    with pytest.raises(TypeError, match=r"x \(float32\) and weight \(float64\) need one floating dtype"):
        conv2d(mf.tensor(np.zeros((1, 1, 3, 3), np.float32), device=device), t(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"stride\[1\] must be an integer >= 1, got 0"):
        conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), stride=(1, 0))


def test_mixed_devices_are_refused():
    x, w = mf.tensor(np.zeros((1, 1, 5, 5))), mf.tensor(np.zeros((1, 1, 3, 3)), device="cuda")
    with pytest.raises(ValueError, match=r"Conv2d got inputs on different devices: cpu and cuda"):
        conv2d(x, w)
    with pytest.raises(ValueError, match=r"ConvTranspose2d got inputs on different devices: cpu and cuda"):
        conv_transpose2d(x, w)


def test_conv_matrix_refuses_a_huge_dense_matrix():
    with pytest.raises(ValueError, match=r"dense matrix would be 4096 x 4096 float64 = 128.0 MiB, over max_mib=1;"
                                         r".*sparse=True"):
        mf.conv_matrix(np.ones((1, 1, 3, 3)), 64, padding=1, max_mib=1)
    # per axis 3 taps x 64 outputs, less the two that fall into the padding
    assert mf.conv_matrix(np.ones((1, 1, 3, 3)), 64, padding=1, sparse=True).nnz == (3 * 64 - 2) ** 2
