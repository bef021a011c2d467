"""Every basic op: values against NumPy, gradients against finite differences, on both devices."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minifcn as mf
from minifcn import functional as F
from minifcn.autograd import Function
from conftest import to_xp
from strategies import broadcastable_pair, leaf, seeds, separated_values, small_shapes

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=broadcastable_pair(), seed=seeds)
def test_binary_ops_broadcast(device, name, shapes, seed):
    op, ref = BINARY[name]
    rng = np.random.default_rng(seed)
    a_np = rng.uniform(0.5, 2.0, shapes[0])   # positive: a ** b and a / b are smooth here
    b_np = rng.uniform(0.5, 2.0, shapes[1])
    a, b = leaf(a_np, device), leaf(b_np, device)
    np.testing.assert_allclose(op(a, b).numpy(), ref(a_np, b_np), rtol=1e-12)
    mf.gradcheck(op, a, b)


@pytest.mark.parametrize("op", [lambda a: 2.0 + a, lambda a: 2.0 - a, lambda a: 3.0 * a,
                                lambda a: 2.0 / a, lambda a: 2.0 ** a, lambda a: a ** 3,
                                lambda a: a ** -0.5, lambda a: -a])
@given(shape=small_shapes, seed=seeds)
def test_scalar_on_either_side(device, op, shape, seed):
    a = leaf(np.random.default_rng(seed).uniform(0.5, 2.0, shape), device)
    mf.gradcheck(op, a)


UNARY = {  # name: (op, reference, domain)
    "exp": (F.exp, np.exp, (-2, 2)),
    "log": (F.log, np.log, (0.5, 3)),
    "sqrt": (F.sqrt, np.sqrt, (0.5, 3)),
    "abs": (F.abs, np.abs, (-2, 2)),
    "relu": (F.relu, lambda x: np.maximum(x, 0), (-2, 2)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), (-2, 2)),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-4, 4)),
    "tanh": (F.tanh, np.tanh, (-2, 2)),
    "clip": (lambda x: F.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=small_shapes, seed=seeds)
def test_unary_ops(device, name, shape, seed):
    op, ref, (lo, hi) = UNARY[name]
    # values kept away from the kinks (0 for abs/relu, -0.5/0.7 for clip) by separated_values
    x_np = separated_values(np.random.default_rng(seed), shape, lo, hi, gap=0.05) + 0.013
    x = leaf(x_np, device)
    np.testing.assert_allclose(op(x).numpy(), ref(x_np), rtol=1e-12, atol=1e-15)
    mf.gradcheck(op, x)


def test_sigmoid_does_not_overflow(device):
    x = mf.tensor([-1000.0, 0.0, 1000.0], device=device)
    np.testing.assert_allclose(F.sigmoid(x).numpy(), [0.0, 0.5, 1.0])


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    kind = draw(st.sampled_from(["mm", "vec-left", "vec-right", "vec-vec"]))
    a = (k,) if kind in ("vec-left", "vec-vec") else batch[0] + (n, k)
    b = (k,) if kind in ("vec-right", "vec-vec") else batch[1] + (k, m)
    return a, b


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_batched_and_vectors(device, shapes, seed):
    rng = np.random.default_rng(seed)
    a_np, b_np = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    a, b = leaf(a_np, device), leaf(b_np, device)
    np.testing.assert_allclose((a @ b).numpy(), a_np @ b_np, rtol=1e-12, atol=1e-12)
    mf.gradcheck(lambda a, b: a @ b, a, b)


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                          st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple)))
    return shape, axis, draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@given(case=shape_and_axis(), seed=seeds)
def test_reductions(device, name, case, seed):
    shape, axis, keepdims = case
    x_np = separated_values(np.random.default_rng(seed), shape)   # no ties for max/min
    x = leaf(x_np, device)
    op = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    np.testing.assert_allclose(op(x).numpy(), getattr(np, name)(x_np, axis=axis, keepdims=keepdims), rtol=1e-12)
    mf.gradcheck(op, x)


def test_max_shares_gradient_among_ties(device):
    x = mf.tensor([1.0, 3.0, 3.0], device=device, requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(mf.backend.to_numpy(x.grad), [0.0, 0.5, 0.5])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), seed=seeds)
def test_reshape_and_transpose(device, shape, seed):
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape)
    perm = tuple(rng.permutation(len(shape)))
    x = leaf(x_np, device)
    np.testing.assert_array_equal(x.transpose(perm).numpy(), x_np.transpose(perm))
    np.testing.assert_array_equal(x.T.numpy(), x_np.T)
    np.testing.assert_array_equal(x.reshape(-1).numpy(), x_np.reshape(-1))
    mf.gradcheck(lambda t: t.transpose(perm).reshape(-1, 1) * 2.0, x)


@given(seed=seeds)
def test_indexing_slices_integers_masks(device, seed):
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((4, 5))
    x = leaf(x_np, device)
    rows = np.array([0, 2, 2, 3])                      # a repeated index: gradients must add
    mask = x_np > 0
    cases = [
        (lambda t: t[1:3, ::2], x_np[1:3, ::2]),
        (lambda t: t[to_xp(rows, device)], x_np[rows]),
        (lambda t: t[to_xp(rows, device), 1], x_np[rows, 1]),
        (lambda t: t[to_xp(mask, device)], x_np[mask]),
        (lambda t: t[mf.Tensor(to_xp(mask, device))], x_np[mask]),
        (lambda t: t[None, -1], x_np[None, -1]),
    ]
    for op, want in cases:
        np.testing.assert_array_equal(op(x).numpy(), want)
        mf.gradcheck(op, x)


def test_repeated_index_gradient_adds(device):
    x = mf.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[to_xp(np.array([1, 1, 1, 2]), device)].sum().backward()
    np.testing.assert_array_equal(mf.backend.to_numpy(x.grad), [0.0, 3.0, 1.0])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), seed=seeds, value=st.sampled_from([0.0, -1.5]))
def test_constant_pad(device, shape, seed, value):
    rng = np.random.default_rng(seed)
    widths = [tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in shape]
    x_np = rng.standard_normal(shape)
    x = leaf(x_np, device)
    np.testing.assert_array_equal(F.pad(x, widths, value).numpy(),
                                  np.pad(x_np, widths, constant_values=value))
    mf.gradcheck(lambda t: F.pad(t, widths, value), x)


@given(seed=seeds, n=st.integers(1, 3), axis=st.integers(-2, 1))
def test_cat_and_stack(device, seed, n, axis):
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal((2, 3)) if axis % 2 == 0 else rng.standard_normal((3, 2)) for _ in range(n)]
    parts = [rng.standard_normal((i + 1, 3)) if axis % 2 == 0 else rng.standard_normal((3, i + 1)) for i in range(n)]
    ts = [leaf(p, device) for p in parts]
    np.testing.assert_array_equal(mf.cat(ts, axis=axis).numpy(), np.concatenate(parts, axis=axis))
    mf.gradcheck(lambda *t: mf.cat(t, axis=axis), *ts)
    same = [leaf(rng.standard_normal((2, 3)), device) for _ in range(n)]
    np.testing.assert_array_equal(mf.stack(same, axis=axis).numpy(), np.stack([s.numpy() for s in same], axis=axis))
    mf.gradcheck(lambda *t: mf.stack(t, axis=axis), *same)


def test_cat_and_stack_errors():
    a, b = mf.tensor(np.zeros((2, 3))), mf.tensor(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"tensor 1 has shape \(2, 4\).*outside axis 0"):
        mf.cat([a, b], axis=0)
    with pytest.raises(ValueError, match="one shape"):
        mf.stack([a, b])
    with pytest.raises(ValueError, match="at least one"):
        mf.cat([])


@given(case=shape_and_axis(), seed=seeds)
def test_where(device, case, seed):
    shape = case[0]
    rng = np.random.default_rng(seed)
    cond = rng.random(shape) > 0.5
    a_np, b_np = rng.standard_normal(shape), rng.standard_normal(shape)
    a, b = leaf(a_np, device), leaf(b_np, device)
    c = to_xp(cond, device)
    np.testing.assert_array_equal(F.where(c, a, b).numpy(), np.where(cond, a_np, b_np))
    mf.gradcheck(lambda a, b: F.where(c, a, b), a, b)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), seed=seeds)
def test_softmax_family(device, name, shape, seed):
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape) * 3
    x = leaf(x_np, device)
    e = np.exp(x_np - x_np.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    got = getattr(F, name)(x, axis=1).numpy()
    np.testing.assert_allclose(got, want if name == "softmax" else np.log(want), rtol=1e-10, atol=1e-12)
    mf.gradcheck(lambda t: getattr(F, name)(t, axis=1), x)


def test_softmax_is_stable_for_huge_logits(device):
    x = mf.tensor([[1000.0, 0.0, -1000.0]], device=device)
    np.testing.assert_allclose(F.softmax(x).numpy(), [[1.0, 0.0, 0.0]])
    assert np.isfinite(F.log_softmax(x).numpy()).all()


def test_dropout_scales_kept_values_and_is_identity_in_eval(device):
    x = mf.tensor(np.ones((100, 100)), device=device, requires_grad=True)
    y = F.dropout(x, 0.25, training=True, rng=np.random.default_rng(0))
    vals = np.unique(y.numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / 0.75])
    assert abs((y.numpy() == 0).mean() - 0.25) < 0.02
    assert F.dropout(x, 0.25, training=False) is x
    with pytest.raises(ValueError, match=r"dropout p must be a number in \[0, 1\), got 1.5"):
        F.dropout(x, 1.5)


# ---- gradcheck itself must be able to fail ------------------------------------------------
class WrongSquare(Function):
    """y = x² with a deliberately wrong backward (3x instead of 2x)."""
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return g * 3 * self.x


def test_gradcheck_catches_a_wrong_backward(device):
    x = leaf([1.0, 2.0, -1.5], device)
    with pytest.raises(AssertionError, match=r"worst at index \(\d,\): analytic .* numeric"):
        mf.gradcheck(lambda t: WrongSquare()(t), x)
    with pytest.raises(AssertionError, match="fast"):
        mf.gradcheck(lambda t: WrongSquare()(t), x, fast=True)
    assert mf.gradcheck(lambda t: t * t, x, fast=True)


def test_gradcheck_insists_on_float64():
    x = mf.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        mf.gradcheck(lambda t: t * t, x)
    with pytest.raises(ValueError, match="nothing to check"):
        mf.gradcheck(lambda t: t * t, mf.tensor([1.0]))
