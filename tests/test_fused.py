"""Fused optimiser kernels (minifcn.kernels) against the readable updates they replace.

On "cuda" (the strict stand-in interprets each kernel's own C source; real CuPy compiles it)
the fused step must equal the readable step run on the same device and on the CPU, and make
one device call per parameter tensor.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import minifcn as mf
from conftest import REAL_GPU
from minifcn import kernels, optim

CONFIGS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd-wd": lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.01),
    "sgd-momentum-dampening": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05),
    "sgd-nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
    "adam-l2": lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
}


def run(config, device, fused, dtype, shapes, seed, steps=3):
    rng = np.random.default_rng(seed)
    params = [mf.tensor(rng.standard_normal(s).astype(dtype), device=device, requires_grad=True) for s in shapes]
    opt = CONFIGS[config](params)
    opt.fused = fused
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    for step in range(steps):
        for p, g in zip(params, grads[step]):
            p.grad = mf.backend.to_device(g, device)
        opt.step()
    state = {k: {n: mf.backend.to_numpy(v) for n, v in s.items() if n != "step"} for k, s in opt.state.items()}
    return [p.numpy() for p in params], state


@pytest.mark.parametrize("config", list(CONFIGS))
@settings(max_examples=4)
@given(shapes=st.lists(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
def test_fused_update_equals_readable_update(config, shapes, seed):
    reference, ref_state = run(config, "cpu", True, np.float64, shapes, seed)  # CPU: readable lines
    for fused in (False, True):
        got, state = run(config, "cuda", fused, np.float64, shapes, seed)
        for a, b in zip(got, reference):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        for k in ref_state:
            for n in ref_state[k]:
                np.testing.assert_allclose(state[k][n], ref_state[k][n], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("config", ["sgd-momentum-dampening", "adamw"])
def test_fused_update_keeps_float32(config):
    got, state = run(config, "cuda", True, np.float32, [(3, 4)], 0)
    ref, _ = run(config, "cpu", True, np.float32, [(3, 4)], 0)
    assert got[0].dtype == np.float32 and all(v.dtype == np.float32 for v in state[0].values())
    np.testing.assert_allclose(got[0], ref[0], rtol=2e-6, atol=1e-7)


@pytest.mark.skipif(REAL_GPU, reason="counts calls with the strict stand-in")
@pytest.mark.parametrize("config", list(CONFIGS))
def test_fused_step_is_two_calls_for_all_parameters(config):
    # every parameter has a gradient: one concatenation of the gradients + one kernel over the flat
    # arrays; the flat buffers are built on the first step only
    import strict_cupy
    params = [mf.tensor(np.ones(s, np.float32), device="cuda", requires_grad=True) for s in [(2, 3), (4,), (1, 1, 2)]]
    opt = CONFIGS[config](params)
    for step in range(3):
        for p in params:
            p.grad = p.data * 0.5
        with strict_cupy.counting() as c:
            opt.step()
        kernel_calls = sum(n for name, n in strict_cupy.by_name.items() if name.startswith("cupy.ElementwiseKernel"))
        assert kernel_calls == 1 and c["syncs"] == 0 and strict_cupy.by_name["cupy.concatenate"] >= 1
        if step == 2:
            assert c["calls"] - c["views"] == 2, strict_cupy.by_name


@pytest.mark.skipif(REAL_GPU, reason="counts calls with the strict stand-in")
def test_fused_step_is_one_call_per_parameter_when_not_all_have_gradients():
    import strict_cupy
    params = [mf.tensor(np.ones(s, np.float32), device="cuda", requires_grad=True) for s in [(2, 3), (4,), (1, 1, 2)]]
    opt = optim.Adam(params, lr=0.01)
    for p in params[:2]:
        p.grad = p.data * 0.5
    with strict_cupy.counting():
        opt.step()
    assert sum(n for name, n in strict_cupy.by_name.items() if name.startswith("cupy.ElementwiseKernel")) == 2


CHANGES = ["none", "a parameter without gradient", "load_state_dict", "model.to", "fused off"]


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("config", ["sgd-momentum-dampening", "adam-l2", "adamw"])
def test_all_parameters_in_one_kernel_equals_the_readable_update(config, change):
    # 5 steps on "cuda" (flat buffers, views) against the readable lines on the CPU; in step 2 something
    # that breaks the flat layout happens; the update must not notice
    shapes = [(3, 2), (5,), (2, 1, 2)]
    rng = np.random.default_rng(3)
    start = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(5)]
    results = {}
    for device in ("cpu", "cuda"):
        params = [mf.tensor(a.copy(), device=device, requires_grad=True, dtype="float64") for a in start]
        opt = CONFIGS[config](params)
        for step in range(5):
            for i, p in enumerate(params):
                p.grad = mf.backend.to_device(grads[step][i], device)
            if step == 2 and change == "a parameter without gradient":
                params[1].grad = None
            if step == 2 and change == "load_state_dict":
                opt.load_state_dict(opt.state_dict())
            if step == 2 and change == "model.to":
                for p in params:
                    p.data = mf.backend.to_device(p.numpy().copy(), device)
            opt.fused = not (change == "fused off" and step == 2)
            opt.step()
        results[device] = ([p.numpy() for p in params],
                           {k: {n: mf.backend.to_numpy(v) for n, v in s.items()} for k, s in opt.state.items()})
    for a, b in zip(results["cuda"][0], results["cpu"][0]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for k, entries in results["cpu"][1].items():
        for n, v in entries.items():
            np.testing.assert_allclose(results["cuda"][1][k][n], v, rtol=1e-12, atol=1e-14)


def test_fused_kernels_are_off_for_numpy_and_when_asked(monkeypatch):
    assert not kernels.enabled(np)
    assert kernels.enabled(mf.backend.get_cupy())
    monkeypatch.setenv("MINIFCN_FUSED", "0")
    assert not kernels.enabled(mf.backend.get_cupy())


def _pool(device, a, g, fused, monkeypatch, ceil_mode=False):
    from minifcn import functional as F
    monkeypatch.setenv("MINIFCN_FUSED", "1" if fused else "0")
    x = mf.tensor(a, device=device, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True, ceil_mode=ceil_mode)
    y.backward(mf.backend.to_device(g, device))
    return y.numpy(), idx.numpy(), x.grad.get() if device == "cuda" else x.grad


@settings(max_examples=15)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
       seed=st.integers(0, 2**16), specials=st.booleans(), ceil_mode=st.booleans())
@example(n=1, c=1, h=5, w=4, seed=0, specials=False, ceil_mode=True)   # a last window hangs over
def test_fused_max_pool_2x2_equals_the_readable_loop(monkeypatch, n, c, h, w, seed, specials, ceil_mode):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, (n, c, h, w)).astype(np.float32)   # small integers: many ties
    if specials:
        a.flat[rng.integers(0, a.size, 3)] = [np.nan, -np.inf, np.inf]
    out = ((h + 1) // 2, (w + 1) // 2) if ceil_mode else (h // 2, w // 2)
    g = rng.standard_normal((n, c) + out).astype(np.float32)
    reference = _pool("cpu", a, g, False, monkeypatch, ceil_mode)
    for fused in (False, True):
        got = _pool("cuda", a, g, fused, monkeypatch, ceil_mode)
        for r, x in zip(reference, got):
            np.testing.assert_array_equal(x, r)


@pytest.mark.skipif(REAL_GPU, reason="counts calls with the strict stand-in")
def test_fused_max_pool_is_one_kernel_each_way():
    import strict_cupy
    from minifcn import functional as F
    x = mf.tensor(np.ones((2, 3, 8, 8), np.float32), device="cuda", requires_grad=True)
    F.max_pool2d(x, 2)  # first call: the corner constant is uploaded once
    with strict_cupy.counting() as c:
        F.max_pool2d(x, 2).sum().backward()
    kernels_run = [n for n in strict_cupy.by_name if n.startswith("cupy.ElementwiseKernel:minifcn_maxpool")]
    assert sorted(kernels_run) == ["cupy.ElementwiseKernel:minifcn_maxpool2x2",
                                   "cupy.ElementwiseKernel:minifcn_maxpool2x2_backward"]
    assert c["uploads"] == 0 and c["syncs"] == 0 and c["calls"] - c["views"] <= 12


@settings(max_examples=10)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(2, 5), seed=st.integers(0, 2**16),
       affine=st.booleans(), training=st.booleans())
def test_fused_batch_norm_equals_the_readable_one(monkeypatch, n, c, h, w, seed, affine, training):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, c, h, w)) * 3 + 1
    gamma, beta = rng.standard_normal(c) + 1, rng.standard_normal(c)
    assert_bn_paths_agree(monkeypatch, rng, a, gamma, beta, affine, training, lambda F, y: y)


def assert_bn_paths_agree(monkeypatch, rng, a, gamma, beta, affine, training, after, check=None):
    """``after(F, batch_norm(a))`` on the CPU, on the device's readable path and on its fused one:
    values, dx, the running statistics and (affine) dγ, dβ agree; ``check(z, fused)`` looks at
    the graph on each path before backward."""
    from minifcn import functional as F
    c = a.shape[1]
    results = {}
    for device, fused in (("cpu", False), ("cuda", False), ("cuda", True)):
        monkeypatch.setenv("MINIFCN_FUSED", "1" if fused else "0")
        x = mf.tensor(a, device=device, requires_grad=True)
        wt = mf.tensor(gamma, device=device, requires_grad=True) if affine else None
        bt = mf.tensor(beta, device=device, requires_grad=True) if affine else None
        rm, rv = (mf.backend.to_device(v, device) for v in (np.zeros(c), np.ones(c)))
        z = after(F, F.batch_norm(x, rm, rv, wt, bt, training=training))
        if check is not None:
            check(z, fused)
        g = rng.standard_normal(z.shape) if device == "cpu" else results["g"]
        results["g"] = g
        z.backward(mf.backend.to_device(g, device))
        results[device, fused] = [z.numpy(), mf.backend.to_numpy(x.grad), mf.backend.to_numpy(rm),
                                  mf.backend.to_numpy(rv)] + ([wt.grad, bt.grad] if affine else [])
    for key in (("cuda", False), ("cuda", True)):
        for got, ref in zip(results[key], results["cpu", False]):
            np.testing.assert_allclose(mf.backend.to_numpy(got), mf.backend.to_numpy(ref), rtol=1e-10, atol=1e-12)


@settings(max_examples=20)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 3),
       kw=st.integers(1, 3), pads=st.tuples(*[st.integers(0, 2)] * 4), seed=st.integers(0, 2**16))
def test_fused_col2im_equals_the_readable_loop(monkeypatch, n, c, h, w, kh, kw, pads, seed):
    from minifcn.functional.im2col import col2im, window_count
    pt, pb, pl, pr = pads
    oh, ow = window_count(h, kh, 1, (pt, pb), 1), window_count(w, kw, 1, (pl, pr), 1)
    if oh < 1 or ow < 1:
        return
    cols = np.random.default_rng(seed).standard_normal((c * kh * kw, n * oh * ow)).astype(np.float32)
    args = ((n, c, h, w), (kh, kw), (1, 1), ((pt, pb), (pl, pr)), (1, 1))
    reference = col2im(cols, *args)                       # NumPy, the readable loop
    for fused in ("0", "1"):
        monkeypatch.setenv("MINIFCN_FUSED", fused)
        got = col2im(mf.backend.to_device(cols, "cuda"), *args)
        np.testing.assert_array_equal(mf.backend.to_numpy(got), reference)


@settings(max_examples=20)
@given(n=st.integers(1, 2), c=st.integers(1, 3), oh=st.integers(1, 4), ow=st.integers(1, 4), kh=st.integers(1, 3),
       kw=st.integers(1, 3),
       extra=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1)),
       seed=st.integers(0, 2**16))
def test_fused_col2im_without_overlap_equals_the_readable_loop(monkeypatch, n, c, oh, ow, kh, kw, extra, seed):
    # stride >= kernel (a 2x2/2 transposed convolution's case): each pixel gets at most one entry
    from minifcn.functional.im2col import col2im
    sh, sw = kh + extra[0], kw + extra[1]
    h, w = (oh - 1) * sh + kh + extra[2], (ow - 1) * sw + kw + extra[3]   # + rows no window reaches
    cols = np.random.default_rng(seed).standard_normal((c * kh * kw, n * oh * ow)).astype(np.float32)
    args = ((n, c, h, w), (kh, kw), (sh, sw), ((0, 0), (0, 0)), (1, 1), (oh, ow))
    reference = col2im(cols, *args)                       # NumPy, the readable loop
    for fused in ("0", "1"):
        monkeypatch.setenv("MINIFCN_FUSED", fused)
        got = col2im(mf.backend.to_device(cols, "cuda"), *args)
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(mf.backend.to_numpy(got), reference)


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # inf·0 = NaN, on purpose
@settings(max_examples=15)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), seed=st.integers(0, 2**16),
       specials=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_fused_relu_equals_the_readable_one(monkeypatch, shape, seed, specials, dtype):
    from minifcn import functional as F
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, shape).astype(dtype)               # many exact zeros
    if specials:
        a.flat[rng.integers(0, a.size, 4)] = [np.nan, -np.inf, np.inf, -0.0]
    g = rng.standard_normal(shape).astype(dtype)
    if specials:
        g.flat[rng.integers(0, a.size, 1)] = np.inf
    results = {}
    for device, fused in (("cpu", False), ("cuda", False), ("cuda", True)):
        monkeypatch.setenv("MINIFCN_FUSED", "1" if fused else "0")
        x = mf.tensor(a, device=device, requires_grad=True)
        y = F.relu(x)
        assert type(y.creator).__name__ == ("ReLUFused" if fused else "ReLU")
        y.backward(mf.backend.to_device(g, device))
        results[device, fused] = (y.numpy(), mf.backend.to_numpy(x.grad))
    for key in (("cuda", False), ("cuda", True)):
        for got, ref in zip(results[key], results["cpu", False]):
            assert got.dtype == ref.dtype
            np.testing.assert_array_equal(got, ref)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))   # -0 where a·0 gives -0


def test_fused_relu_gradcheck_on_the_device():
    x = mf.tensor(np.random.default_rng(1).standard_normal((2, 3, 4)) + 0.05, device="cuda", dtype="float64",
                  requires_grad=True)
    from minifcn import functional as F
    assert type(F.relu(x).creator).__name__ == "ReLUFused"
    assert mf.gradcheck(F.relu, x)


BN_RELU_GRAPHS = {
    "relu(bn)": lambda F, y: F.relu(y),
    "relu(bn) + bn/2": lambda F, y: F.relu(y) + y * 0.5,       # a second consumer adds its gradient
    "bn/2 + relu(bn)": lambda F, y: y * 0.5 + F.relu(y),       # ... before the ReLU's arrives
    "relu(bn) twice": lambda F, y: F.relu(y) * F.relu(y),       # only the first ReLU takes the fused output
    "bn alone": lambda F, y: y * 1.5,
}


@settings(max_examples=8)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(2, 4), seed=st.integers(0, 2**16),
       affine=st.booleans(), training=st.booleans(), graph=st.sampled_from(sorted(BN_RELU_GRAPHS)))
def test_fused_batch_norm_relu_equals_the_readable_ops(monkeypatch, n, c, h, w, seed, affine, training, graph):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, c, h, w)) * 3 + 1
    gamma, beta = rng.standard_normal(c) + 0.5, rng.standard_normal(c)

    def takes_the_fused_output(z, fused):
        if fused and graph.startswith("relu"):
            assert "ReLUAfterBatchNorm" in {type(t.creator).__name__ for t in (z, *(z.creator.inputs or ()))
                                            if isinstance(t, mf.Tensor) and t.creator is not None}
    assert_bn_paths_agree(monkeypatch, rng, a, gamma, beta, affine, training, BN_RELU_GRAPHS[graph],
                          takes_the_fused_output)


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_relu_gradcheck(device, training):
    from minifcn import functional as F
    rng = np.random.default_rng(5)
    x = mf.tensor(rng.standard_normal((3, 2, 3, 3)), device=device, requires_grad=True, dtype="float64")
    wt = mf.tensor(rng.standard_normal(2) + 1, device=device, requires_grad=True, dtype="float64")
    bt = mf.tensor(rng.standard_normal(2) * 0.1, device=device, requires_grad=True, dtype="float64")
    rm, rv = (mf.backend.to_device(v, device) for v in (rng.standard_normal(2) * 0.1, rng.random(2) + 0.5))
    # the running statistics are only read (training=False) or not given (training=True)
    fn = (lambda x_, w_, b_: F.relu(F.batch_norm(x_, None, None, w_, b_, training=True))) if training else \
        (lambda x_, w_, b_: F.relu(F.batch_norm(x_, rm, rv, w_, b_, training=False)))
    assert mf.gradcheck(fn, x, wt, bt)
