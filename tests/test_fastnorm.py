"""Batch norm's CPU fast path (minifcn/functional/fastnorm.py) against the readable BatchNorm.

The readable forward/backward in norm.py (``fastnorm.enabled = False``) is the reference;
both run on the same numbers, with and without γ and β, with batch and with running
statistics, for (N, C), (N, C, L) and (N, C, H, W) inputs, contiguous or not. Independent of
both: central differences (float64) on batch_norm through the fast path, and the running
statistics against NumPy's own mean and unbiased variance.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minifcn as mf
from conftest import to_xp
from minifcn import backend
from minifcn.functional import batch_norm, fastnorm


def run(x_np, w_np, b_np, g_np, training, running, fast, monkeypatch):
    """(y, dx, dγ, dβ, running mean, running var) of batch_norm with the fast path on or off."""
    monkeypatch.setattr(fastnorm, "enabled", fast)
    monkeypatch.setattr(fastnorm, "parallel_from", 1 if fast and x_np.shape[0] % 2 else 2**20)
    x = mf.Tensor(x_np.copy(), requires_grad=True)
    w = None if w_np is None else mf.Tensor(w_np.copy(), requires_grad=True)
    b = None if b_np is None else mf.Tensor(b_np.copy(), requires_grad=True)
    rm, rv = (None, None) if running is None else (running[0].copy(), running[1].copy())
    y = batch_norm(x, rm, rv, w, b, training=training)
    y.backward(g_np)
    return (y.data, x.grad, None if w is None else w.grad, None if b is None else b.grad, rm, rv)


@st.composite
def cases(draw):
    ndim = draw(st.integers(2, 4))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 5))) + tuple(draw(st.integers(1, 6)) for _ in range(ndim - 2))
    if int(np.prod(shape)) // shape[1] < 2:                       # batch statistics need m >= 2
        shape = (shape[0] + 1,) + shape[1:]
    return (shape, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
            draw(st.booleans()), draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=40, deadline=None)
@given(case=cases())
def test_fast_batch_norm_matches_readable(monkeypatch, dtype, case):
    shape, affine, has_bias, training, running, transposed, seed = case
    rng = np.random.default_rng(seed)
    x_np = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    if transposed and x_np.ndim >= 3:                             # a non-contiguous input
        x_np = np.swapaxes(np.swapaxes(x_np, -1, -2).copy(), -1, -2)
        assert not x_np.flags.c_contiguous or x_np.shape[-1] == 1 or x_np.shape[-2] == 1
    C = shape[1]
    w_np = (rng.standard_normal(C) + 1).astype(dtype) if affine else None
    b_np = rng.standard_normal(C).astype(dtype) if has_bias else None
    g_np = rng.standard_normal(shape).astype(dtype)
    stats = (rng.standard_normal(C).astype(dtype), (rng.random(C) + 0.5).astype(dtype)) if running else None
    fast = run(x_np, w_np, b_np, g_np, training, stats, True, monkeypatch)
    slow = run(x_np, w_np, b_np, g_np, training, stats, False, monkeypatch)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)
    for a, r in zip(fast, slow):
        assert (a is None) == (r is None)
        if a is not None:
            assert a.dtype == r.dtype == dtype
            np.testing.assert_allclose(a, r, **tol)


def test_fast_batch_norm_statistics_and_gradients_are_right(monkeypatch):
    """Independent witnesses: NumPy's mean/var for the running update, central differences."""
    monkeypatch.setattr(fastnorm, "enabled", True)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((3, 4, 5, 2)) * 2 + 1
    rm, rv = np.zeros(4), np.ones(4)
    batch_norm(mf.tensor(x_np), rm, rv, training=True, momentum=0.5)
    np.testing.assert_allclose(rm, 0.5 * x_np.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(rv, 0.5 + 0.5 * x_np.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)
    x = mf.Tensor(x_np, requires_grad=True)
    w = mf.Tensor(rng.standard_normal(4) + 1, requires_grad=True)
    b = mf.Tensor(rng.standard_normal(4), requires_grad=True)
    calls = []
    real = fastnorm.backward
    monkeypatch.setattr(fastnorm, "backward", lambda fn, g: calls.append(1) or real(fn, g))
    assert mf.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True) ** 2, x, w, b)
    assert mf.gradcheck(lambda x, w, b: batch_norm(x, rm, rv, w, b, training=False) ** 2, x, w, b)
    assert calls, "the fast backward did not run"


def test_cupy_takes_the_readable_path(device):
    """On the GPU (the strict stand-in here) the fast path steps aside, and the result agrees."""
    x_np = np.random.default_rng(1).standard_normal((2, 3, 2, 2))
    x = mf.Tensor(to_xp(x_np, device), requires_grad=True)
    assert fastnorm.applies(x.data) == (device == "cpu")
    y = batch_norm(x, None, None, training=True)
    y.backward(to_xp(x_np, device))
    want = (x_np - x_np.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x_np.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(backend.to_numpy(y.data), want, rtol=1e-10, atol=1e-10)
