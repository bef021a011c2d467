"""Tests written for mutants that survived the suite (tools/mutate.py, issue 14).

Each pins a behaviour that a one-line change broke without any test noticing; the
docstring names the mutant it kills. Expected values come from arithmetic done here.
"""
import numpy as np
import pytest

import minifcn as mf
from minifcn import autograd
from minifcn import functional as F
from minifcn.autograd import Function
from conftest import to_xp


def leaf(values, device, requires_grad=True):
    return mf.Tensor(to_xp(np.asarray(values, dtype=np.float64), device), requires_grad=requires_grad)


# ---- autograd ------------------------------------------------------------------------------
def test_tensor_reductions_drop_the_axis_by_default(device):
    """Kills ``def min(self, axis=None, keepdims=True)`` (and the same for sum/mean/max)."""
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    for name, ref in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)):
        full, rows = getattr(x, name)(), getattr(x, name)(axis=1)
        assert full.shape == () and rows.shape == (2,), name
        np.testing.assert_array_equal(rows.numpy(), ref(np.arange(6.0).reshape(2, 3), axis=1))
        assert getattr(x, name)(axis=0, keepdims=True).shape == (1, 3), name


def test_functional_reductions_drop_the_axis_by_default(device):
    """Kills ``keepdims: bool = True`` as the default of F.sum / F.mean / F.max / F.min."""
    a = np.arange(6.0).reshape(2, 3)
    x = leaf(a, device)
    for f, ref in ((F.sum, np.sum), (F.mean, np.mean), (F.max, np.max), (F.min, np.min)):
        assert f(x).shape == () and f(x).numpy() == ref(a)
        np.testing.assert_array_equal(f(x, 0).numpy(), ref(a, axis=0))


def test_pad_refuses_negative_widths_on_either_side(device):
    """Kills ``p[1] < 0 or p[1] < 0`` (a negative *before* width let through) in F.pad."""
    x = leaf(np.ones((2, 2)), device)
    for widths in ([(-1, 0), (0, 0)], [(0, 0), (0, -1)], [(0, 0), (-2, 1)]):
        with pytest.raises(ValueError, match=r"pad_width=.* must hold one \(before, after\) pair of non-negative"):
            F.pad(x, widths)
    assert F.pad(x, [(1, 0), (0, 2)]).shape == (3, 4)


def test_reshape_and_transpose_take_a_tuple_or_separate_sizes(device):
    """Kills ``shape[1] if len(shape) == 1 ...`` in Tensor.reshape (a tuple argument)."""
    x = leaf(np.arange(6.0), device)
    for y in (x.reshape((2, 3)), x.reshape(2, 3), x.reshape([2, 3])):
        assert y.shape == (2, 3)
        np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3))
    assert x.reshape(6).shape == (6,) and x.reshape(-1, 2).shape == (3, 2)
    z = x.reshape(1, 2, 3)
    assert z.transpose((2, 0, 1)).shape == z.transpose(2, 0, 1).shape == (3, 1, 2)
    assert z.transpose().shape == (3, 2, 1)


class Counting(Function):
    """The identity, counting how often its backward runs."""
    calls = 0

    def forward(self, x):
        return x * 1

    def backward(self, g):
        Counting.calls += 1
        return g


def test_backward_runs_each_function_once_in_a_shared_graph(device):
    """Kills dropping ``continue`` after ``if id(t) in seen`` in the topological sort: a
    tensor used by several consumers would be visited (and its subgraph walked) again."""
    x = leaf([1.0, 2.0], device)
    h = Counting()(x)
    a, b = h * 2.0, h * 3.0
    y = (a + b) * h                      # h reached along three paths
    loss = y.sum()
    order = autograd._topological_order(loss)
    assert len(order) == len({id(t) for t in order}) == 7      # x, h, a, b, a+b, y, loss
    Counting.calls = 0
    loss.backward()
    assert Counting.calls == 1
    # d/dx of 5 h^2 with h = x: 10 x
    np.testing.assert_allclose(mf.Tensor(x.grad).numpy(), [10.0, 20.0])


def test_a_function_without_forward_or_backward_says_so(device):
    """Kills dropping ``raise NotImplementedError`` from Function.forward / backward."""
    class NoForward(Function):
        pass

    class NoBackward(Function):
        def forward(self, x):
            return x * 2

    x = leaf([1.0], device)
    with pytest.raises(NotImplementedError):
        NoForward()(x)
    y = NoBackward()(x).sum()
    with pytest.raises(NotImplementedError, match="NoBackward has no backward"):
        y.backward()


# ---- functional ------------------------------------------------------------------------------
@pytest.mark.parametrize("seeded", [True, False])
def test_dropout_keeps_the_fraction_one_minus_p(device, seeded):
    """Kills ``random_sample(...) <= p`` (keeping p instead of 1 - p) on the unseeded path."""
    x = leaf(np.ones(20000), device)
    rng = np.random.default_rng(0) if seeded else None
    y = F.dropout(x, 0.2, training=True, rng=rng).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.8) < 0.02                       # 4 sigma is 0.011
    np.testing.assert_allclose(y[kept], 1 / 0.8)


# ---- defaults of the window functions ------------------------------------------------------
def naive_conv(x, w):
    """stride 1, no padding, no dilation, one group: y[n,o,i,j] = Σ x[n,c,i+a,j+b] w[o,c,a,b]."""
    (N, C, H, W), (O, _, KH, KW) = x.shape, w.shape
    y = np.zeros((N, O, H - KH + 1, W - KW + 1))
    for n, o, i, j in np.ndindex(y.shape):
        y[n, o, i, j] = (x[n, :, i:i + KH, j:j + KW] * w[o]).sum()
    return y


def naive_conv_transpose(x, w):
    """stride 1, no padding: every input pixel drops a copy of its kernel, scaled by its value."""
    (N, C, H, W), (_, O, KH, KW) = x.shape, w.shape
    y = np.zeros((N, O, H + KH - 1, W + KW - 1))
    for n, c, i, j in np.ndindex(x.shape):
        y[n, :, i:i + KH, j:j + KW] += x[n, c, i, j] * w[c]
    return y


def test_conv_functions_default_to_stride_1_no_padding_one_group(device):
    """Kills changed defaults (groups, dilation, stride) of conv2d, conv_transpose2d, their
    _simple twins and the geometry helpers: every default call matches the loops above."""
    from minifcn.functional import conv
    rng = np.random.default_rng(0)
    x, w, wt = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal((2, 3, 2, 3))
    X, Wt, WtT = leaf(x, device), leaf(w, device), leaf(wt, device)
    for f in (F.conv2d, conv.conv2d_simple):
        np.testing.assert_allclose(f(X, Wt).numpy(), naive_conv(x, w), rtol=1e-12, atol=1e-12)
    for f in (F.conv_transpose2d, conv.conv_transpose2d_simple):
        np.testing.assert_allclose(f(X, WtT).numpy(), naive_conv_transpose(x, wt), rtol=1e-12, atol=1e-12)
    for geo in (conv.conv2d_geometry(X, Wt), conv.conv_transpose2d_geometry(X, WtT)):
        assert geo.groups == 1


def test_window_helpers_default_to_stride_1_no_padding(device):
    """Kills changed defaults of im2col.windows / im2col / col2im and pool_geometry."""
    from minifcn.functional import im2col as I
    from minifcn.functional.pool import pool_geometry
    x = np.arange(2 * 2 * 4 * 3, dtype=np.float64).reshape(2, 2, 4, 3)
    KH, KW = 2, 2
    expect = np.empty((2, KH, KW, 2, 3, 2))                  # (C, KH, KW, N, OH, OW)
    for c, i, j, n, oh, ow in np.ndindex(expect.shape):
        expect[c, i, j, n, oh, ow] = x[n, c, oh + i, ow + j]
    cols = I.im2col(to_xp(x, device), (KH, KW))
    np.testing.assert_array_equal(mf.Tensor(cols).numpy(), expect.reshape(cols.shape))
    view = I.windows(to_xp(x, device), (KH, KW))             # (N, C, KH, KW, OH, OW)
    np.testing.assert_array_equal(mf.Tensor(view).numpy(), expect.transpose(3, 0, 1, 2, 4, 5))
    back = mf.Tensor(I.col2im(to_xp(np.ones(cols.shape), device), x.shape, (KH, KW))).numpy()
    counts = np.zeros(x.shape)                               # how many windows hold each pixel
    for oh, ow in np.ndindex(3, 2):
        counts[:, :, oh:oh + KH, ow:ow + KW] += 1
    np.testing.assert_array_equal(back, counts)
    geo = pool_geometry("f", (4, 3), 2, None, 0)
    assert (geo.kernel, geo.stride, geo.padding, geo.dilation, geo.out_size) == \
        ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (2, 1))


# ---- losses ----------------------------------------------------------------------------------
def test_every_loss_refuses_an_unknown_reduction(device):
    """Kills dropping ``_check_choice("reduction", ...)`` from any loss (dice_loss's survived:
    an unknown reduction silently became 'none')."""
    z = leaf(np.zeros((2, 3, 2, 2)), device)
    labels = to_xp(np.zeros((2, 2, 2), dtype=np.int64), device)
    binary = to_xp(np.zeros((2, 3, 2, 2)), device)
    calls = {"cross_entropy": lambda r: F.cross_entropy(z, labels, reduction=r),
             "focal_loss": lambda r: F.focal_loss(z, labels, reduction=r),
             "dice_loss": lambda r: F.dice_loss(z, labels, reduction=r),
             "binary_cross_entropy_with_logits": lambda r: F.binary_cross_entropy_with_logits(z, binary, reduction=r),
             "mse_loss": lambda r: F.mse_loss(z, binary, reduction=r)}
    for name, call in calls.items():
        with pytest.raises(ValueError, match=rf"{name}: reduction='avg' is not one of \('mean', 'sum', 'none'\)"):
            call("avg")
        assert call("sum").shape == ()


def test_binary_losses_take_a_target_without_the_channel_axis(device):
    """Kills ``like.ndim > 2`` in _binary_target: in the binary focal and Dice losses, (N, 1)
    logits with an (N,) target, as (N, 1, H, W) logits with an (N, H, W) target, give the loss
    of the full-shape target. (binary_cross_entropy_with_logits wants equal shapes, as PyTorch.)"""
    rng = np.random.default_rng(0)
    for shape in ((4, 1), (2, 1, 3, 3)):
        z = leaf(rng.standard_normal(shape), device)
        t = (rng.random(shape) > 0.5).astype(np.float64)
        squeezed = to_xp(t[:, 0], device)
        for f in (lambda a, b: F.focal_loss(a, b, mode="binary"), lambda a, b: F.dice_loss(a, b, mode="binary")):
            np.testing.assert_allclose(f(z, squeezed).numpy(), f(z, to_xp(t, device)).numpy(), rtol=1e-12)


def test_dice_loss_names_logits_without_a_class_axis(device):
    """Kills ``logits.ndim >= 1`` in dice_loss's K (an IndexError instead of the message)."""
    z = leaf(np.zeros(3), device)
    with pytest.raises(ValueError, match=r"dice_loss: logits must have shape \(N, K, \.\.\.\) with the class "
                                         r"axis 1, got \(3,\)"):
        F.dice_loss(z, to_xp(np.zeros(3, dtype=np.int64), device))


# ---- training ----------------------------------------------------------------------------------
def test_train_loss_is_the_mean_of_the_epochs_batch_losses(tmp_path, monkeypatch):
    """Kills dropping ``partial["batches"] += 1`` (the train loss became a sum)."""
    import minifcn.train as T
    seen = []
    real = T.segmentation_loss

    def spy(kind, logits, target, *weights):
        loss = real(kind, logits, target, *weights)
        if autograd._grad_enabled:                       # a training step, not validation
            seen.append(float(loss.item()))
        return loss
    monkeypatch.setattr(T, "segmentation_loss", spy)
    cfg = T.TrainConfig(samples=20, image_size=16, epochs=2, batch_size=4, base_channels=4, depth=2,
                        out=str(tmp_path), num_classes=3)
    history = T.train(cfg, progress=False, log=lambda s: None)
    assert len(seen) == 8                                # 16 training images, 4 batches per epoch
    for e in range(2):
        assert history[e]["train_loss"] == pytest.approx(np.mean(seen[4 * e:4 * e + 4]), rel=1e-12)


# ---- basic ops and metrics ---------------------------------------------------------------------
def test_clip_takes_either_bound_alone(device):
    """Kills ``lo is None or hi is None`` in F.clip (one bound alone was refused)."""
    x = leaf([-2.0, 0.5, 3.0], device)
    np.testing.assert_array_equal(F.clip(x, lo=0.0).numpy(), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(F.clip(x, hi=1.0).numpy(), [-2.0, 0.5, 1.0])
    np.testing.assert_array_equal(F.clip(x, -1.0, 1.0).numpy(), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"clip needs lo or hi \(both are None\)"):
        F.clip(x)


def test_hausdorff_refuses_0d_masks():
    """Kills dropping the 0-d check in metrics.hausdorff_distance."""
    from minifcn import metrics
    with pytest.raises(ValueError, match="pred and target must have at least one axis, got 0-d arrays"):
        metrics.hausdorff_distance(np.array(True), np.array(True))
