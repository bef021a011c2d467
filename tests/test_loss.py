"""Losses: values against formulas written here (loops over pixels on Python floats, or the
textbook definitions in NumPy), gradients against finite differences, on both devices.

The references deliberately use the *definitions* (softmax, σ(x) = 1/(1+e⁻ˣ), log of a
probability) rather than the stable rewritings in minifcn.functional.loss, so the two can
only agree if the rewriting is right. Logits stay moderate there; ±1000 is tested apart.
"""
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

REDUCTIONS = ["mean", "sum", "none"]
reductions = st.sampled_from(REDUCTIONS)


# --------------------------------------------------------------- independent references

def reduce_(losses, reduction, denominator):
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / denominator


def log_softmax_at(z, idx, label):
    """log softmax of the scores z[n, :, rest] at ``label``, on Python floats."""
    n, rest = idx[0], idx[1:]
    scores = [float(z[(n, k) + rest]) for k in range(z.shape[1])]
    m = max(scores)
    return scores[label] - (m + math.log(sum(math.exp(s - m) for s in scores)))


def naive_cross_entropy(z, t, weight=None, ignore_index=-100, reduction="mean"):
    """ℓ = -w[t] log softmax(z)[t], pixel by pixel; mean divides by the summed weights."""
    losses, total = np.zeros(t.shape), 0.0
    for idx in np.ndindex(*t.shape):
        label = int(t[idx])
        if label == ignore_index:
            continue
        w = 1.0 if weight is None else float(weight[label])
        losses[idx] = -w * log_softmax_at(z, idx, label)
        total += w
    return reduce_(losses, reduction, total)


def naive_focal(z, t, gamma, alpha=None, ignore_index=-100, reduction="mean"):
    """-α_t (1 - p_t)^γ log p_t, pixel by pixel; mean divides by the non-ignored count."""
    losses, count = np.zeros(t.shape), 0
    for idx in np.ndindex(*t.shape):
        label = int(t[idx])
        if label == ignore_index:
            continue
        a = 1.0 if alpha is None else float(alpha) if np.isscalar(alpha) else float(alpha[label])
        log_p = log_softmax_at(z, idx, label)
        losses[idx] = -a * (1 - math.exp(log_p)) ** gamma * log_p
        count += 1
    return reduce_(losses, reduction, count)


def naive_binary_focal(x, t, gamma, alpha=None, ignore_index=-100, reduction="mean"):
    losses, count = np.zeros(x.shape), 0
    for idx in np.ndindex(*x.shape):
        if t[idx] == ignore_index:
            continue
        p = 1 / (1 + math.exp(-float(x[idx])))
        p_t = p if t[idx] == 1 else 1 - p
        a = 1.0 if alpha is None else (alpha if t[idx] == 1 else 1 - alpha)
        losses[idx] = -a * (1 - p_t) ** gamma * math.log(p_t)
        count += 1
    return reduce_(losses, reduction, count)


def naive_bce(x, t, pos_weight=1.0, reduction="mean"):
    """-[p t log σ(x) + (1 - t) log(1 - σ(x))] straight from the definition."""
    s = 1 / (1 + np.exp(-x))
    losses = -(pos_weight * t * np.log(s) + (1 - t) * np.log(1 - s))
    return reduce_(losses, reduction, losses.size)


def naive_dice(z, t, smooth, include_background=True, mode="multiclass", reduction="mean"):
    """1 - (2 Σ p t + s) / (Σ p + Σ t + s) per class over the whole batch."""
    if mode == "multiclass":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        onehot = np.stack([(t == k) for k in range(z.shape[1])], axis=1).astype(float)
    else:
        p, onehot = 1 / (1 + np.exp(-z)), t.reshape(z.shape).astype(float)
    losses = np.array([1 - (2 * np.sum(p[:, k] * onehot[:, k]) + smooth)
                       / (np.sum(p[:, k]) + np.sum(onehot[:, k]) + smooth) for k in range(z.shape[1])])
    if mode == "multiclass" and not include_background:
        losses = losses[1:]
    return reduce_(losses, reduction, losses.size)


def check_value(out, expected, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------- drawn problems

@st.composite
def label_problems(draw, min_classes=1):
    """Logits (N, K, ...) float64, labels (N, ...), maybe class weights and ignored pixels."""
    rng = np.random.default_rng(draw(seeds))
    N, K = draw(st.integers(1, 2)), draw(st.integers(min_classes, 4))
    spatial = draw(st.sampled_from([(), (1, 1), (2, 3), (3, 2)]))
    z = rng.normal(0, 2, (N, K) + spatial)
    t = rng.integers(0, K, (N,) + spatial)
    ignore_index = draw(st.sampled_from([-100, 255, 0]))   # 0: a real class can be ignored too
    if K == 1 and ignore_index == 0:
        ignore_index = -100
    if draw(st.booleans()):                    # more ignored pixels
        t[rng.random(t.shape) < 0.3] = ignore_index
    first = (0,) * t.ndim
    if t[first] == ignore_index:               # keep one counted pixel so "mean" is defined
        t[first] = K - 1
    weight = rng.uniform(0.2, 3.0, K) if draw(st.booleans()) else None
    return z, t, weight, ignore_index


# --------------------------------------------------------------- cross_entropy

@given(problem=label_problems(), reduction=reductions)
def test_cross_entropy_matches_pixel_loop_and_gradcheck(device, reduction, problem):
    z, t, weight, ignore_index = problem
    expected = naive_cross_entropy(z, t, weight, ignore_index, reduction)
    w = None if weight is None else to_xp(weight, device)
    t_dev = to_xp(t, device)
    loss = lambda x: F.cross_entropy(x, t_dev, weight=w, ignore_index=ignore_index, reduction=reduction)
    logits = leaf(z, device)
    check_value(loss(logits), expected)
    mf.gradcheck(loss, logits)


def test_cross_entropy_accepts_tensor_targets_and_weights(device):
    rng = np.random.default_rng(0)
    z, t, w = rng.normal(size=(2, 3, 2, 2)), rng.integers(0, 3, (2, 2, 2)), np.array([1.0, 2.0, 0.5])
    logits = leaf(z, device)
    as_tensors = F.cross_entropy(logits, mf.Tensor(to_xp(t, device)), weight=mf.Tensor(to_xp(w, device)))
    check_value(as_tensors, naive_cross_entropy(z, t, w))


@given(seed=seeds, shape=st.sampled_from([(3,), (2, 2, 3)]), reduction=reductions)
def test_cross_entropy_two_classes_is_binary_cross_entropy(device, reduction, seed, shape):
    """softmax([z0, z1])[1] = σ(z1 - z0), so CE on two logits is BCE on their difference."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (shape[0], 2) + shape[1:])
    t = rng.integers(0, 2, shape)
    logits = leaf(z, device)
    ce = F.cross_entropy(logits, to_xp(t, device), reduction=reduction)
    diff = leaf(z[:, 1] - z[:, 0], device)
    bce = F.binary_cross_entropy_with_logits(diff, to_xp(t, device), reduction=reduction)
    check_value(ce, bce.numpy())
    r = rng.normal(size=ce.shape)
    ce.backward(to_xp(r, device))
    bce.backward(to_xp(r, device))
    np.testing.assert_allclose(backend.to_numpy(logits.grad),
                               np.stack([-backend.to_numpy(diff.grad), backend.to_numpy(diff.grad)], axis=1),
                               rtol=1e-10, atol=1e-14)


def test_cross_entropy_all_ignored_is_nan_as_in_pytorch(device):
    z = leaf(np.zeros((1, 3, 2)), device)
    t = to_xp(np.full((1, 2), -100), device)
    assert np.isnan(F.cross_entropy(z, t).numpy())
    assert F.cross_entropy(z, t, reduction="sum").numpy() == 0


def test_cross_entropy_none_is_zero_at_ignored_pixels(device):
    z = leaf(np.random.default_rng(1).normal(size=(1, 3, 2, 2)), device)
    t = np.array([[[0, 255], [2, 255]]])
    out = F.cross_entropy(z, to_xp(t, device), ignore_index=255, reduction="none").numpy()
    assert out.shape == (1, 2, 2) and out[0, 0, 1] == 0 and out[0, 1, 1] == 0 and out[0, 0, 0] > 0


# --------------------------------------------------------------- focal loss

@given(problem=label_problems(), gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0]), scalar_alpha=st.booleans(),
       reduction=reductions)
def test_focal_loss_matches_pixel_loop_and_gradcheck(device, reduction, problem, gamma, scalar_alpha):
    z, t, alpha, ignore_index = problem
    if alpha is not None and scalar_alpha:
        alpha = 0.25
    expected = naive_focal(z, t, gamma, alpha, ignore_index, reduction)
    a = to_xp(alpha, device) if isinstance(alpha, np.ndarray) else alpha
    t_dev = to_xp(t, device)
    loss = lambda x: F.focal_loss(x, t_dev, gamma=gamma, alpha=a, ignore_index=ignore_index, reduction=reduction)
    logits = leaf(z, device)
    check_value(loss(logits), expected)
    mf.gradcheck(loss, logits)


@given(problem=label_problems())
def test_focal_loss_with_gamma_0_is_cross_entropy(device, problem):
    z, t, weight, ignore_index = problem
    t_dev = to_xp(t, device)
    a, b = leaf(z, device), leaf(z, device)
    focal = F.focal_loss(a, t_dev, gamma=0.0, ignore_index=ignore_index)
    ce = F.cross_entropy(b, t_dev, ignore_index=ignore_index)
    check_value(focal, ce.numpy())
    focal.backward()
    ce.backward()
    np.testing.assert_allclose(backend.to_numpy(a.grad), backend.to_numpy(b.grad), rtol=1e-10, atol=1e-15)
    if weight is not None:  # per-class alpha = class weights, but the mean counts pixels
        n_valid = int(np.sum(t != ignore_index))
        w = to_xp(weight, device)
        check_value(F.focal_loss(a, t_dev, gamma=0.0, alpha=w, ignore_index=ignore_index),
                    F.cross_entropy(b, t_dev, weight=w, ignore_index=ignore_index, reduction="sum").numpy() / n_valid)


def test_focal_loss_down_weights_easy_pixels(device):
    """The lecture's point: a confident correct pixel (p = 0.9) contributes (0.1)² = 1 % of its CE."""
    z = leaf(np.array([[math.log(9.0), 0.0]]), device)   # softmax = (0.9, 0.1)
    t = to_xp(np.array([0]), device)
    ce, fl = F.cross_entropy(z, t).numpy(), F.focal_loss(z, t, gamma=2.0).numpy()
    np.testing.assert_allclose(fl, 0.01 * ce, rtol=1e-12)
    np.testing.assert_allclose(ce, -math.log(0.9), rtol=1e-12)


@given(seed=seeds, gamma=st.sampled_from([0.0, 0.5, 2.0]), alpha=st.sampled_from([None, 0.25, 0.8]),
       ignore=st.booleans(), squeeze=st.booleans(), reduction=reductions)
def test_binary_focal_loss_matches_loop_and_gradcheck(device, reduction, seed, gamma, alpha, ignore, squeeze):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (2, 1, 2, 3))
    t = rng.integers(0, 2, (2, 1, 2, 3))
    if ignore:
        t[0, 0, 0, rng.integers(0, 3)] = -100
    expected = naive_binary_focal(x, t, gamma, alpha, reduction=reduction)
    t_dev = to_xp(t[:, 0] if squeeze else t, device)  # (N, H, W) targets for (N, 1, H, W) logits
    loss = lambda v: F.focal_loss(v, t_dev, gamma=gamma, alpha=alpha, reduction=reduction, mode="binary")
    logits = leaf(x, device)
    check_value(loss(logits), expected)
    mf.gradcheck(loss, logits)
    if gamma == 0 and alpha is None and not ignore and reduction == "mean":
        check_value(loss(logits), F.binary_cross_entropy_with_logits(logits, to_xp(t, device)).numpy())


# --------------------------------------------------------------- binary cross-entropy

@given(seed=seeds, pos_weight=st.sampled_from(["none", "scalar", "channel"]), soft=st.booleans(),
       reduction=reductions)
def test_bce_with_logits_matches_definition_and_gradcheck(device, reduction, seed, pos_weight, soft):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (2, 3, 2, 2))
    t = rng.random(x.shape) if soft else rng.integers(0, 2, x.shape)
    pw = {"none": None, "scalar": 2.5, "channel": rng.uniform(0.5, 3, (3, 1, 1))}[pos_weight]
    expected = naive_bce(x, t, 1.0 if pw is None else pw, reduction)
    pw_dev = to_xp(pw, device) if isinstance(pw, np.ndarray) else pw
    t_dev = to_xp(t, device)
    loss = lambda v: F.binary_cross_entropy_with_logits(v, t_dev, pos_weight=pw_dev, reduction=reduction)
    logits = leaf(x, device)
    check_value(loss(logits), expected)
    mf.gradcheck(loss, logits)


# --------------------------------------------------------------- Dice

@given(problem=label_problems(min_classes=2), smooth=st.sampled_from([0.0, 1.0]), background=st.booleans(),
       reduction=reductions)
def test_dice_loss_multiclass_matches_formula_and_gradcheck(device, reduction, problem, smooth, background):
    z, t, _, ignore_index = problem
    t = np.where(t == ignore_index, 0, t)  # dice_loss has no ignore_index
    expected = naive_dice(z, t, smooth, background, "multiclass", reduction)
    t_dev = to_xp(t, device)
    loss = lambda v: F.dice_loss(v, t_dev, smooth=smooth, include_background=background, reduction=reduction)
    logits = leaf(z, device)
    check_value(loss(logits), expected)
    mf.gradcheck(loss, logits)


@given(seed=seeds, channels=st.integers(1, 2), soft=st.booleans(), reduction=reductions)
def test_dice_loss_binary_matches_formula_and_gradcheck(device, reduction, seed, channels, soft):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (2, channels, 2, 3))
    t = rng.random(x.shape) if soft else rng.integers(0, 2, x.shape)
    expected = naive_dice(x, t, 1.0, mode="binary", reduction=reduction)
    t_dev = to_xp(t, device)
    loss = lambda v: F.dice_loss(v, t_dev, mode="binary", reduction=reduction)
    logits = leaf(x, device)
    check_value(loss(logits), expected)
    mf.gradcheck(loss, logits)


def test_dice_loss_of_a_perfect_prediction_is_near_zero(device):
    t = np.array([[[0, 1], [1, 2]]])
    z = leaf(1000.0 * np.moveaxis(np.eye(3)[t], -1, 1), device)   # softmax is exactly one-hot
    np.testing.assert_allclose(F.dice_loss(z, to_xp(t, device), smooth=0.0).numpy(), 0.0, atol=1e-15)
    # and a completely wrong one scores 1 per class (smooth = 0): no overlap at all
    wrong = leaf(1000.0 * np.moveaxis(np.eye(3)[(t + 1) % 3], -1, 1), device)
    np.testing.assert_allclose(F.dice_loss(wrong, to_xp(t, device), smooth=0.0).numpy(), 1.0)


# --------------------------------------------------------------- MSE

@given(seed=seeds, reduction=reductions)
def test_mse_loss_matches_numpy_and_gradcheck(device, reduction, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 1, 3, 2)), rng.normal(size=(2, 1, 3, 2))
    pred, target = leaf(a, device), leaf(b, device)   # a target that requires grad gets one too
    loss = lambda p, q: F.mse_loss(p, q, reduction=reduction)
    check_value(loss(pred, target), reduce_((a - b) ** 2, reduction, a.size))
    mf.gradcheck(loss, pred, target)
    check_value(F.mse_loss(pred, to_xp(b, device), reduction=reduction), reduce_((a - b) ** 2, reduction, a.size))


# --------------------------------------------------------------- stability

EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])  # (N=2, K=3)


@pytest.mark.parametrize("name", ["cross_entropy", "focal", "focal_gamma_half", "dice", "bce", "binary_focal",
                                  "binary_dice", "mse"])
def test_extreme_logits_give_finite_losses_and_gradients(device, name):
    binary = to_xp((EXTREME < 0).astype(float), device)  # wrong, confidently: the worst case
    loss = {
        "cross_entropy": lambda z: F.cross_entropy(z, labels),
        "focal": lambda z: F.focal_loss(z, labels),
        "focal_gamma_half": lambda z: F.focal_loss(z, labels, gamma=0.5),
        "dice": lambda z: F.dice_loss(z, labels),
        "bce": lambda z: F.binary_cross_entropy_with_logits(z, binary, pos_weight=3.0),
        "binary_focal": lambda z: F.focal_loss(z, binary, gamma=0.5, alpha=0.25, mode="binary"),
        "binary_dice": lambda z: F.dice_loss(z, binary, mode="binary"),
        "mse": lambda z: F.mse_loss(z, binary),
    }[name]
    for dtype in ("float32", "float64"):
        for labels in ([1, 0], [0, 1]):   # [0, 1]: p_t = 1 exactly in row 0 (focal's q = 0 branch)
            labels = to_xp(np.array(labels), device)
            z = mf.tensor(to_xp(EXTREME, device), requires_grad=True, device=device, dtype=dtype)
            out = loss(z)
            out.backward()
            assert np.isfinite(out.numpy()).all() and np.isfinite(backend.to_numpy(z.grad)).all(), (dtype, out)


def test_extreme_logits_give_exact_values(device):
    """-log softmax at a logit 2000 below the best is 2000; BCE of x = ±1000 on the wrong side is 1000."""
    z = leaf(np.array([[1000.0, -1000.0]]), device)
    check_value(F.cross_entropy(z, to_xp(np.array([1]), device)), 2000.0)
    check_value(F.cross_entropy(z, to_xp(np.array([0]), device)), 0.0)
    x = leaf(np.array([1000.0, -1000.0, 1000.0]), device)
    check_value(F.binary_cross_entropy_with_logits(x, to_xp(np.array([0.0, 1.0, 1.0]), device), reduction="none"),
                [1000.0, 1000.0, 0.0])


# --------------------------------------------------------------- helpers: one_hot, class_weights

def test_one_hot_layouts(device):
    labels = to_xp(np.array([[0, 2], [1, 1]]), device)
    last = F.one_hot(labels, 3)
    assert backend.device_of(last) == device and last.dtype == np.int64
    np.testing.assert_array_equal(backend.to_numpy(last), [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 1, 0]]])
    first = F.one_hot(labels[None], 3, axis=1, dtype=np.float32)       # (N, H, W) -> (N, K, H, W)
    assert first.shape == (1, 3, 2, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(backend.to_numpy(first)[0, 2], [[0, 1], [0, 0]])


def test_class_weights_on_a_hand_made_label_map(device):
    """Two 2×3 maps, 255 = void, class 3 absent. Counted pixels n = 6 + 5 = 11.

    counts n_c = (6, 2, 3, 0), K' = 3 present classes.
    inverse: w_c = n / (K' n_c) = 11/18, 11/6, 11/9, 0.
    median:  class 0 is in both images (11 pixels), 1 only in image 0 (6), 2 only in image 1 (5):
             f = 6/11, 2/6, 3/5; median 6/11; w = f_med / f = 1, 18/11, 10/11, 0.
    """
    labels = np.array([[[0, 0, 0], [0, 1, 1]],
                       [[0, 0, 2], [2, 2, 255]]])
    lab = to_xp(labels, device)
    inverse = F.class_weights(lab, 4, "inverse", ignore_index=255)
    median = F.class_weights(mf.Tensor(lab), 4, "median", ignore_index=255)
    assert backend.device_of(inverse) == device and inverse.dtype == np.float32
    np.testing.assert_allclose(backend.to_numpy(inverse), [11 / 18, 11 / 6, 11 / 9, 0], rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(median), [1, 18 / 11, 10 / 11, 0], rtol=1e-6)
    # each present class carries the same total weight with "inverse"
    per_class = backend.to_numpy(inverse)[:3] * np.array([6, 2, 3])
    np.testing.assert_allclose(per_class, 11 / 3, rtol=1e-6)
    # one (H, W) map is one image
    np.testing.assert_allclose(backend.to_numpy(F.class_weights(to_xp(np.array([[0, 0, 0, 1]]), device), 2)),
                               [4 / 6, 4 / 2], rtol=1e-6)


# --------------------------------------------------------------- bad input

def test_cross_entropy_errors(device):
    z = leaf(np.zeros((2, 3, 2, 2)), device)
    t = to_xp(np.zeros((2, 2, 2), dtype=np.int64), device)
    with pytest.raises(TypeError, match="target must hold integer class labels, got dtype float64"):
        F.cross_entropy(z, to_xp(np.zeros((2, 2, 2)), device))
    with pytest.raises(ValueError, match=r"target shape \(2, 3, 2\) does not match logits shape \(2, 3, 2, 2\)"):
        F.cross_entropy(z, to_xp(np.zeros((2, 3, 2), dtype=np.int64), device))
    bad = np.zeros((2, 2, 2), dtype=np.int64)
    bad[1, 0, 1] = 7
    with pytest.raises(ValueError, match=r"label 7, outside \[0, 3\) for K=3 classes"):
        F.cross_entropy(z, to_xp(bad, device))
    bad[1, 0, 1] = -1
    with pytest.raises(ValueError, match=r"label -1, outside \[0, 3\).*ignore_index=-100"):
        F.cross_entropy(z, to_xp(bad, device))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\), got \(4,\)"):
        F.cross_entropy(z, t, weight=to_xp(np.ones(4), device))
    with pytest.raises(ValueError, match="reduction='avg' is not one of"):
        F.cross_entropy(z, t, reduction="avg")
    with pytest.raises(TypeError, match="ignore_index=None must be an integer"):
        F.cross_entropy(z, t, ignore_index=None)
    with pytest.raises(TypeError, match="logits must be floating point"):
        F.cross_entropy(mf.Tensor(to_xp(np.zeros((2, 3), dtype=np.int64), device)), t[:, 0, 0])


def test_device_mismatch_names_both_devices():
    z = mf.Tensor(to_xp(np.zeros((2, 3)), "cuda"), requires_grad=True)
    host = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="cross_entropy: target is on device 'cpu' but logits are on 'cuda'"):
        F.cross_entropy(z, host)
    with pytest.raises(ValueError, match="weight is on device 'cpu' but logits are on 'cuda'"):
        F.cross_entropy(z, to_xp(host, "cuda"), weight=np.ones(3))
    with pytest.raises(ValueError, match="target is on device 'cuda' but logits are on 'cpu'"):
        F.binary_cross_entropy_with_logits(mf.tensor(np.zeros(3)), to_xp(np.zeros(3), "cuda"))
    with pytest.raises(ValueError, match="mse_loss: target is on device 'cpu' but pred is on 'cuda'"):
        F.mse_loss(z, mf.tensor(np.zeros((2, 3)), requires_grad=True))
    # Python lists have no device: they go where the logits are
    assert F.cross_entropy(z, [0, 2], weight=[1.0, 1.0, 2.0]).device == "cuda"


def test_other_loss_errors(device):
    z = leaf(np.zeros((2, 3, 2, 2)), device)
    labels = to_xp(np.zeros((2, 2, 2), dtype=np.int64), device)
    with pytest.raises(ValueError, match="mode='binary' needs targets 0 or 1 .*got value 2"):
        F.focal_loss(z, to_xp(np.full((2, 3, 2, 2), 2), device), mode="binary")
    with pytest.raises(ValueError, match=r"alpha None or a number in \[0, 1\], got 1.5"):
        F.focal_loss(z, to_xp(np.ones((2, 3, 2, 2)), device), alpha=1.5, mode="binary")
    with pytest.raises(ValueError, match=r"alpha must have one entry per class, shape \(3,\), got \(2,\)"):
        F.focal_loss(z, labels, alpha=to_xp(np.ones(2), device))
    with pytest.raises(ValueError, match="gamma=-1 must be >= 0"):
        F.focal_loss(z, labels, gamma=-1)
    with pytest.raises(ValueError, match="mode='multi' is not one of"):
        F.focal_loss(z, labels, mode="multi")
    with pytest.raises(ValueError, match=r"num_classes=4 does not match logits.shape\[1\]=3"):
        F.dice_loss(z, labels, num_classes=4)
    with pytest.raises(ValueError, match="include_background=False needs at least 2 classes"):
        F.dice_loss(z[:, :1], labels, include_background=False)
    with pytest.raises(ValueError, match=r"dice_loss: target holds label 3, outside \[0, 3\)"):
        F.dice_loss(z, labels + 3)
    with pytest.raises(ValueError, match=r"target shape \(2, 2\) does not match logits shape \(2, 3, 2, 2\)"):
        F.dice_loss(z, to_xp(np.zeros((2, 2)), device), mode="binary")
    with pytest.raises(ValueError, match=r"target shape \(2, 3\) does not match logits shape \(2, 3, 2, 2\)"):
        F.binary_cross_entropy_with_logits(z, to_xp(np.zeros((2, 3)), device))
    with pytest.raises(ValueError, match=r"pos_weight shape \(3,\) does not broadcast to logits shape "
                                         r"\(2, 3, 2, 2\) \(for per-channel weights .* use \(C, 1, 1\)\)"):
        F.binary_cross_entropy_with_logits(z, to_xp(np.zeros((2, 3, 2, 2)), device),
                                           pos_weight=to_xp(np.ones(3), device))
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(2, 3\) does not match pred shape"):
        F.mse_loss(z, to_xp(np.zeros((2, 3)), device))


def test_helper_errors(device):
    labels = to_xp(np.array([[0, 1], [3, 255]]), device)
    with pytest.raises(ValueError, match=r"one_hot: labels hold label 3, outside \[0, 3\)"):
        F.one_hot(labels, 3)
    with pytest.raises(TypeError, match="one_hot: labels must be integers, got dtype float64"):
        F.one_hot(to_xp(np.zeros(2), device), 3)
    with pytest.raises(ValueError, match="one_hot: num_classes must be an integer >= 1, got 0"):
        F.one_hot(labels, 0)
    with pytest.raises(ValueError, match=r"class_weights: labels hold label 3, outside \[0, 3\).*ignore_index=255"):
        F.class_weights(labels, 3, ignore_index=255)
    with pytest.raises(ValueError, match="method='mean' is not one of"):
        F.class_weights(labels, 4, method="mean")
    with pytest.raises(ValueError, match="no pixel to count"):
        F.class_weights(to_xp(np.full((2, 2), 255), device), 4, ignore_index=255)
    with pytest.raises(ValueError, match=r"labels must be \(N, H, W\) or \(H, W\), got shape \(4,\)"):
        F.class_weights(to_xp(np.zeros(4, dtype=np.int64), device), 2)


@given(seed=st.integers(0, 2**16), k=st.integers(2, 4), weighted=st.booleans(), ignore=st.booleans())
def test_simple_form_equals_fused_cross_entropy(device, seed, k, weighted, ignore):
    """The composed, readable cross-entropy and the fused one agree in value and gradient."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, k, 3, 4))
    t = rng.integers(0, k, (2, 3, 4))
    if ignore:
        t[0, 0, :2] = -100
    w = to_xp(rng.uniform(0.5, 2.0, k), device) if weighted else None
    grads = []
    for fn in (F.cross_entropy, F.cross_entropy_simple):
        x = mf.Tensor(to_xp(z, device), requires_grad=True)
        loss = fn(x, to_xp(t, device), weight=w)
        loss.backward()
        grads.append((loss.item(), mf.backend.to_numpy(x.grad)))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-14)
