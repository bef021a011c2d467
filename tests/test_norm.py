"""batch_norm: values against per-channel loops, gradients against finite differences, the
running-statistics rule against a loop of PyTorch's momentum formula, on both devices."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minifcn as mf
from conftest import to_xp
from minifcn import backend
from minifcn import functional as F
from strategies import leaf, seeds

EPS = 1e-5


# --------------------------------------------------------------- independent references

def channel_stats(x):
    """Per-channel mean, biased and unbiased variance over N and the pixels, by a loop over channels."""
    mean, biased, unbiased = [], [], []
    for c in range(x.shape[1]):
        values = [float(v) for v in x[:, c].ravel()]
        m = len(values)
        mu = sum(values) / m
        ss = sum((v - mu) ** 2 for v in values)
        mean.append(mu)
        biased.append(ss / m)
        unbiased.append(ss / (m - 1))
    return np.array(mean), np.array(biased), np.array(unbiased)


def normalise(x, mean, var, weight, bias, eps=EPS):
    """γ (x - μ) / √(σ² + ε) + β, channel by channel."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        g = 1.0 if weight is None else weight[c]
        b = 0.0 if bias is None else bias[c]
        y[:, c] = g * (x[:, c] - mean[c]) / math.sqrt(var[c] + eps) + b
    return y


@st.composite
def bn_inputs(draw):
    """x (N, C, ...) with at least two values per channel, and maybe γ, β."""
    rng = np.random.default_rng(draw(seeds))
    C = draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(2, C), (3, C), (1, C, 2, 1), (2, C, 2, 3), (3, C, 1, 2)]))
    x = rng.normal(0.5, 2.0, shape)
    weight = rng.uniform(0.5, 2.0, C) if draw(st.booleans()) else None
    bias = rng.normal(size=C) if draw(st.booleans()) else None
    return x, weight, bias


def leaves(device, *arrays):
    return [None if a is None else leaf(a, device) for a in arrays]


# --------------------------------------------------------------- values and gradients

@given(inputs=bn_inputs())
def test_training_uses_batch_statistics_and_gradcheck(device, inputs):
    x, weight, bias = inputs
    mean, biased, _ = channel_stats(x)
    xt, wt, bt = leaves(device, x, weight, bias)
    out = F.batch_norm(xt, None, None, wt, bt, training=True)
    np.testing.assert_allclose(out.numpy(), normalise(x, mean, biased, weight, bias), rtol=1e-10, atol=1e-12)
    mf.gradcheck(lambda x_, w_, b_: F.batch_norm(x_, None, None, w_, b_, training=True), xt, wt, bt)


@given(inputs=bn_inputs(), seed=seeds)
def test_eval_is_the_affine_formula_and_gradcheck(device, inputs, seed):
    """With running μ, σ²: y = x γ/√(σ² + ε) + (β - μ γ/√(σ² + ε)), an affine map per channel."""
    x, weight, bias = inputs
    rng = np.random.default_rng(seed)
    C = x.shape[1]
    rm, rv = rng.normal(size=C), rng.uniform(0.2, 3.0, C)
    scale = (np.ones(C) if weight is None else weight) / np.sqrt(rv + EPS)
    shift = (np.zeros(C) if bias is None else bias) - rm * scale
    view = (1, C) + (1,) * (x.ndim - 2)
    expected = x * scale.reshape(view) + shift.reshape(view)
    rm_dev, rv_dev = to_xp(rm, device), to_xp(rv, device)
    xt, wt, bt = leaves(device, x, weight, bias)
    fn = lambda x_, w_, b_: F.batch_norm(x_, rm_dev, rv_dev, w_, b_, training=False)
    np.testing.assert_allclose(fn(xt, wt, bt).numpy(), expected, rtol=1e-10, atol=1e-12)
    mf.gradcheck(fn, xt, wt, bt)
    np.testing.assert_array_equal(backend.to_numpy(rm_dev), rm)    # eval leaves the estimates alone
    np.testing.assert_array_equal(backend.to_numpy(rv_dev), rv)


def test_training_output_has_zero_mean_unit_variance(device):
    x = np.random.default_rng(3).normal(5.0, 3.0, (4, 3, 5, 5))
    y = F.batch_norm(leaf(x, device), None, None, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + EPS), rtol=1e-12)   # 1 but for ε


def test_no_running_statistics_means_batch_statistics_in_eval_too(device):
    x = np.random.default_rng(4).normal(size=(3, 2, 2, 2))
    a = F.batch_norm(leaf(x, device), None, None, training=False).numpy()
    b = F.batch_norm(leaf(x, device), None, None, training=True).numpy()
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------- running statistics

@pytest.mark.parametrize("stat_dtype", [np.float64, np.float32])
@given(seed=seeds, momentum=st.sampled_from([0.1, 0.3, 1.0]),
       shape=st.sampled_from([(2, 3), (2, 3, 2, 2), (1, 2, 1, 3)]))
def test_running_statistics_follow_the_momentum_rule(device, stat_dtype, seed, momentum, shape):
    """running ← (1 - momentum) running + momentum · statistic, with the unbiased variance (PyTorch)."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    rm, rv = np.zeros(C), np.ones(C)              # PyTorch's initial values
    rm_dev, rv_dev = to_xp(rm.astype(stat_dtype), device), to_xp(rv.astype(stat_dtype), device)
    for _ in range(4):
        x = rng.normal(1.0, 2.0, shape)
        mean, _, unbiased = channel_stats(x)
        rm = (1 - momentum) * rm + momentum * mean
        rv = (1 - momentum) * rv + momentum * unbiased
        F.batch_norm(leaf(x, device), rm_dev, rv_dev, training=True, momentum=momentum)
    assert rm_dev.dtype == stat_dtype and backend.device_of(rm_dev) == device
    tol = 1e-12 if stat_dtype == np.float64 else 1e-6
    np.testing.assert_allclose(backend.to_numpy(rm_dev), rm, rtol=tol, atol=tol)
    np.testing.assert_allclose(backend.to_numpy(rv_dev), rv, rtol=tol, atol=tol)


def test_running_statistics_as_tensors_update_under_no_grad(device):
    x = np.random.default_rng(5).normal(size=(4, 2, 3, 3))
    mean, _, unbiased = channel_stats(x)
    rm, rv = mf.Tensor(to_xp(np.zeros(2), device)), mf.Tensor(to_xp(np.ones(2), device))
    with mf.no_grad():
        y = F.batch_norm(leaf(x, device), rm, rv, training=True)
    assert not y.requires_grad
    np.testing.assert_allclose(rm.numpy(), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * unbiased, rtol=1e-12)


def test_eval_after_training_uses_the_estimates(device):
    """momentum = 1 keeps exactly the last batch's statistics, so eval on that batch uses σ² unbiased."""
    x = np.random.default_rng(6).normal(size=(3, 2, 2, 2))
    mean, _, unbiased = channel_stats(x)
    rm, rv = to_xp(np.zeros(2), device), to_xp(np.ones(2), device)
    F.batch_norm(leaf(x, device), rm, rv, training=True, momentum=1.0)
    y = F.batch_norm(leaf(x, device), rm, rv, training=False).numpy()
    np.testing.assert_allclose(y, normalise(x, mean, unbiased, None, None), rtol=1e-10)


# --------------------------------------------------------------- bad input

def test_batch_norm_errors(device):
    x = leaf(np.zeros((2, 3, 2, 2)), device)
    ok, wrong = to_xp(np.zeros(3), device), to_xp(np.zeros(4), device)
    with pytest.raises(ValueError, match=r"running_mean has shape \(4,\) but x has C=3 channels .*shape \(3,\)"):
        F.batch_norm(x, wrong, ok, training=True)
    with pytest.raises(ValueError, match=r"running_var has shape \(4,\) but x has C=3 channels"):
        F.batch_norm(x, ok, wrong)
    with pytest.raises(ValueError, match=r"weight has shape \(4,\) but x has C=3 channels"):
        F.batch_norm(x, None, None, leaf(np.ones(4), device), training=True)
    with pytest.raises(ValueError, match=r"bias has shape \(2,\) but x has C=3 channels"):
        F.batch_norm(x, None, None, None, leaf(np.ones(2), device), training=True)
    with pytest.raises(ValueError, match=r"more than one value per channel, got x of shape \(1, 3, 1, 1\)"):
        F.batch_norm(leaf(np.zeros((1, 3, 1, 1)), device), ok, to_xp(np.ones(3), device), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: momentum must be a number in \[0, 1\], got 1.5"):
        F.batch_norm(x, None, None, training=True, momentum=1.5)
    with pytest.raises(ValueError, match="batch_norm: eps must be a number > 0, got 0"):
        F.batch_norm(x, None, None, training=True, eps=0)
    with pytest.raises(TypeError, match="running_mean must be a floating NumPy/CuPy array .*got list"):
        F.batch_norm(x, [0.0, 0.0, 0.0], ok, training=True)
    with pytest.raises(TypeError, match="running_var must be a floating NumPy/CuPy array"):
        F.batch_norm(x, ok, to_xp(np.ones(3, dtype=np.int64), device), training=True)
    with pytest.raises(ValueError, match="give both running_mean and running_var, or neither"):
        F.batch_norm(x, ok, None, training=True)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, ...\)"):
        F.batch_norm(leaf(np.zeros(3), device), None, None, training=True)
    with pytest.raises(TypeError, match="x must be floating point, got dtype int64"):
        F.batch_norm(mf.Tensor(to_xp(np.zeros((2, 3), dtype=np.int64), device)), None, None, training=True)


def test_batch_norm_device_mismatch_names_both_devices():
    x = leaf(np.zeros((2, 3)), "cuda")
    with pytest.raises(ValueError, match="running_mean is on device 'cpu' but x is on 'cuda'"):
        F.batch_norm(x, np.zeros(3), to_xp(np.ones(3), "cuda"), training=True)
    with pytest.raises(ValueError, match="weight is on device 'cpu' but x is on 'cuda'"):
        F.batch_norm(x, None, None, mf.tensor(np.ones(3)), training=True)


@given(seed=st.integers(0, 2**16), affine=st.booleans())
def test_simple_form_equals_fused_batch_norm(device, seed, affine):
    """The composed training-mode batch norm and the fused one agree in value and gradients."""
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((3, 2, 4, 5)) * 2 + 1
    g_np, b_np = rng.uniform(0.5, 2, 2), rng.standard_normal(2)
    results = []
    for simple in (False, True):
        x = mf.Tensor(to_xp(x_np, device), requires_grad=True)
        w = mf.Tensor(to_xp(g_np, device), requires_grad=True) if affine else None
        b = mf.Tensor(to_xp(b_np, device), requires_grad=True) if affine else None
        y = F.batch_norm_simple(x, w, b) if simple else F.batch_norm(x, None, None, w, b, training=True)
        y.backward(to_xp(np.cos(np.arange(y.size)).reshape(y.shape), device))
        results.append([y.numpy(), mf.backend.to_numpy(x.grad)] +
                       ([mf.backend.to_numpy(w.grad), mf.backend.to_numpy(b.grad)] if affine else []))
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-9, atol=1e-12)
