"""Tests for minifcn.metrics against naive loops, set formulas and brute-force distances.

Every expected value is computed here, independently: the confusion matrix by a loop over
pixels, Dice/IoU from boolean sets per class, the Hausdorff distance from boundary pixels
found by looking at each pixel's neighbours and all pairwise Euclidean distances.
"""
import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import to_xp
from minifcn import backend, metrics
from minifcn.autograd import Tensor


# --------------------------------------------------------------- independent references

def naive_confusion(pred, target, K, ignore_index=None):
    cm = np.zeros((K, K), dtype=np.int64)
    for p, t in zip(pred.ravel().tolist(), target.ravel().tolist()):
        if t != ignore_index:
            cm[t, p] += 1
    return cm


def naive_scores(pred, target, K, ignore_index=None):
    """Per-class Dice and IoU from the sets P_k, T_k; NaN for absent or ignored classes."""
    keep = target != ignore_index if ignore_index is not None else np.ones(target.shape, bool)
    pred, target = pred[keep], target[keep]
    d, j = np.full(K, np.nan), np.full(K, np.nan)
    for k in range(K):
        P, T = pred == k, target == k
        if k == ignore_index or not (P.any() or T.any()):
            continue
        inter = np.sum(P & T)
        d[k] = 2 * inter / (P.sum() + T.sum())
        j[k] = inter / np.sum(P | T)
    return d, j


def naive_boundary(mask):
    """Pixels of ``mask`` with a face neighbour (4 in 2-D, 6 in 3-D) outside it or the image."""
    points = []
    for idx in itertools.product(*map(range, mask.shape)):
        if not mask[idx]:
            continue
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            n = list(idx)
            n[axis] += step
            if not 0 <= n[axis] < mask.shape[axis] or not mask[tuple(n)]:
                points.append(idx)
                break
    return np.array(points, dtype=np.float64)


def brute_hausdorff(pred, target, percentile=100, spacing=None):
    spacing = np.ones(pred.ndim) if spacing is None else np.asarray(spacing, np.float64)
    a, b = naive_boundary(pred) * spacing, naive_boundary(target) * spacing
    dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    return max(np.percentile(dist.min(axis=1), percentile),
               np.percentile(dist.min(axis=0), percentile))


def random_labels(seed, shape, K, ignore_index=None):
    rng = np.random.default_rng(seed)
    pred, target = rng.integers(0, K, shape), rng.integers(0, K, shape)
    if ignore_index is not None:
        target[rng.random(shape) < 0.2] = ignore_index
    return pred, target


def random_mask(rng, shape, density):
    mask = rng.random(shape) < density
    mask[tuple(rng.integers(0, s) for s in shape)] = True  # never empty
    return mask


shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6))  # (N, H, W)
seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------- confusion-matrix metrics

@given(seed=seeds, shape=shapes, K=st.integers(1, 4), ignore=st.sampled_from([None, 255, 0]))
def test_confusion_matrix_matches_naive_loop(device, seed, shape, K, ignore):
    pred, target = random_labels(seed, shape, K, ignore)
    cm = metrics.confusion_matrix(to_xp(pred, device), to_xp(target, device), K, ignore)
    assert backend.device_of(cm) == device
    np.testing.assert_array_equal(backend.to_numpy(cm), naive_confusion(pred, target, K, ignore))


def test_confusion_matrix_rows_are_targets(device):
    # one pixel of target class 0 predicted as class 2 -> row 0, column 2
    cm = metrics.confusion_matrix(to_xp([2], device), to_xp([0], device), 3)
    assert backend.to_numpy(cm)[0, 2] == 1 and backend.to_numpy(cm).sum() == 1


@given(seed=seeds, shape=shapes, K=st.integers(1, 4), ignore=st.sampled_from([None, 255, 1]))
def test_dice_iou_pixel_accuracy_match_set_formulas(device, seed, shape, K, ignore):
    pred, target = random_labels(seed, shape, K, ignore)
    p, t = to_xp(pred, device), to_xp(target, device)
    d, j = metrics.dice(p, t, K, ignore), metrics.iou(p, t, K, ignore)
    assert isinstance(d, np.ndarray) and d.dtype == np.float64 and d.shape == (K,)
    ref_d, ref_j = naive_scores(pred, target, K, ignore)
    np.testing.assert_allclose(d, ref_d, rtol=1e-12)
    np.testing.assert_allclose(j, ref_j, rtol=1e-12)
    kept = target != ignore
    acc = np.mean(pred[kept] == target[kept]) if kept.any() else np.nan
    np.testing.assert_allclose(metrics.pixel_accuracy(p, t, ignore), acc, rtol=1e-12)


@given(seed=seeds, shape=shapes, K=st.integers(1, 5))
def test_iou_equals_dice_over_two_minus_dice(device, seed, shape, K):
    pred, target = random_labels(seed, shape, K)
    p, t = to_xp(pred, device), to_xp(target, device)
    d = metrics.dice(p, t, K)
    np.testing.assert_allclose(metrics.iou(p, t, K), d / (2 - d), rtol=1e-12)


def test_lecture_example_background_everywhere(device):
    # the object covers 10 % of the image; predicting background everywhere
    target = np.zeros((10, 10), dtype=np.int64)
    target[0] = 1
    pred = np.zeros_like(target)
    p, t = to_xp(pred, device), to_xp(target, device)
    assert metrics.pixel_accuracy(p, t) == pytest.approx(0.9)
    d = metrics.dice(p, t)
    assert d[1] == 0.0                                    # the object is missed entirely
    assert d[0] == pytest.approx(2 * 90 / (100 + 90))
    np.testing.assert_allclose(metrics.iou(p, t), [0.9, 0.0])
    assert metrics.mean_dice(p, t) == pytest.approx((180 / 190 + 0) / 2)


def test_absent_class_is_nan_and_left_out_of_the_mean(device):
    target = np.array([[0, 0, 1], [1, 1, 0]])
    pred = np.array([[0, 1, 1], [1, 0, 0]])
    p, t = to_xp(pred, device), to_xp(target, device)
    d, j = metrics.dice(p, t, num_classes=4), metrics.iou(p, t, num_classes=4)
    np.testing.assert_allclose(d, [2 / 3, 2 / 3, np.nan, np.nan])
    assert np.isnan(j[2:]).all()
    assert metrics.mean_dice(p, t, num_classes=4) == pytest.approx(2 / 3)
    assert metrics.mean_iou(p, t, num_classes=4) == pytest.approx(0.5)
    # a class present only in the prediction is scored 0, not NaN
    assert metrics.dice(to_xp([[2, 0]], device), to_xp([[0, 0]], device), 3)[2] == 0.0


def test_num_classes_inferred_from_both_maps(device):
    d = metrics.dice(to_xp([0, 3], device), to_xp([0, 1], device))
    assert d.shape == (4,)
    np.testing.assert_allclose(d, [1.0, 0.0, np.nan, 0.0])


def test_all_nan_mean_is_nan_without_warnings(device):
    p, t = to_xp([[1, 1]], device), to_xp([[255, 255]], device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(metrics.mean_dice(p, t, num_classes=3, ignore_index=255))
        assert math.isnan(metrics.mean_iou(p, t, num_classes=3, ignore_index=255))
        assert math.isnan(metrics.pixel_accuracy(p, t, ignore_index=255))


def test_ignored_class_in_range_is_nan(device):
    target = np.array([0, 1, 1, 2, 2])
    pred = np.array([0, 1, 2, 2, 1])   # class 1 is ignored: pixels 1, 2 do not count
    d = metrics.dice(to_xp(pred, device), to_xp(target, device), 3, ignore_index=1)
    # kept pixels: (t=0,p=0), (t=2,p=2), (t=2,p=1) -> Dice_0 = 1, Dice_2 = 2*1/(1+2)
    np.testing.assert_allclose(d, [1.0, np.nan, 2 / 3])


def test_summary_agrees_with_the_single_metrics(device):
    pred, target = random_labels(7, (2, 5, 6), 3, ignore_index=255)
    p, t = to_xp(pred, device), to_xp(target, device)
    s = metrics.summary(p, t, 3, ignore_index=255)
    assert s["pixel_accuracy"] == pytest.approx(metrics.pixel_accuracy(p, t, 255))
    np.testing.assert_allclose(s["dice"], metrics.dice(p, t, 3, 255))
    np.testing.assert_allclose(s["iou"], metrics.iou(p, t, 3, 255))
    assert s["mean_dice"] == pytest.approx(np.nanmean(s["dice"]))
    assert s["mean_iou"] == pytest.approx(np.nanmean(s["iou"]))


def test_uint8_and_bool_label_maps(device):
    target = np.array([[0, 1], [2, 255]], dtype=np.uint8)   # 255: unlabelled
    pred = np.array([[0, 1], [1, 2]], dtype=np.uint8)
    cm = metrics.confusion_matrix(to_xp(pred, device), to_xp(target, device), 3, 255)
    np.testing.assert_array_equal(backend.to_numpy(cm), naive_confusion(pred, target, 3, 255))
    m = np.array([True, False, True])
    assert metrics.pixel_accuracy(to_xp(m, device), to_xp(~m, device)) == 0.0


def test_tensor_and_list_inputs():
    pred, target = random_labels(3, (4, 4), 3)
    np.testing.assert_array_equal(metrics.dice(Tensor(pred), Tensor(target), 3),
                                  metrics.dice(pred, target, 3))

    class LookAlike:  # a class named like a Tensor with a .data is not a Tensor
        def __init__(self, data):
            self.data = data
    LookAlike.__name__ = "Tensor"
    with pytest.raises(TypeError, match="pred must be a NumPy or CuPy array"):
        metrics.dice(LookAlike(pred), target, 3)
    assert metrics.pixel_accuracy([0, 1, 1, 1], [0, 1, 0, 1]) == 0.75


# ---------------------------------------------------------------------- bad label input

def test_label_errors_name_argument_value_and_range(device):
    a = to_xp([[0, 1], [2, 1]], device)
    with pytest.raises(ValueError, match=r"target holds label 2, outside \[0, 2\) for K=2 classes.*ignore_index"):
        metrics.confusion_matrix(a, a, 2)
    with pytest.raises(ValueError, match=r"pred holds label -1, outside \[0, 3\)"):
        metrics.dice(to_xp([0, -1], device), to_xp([0, 1], device), 3)
    with pytest.raises(ValueError, match=r"same shape.*pred \(2, 2\) and target \(4,\)"):
        metrics.iou(a, to_xp([0, 1, 1, 0], device), 3)
    with pytest.raises(TypeError, match=r"pred must hold integer class labels, got dtype "
                                        r"float32.*argmax"):
        metrics.pixel_accuracy(to_xp(np.zeros((2, 2), np.float32), device), a)
    with pytest.raises(ValueError, match=r"num_classes must be a positive int.*got 0"):
        metrics.dice(a, a, num_classes=0)
    with pytest.raises(ValueError, match=r"num_classes=None cannot be inferred.*pass num_classes"):
        metrics.dice(a, to_xp([[7, 7], [7, 7]], device), ignore_index=7)
    with pytest.raises(TypeError, match=r"ignore_index must be an int or None, got 0.5"):
        metrics.dice(a, a, 3, ignore_index=0.5)
    with pytest.raises(TypeError, match=r"target must be a NumPy or CuPy array.*got builtins.str"):
        metrics.pixel_accuracy(a, "mask.png")


def test_mixed_devices_are_refused():
    cpu, gpu = np.array([0, 1]), to_xp([0, 1], "cuda")
    with pytest.raises(ValueError, match=r"pred is on device 'cpu' but target is on device "
                                         r"'cuda'.*same device"):
        metrics.confusion_matrix(cpu, gpu, 2)
    with pytest.raises(ValueError, match=r"pred is on device 'cuda' but target is on "
                                         r"device 'cpu'"):
        metrics.hausdorff_distance(gpu, cpu)


# --------------------------------------------------------------------- Hausdorff distance

@pytest.mark.parametrize("spacing", [None, (2.0, 0.5)])
@pytest.mark.parametrize("percentile", [100, 95])
@given(seed=seeds, shape=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       density=st.floats(0.05, 0.9))
def test_hausdorff_matches_brute_force(device, percentile, spacing, seed, shape, density):
    rng = np.random.default_rng(seed)
    pred, target = random_mask(rng, shape, density), random_mask(rng, shape, density)
    got = metrics.hausdorff_distance(to_xp(pred, device), to_xp(target, device),
                                     percentile=percentile, spacing=spacing)
    assert isinstance(got, float)
    assert got == pytest.approx(brute_hausdorff(pred, target, percentile, spacing), rel=1e-9)


def test_hausdorff_is_symmetric_and_accepts_0_1_integers(device):
    rng = np.random.default_rng(0)
    pred, target = random_mask(rng, (6, 7), 0.4), random_mask(rng, (6, 7), 0.4)
    p, t = to_xp(pred.astype(np.uint8), device), to_xp(target.astype(np.int64), device)
    assert metrics.hausdorff_distance(p, t) == metrics.hausdorff_distance(t, p)
    assert metrics.hausdorff_distance(p, t) == pytest.approx(brute_hausdorff(pred, target))


def test_hausdorff_single_pixels_and_spacing(device):
    pred, target = np.zeros((5, 6), bool), np.zeros((5, 6), bool)
    pred[0, 0] = target[3, 4] = True
    p, t = to_xp(pred, device), to_xp(target, device)
    assert metrics.hausdorff_distance(p, t) == pytest.approx(5.0)
    assert metrics.hausdorff_distance(p, t, spacing=(2.0, 1.0)) == pytest.approx(math.sqrt(52))
    assert metrics.hausdorff_distance(p, t, spacing=3) == pytest.approx(15.0)


def test_hausdorff_boundary_uses_the_cross(device):
    # Pixel (1, 1) of pred has all four face neighbours in pred, so the cross-shaped
    # erosion keeps it inside; only its diagonal neighbour (0, 0) is outside. Counted as a
    # boundary pixel (a 3x3 square structuring element) it would give sqrt(5), not 2.
    pred = np.array([[0, 1, 1, 0, 0],
                     [1, 1, 1, 0, 0],
                     [0, 1, 1, 0, 0],
                     [0, 1, 0, 1, 1],
                     [0, 1, 0, 1, 0]], dtype=bool)
    target = np.zeros((5, 5), bool)
    target[0, 3] = target[2, 3] = target[3, 0] = True
    got = metrics.hausdorff_distance(to_xp(pred, device), to_xp(target, device))
    assert got == pytest.approx(2.0) == brute_hausdorff(pred, target)


def test_hd95_ignores_a_stray_pixel(device):
    target = np.zeros((20, 20), bool)
    target[2:14, 2:14] = True
    pred = target.copy()
    pred[19, 19] = True                       # one stray pixel far from the object
    p, t = to_xp(pred, device), to_xp(target, device)
    hd, hd95 = metrics.hausdorff_distance(p, t), metrics.hausdorff_distance(p, t, 95)
    assert hd == pytest.approx(math.hypot(6, 6))
    assert hd95 == pytest.approx(brute_hausdorff(pred, target, 95)) and hd95 < 1.0


def test_hausdorff_3d_matches_brute_force(device):
    rng = np.random.default_rng(1)
    pred, target = random_mask(rng, (4, 5, 6), 0.5), random_mask(rng, (4, 5, 6), 0.3)
    got = metrics.hausdorff_distance(to_xp(pred, device), to_xp(target, device),
                                     percentile=95, spacing=(1.5, 1.0, 0.5))
    assert got == pytest.approx(brute_hausdorff(pred, target, 95, (1.5, 1.0, 0.5)), rel=1e-9)


def test_hausdorff_empty_masks(device):
    empty, full = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    e, f = to_xp(empty, device), to_xp(full, device)
    assert math.isnan(metrics.hausdorff_distance(e, e))
    assert metrics.hausdorff_distance(e, f) == math.inf
    assert metrics.hausdorff_distance(f, e, percentile=95) == math.inf
    assert metrics.hausdorff_distance(f, f) == 0.0


def test_hausdorff_errors(device):
    m = to_xp(np.eye(3, dtype=bool), device)
    with pytest.raises(ValueError, match=r"percentile must be a number in \[0, 100\], got 101"):
        metrics.hausdorff_distance(m, m, percentile=101)
    with pytest.raises(ValueError, match=r"percentile must be .*got -5"):
        metrics.hausdorff_distance(m, m, percentile=-5)
    with pytest.raises(ValueError, match=r"spacing must be .*2 positive numbers.*got \(1.0,\)"):
        metrics.hausdorff_distance(m, m, spacing=(1.0,))
    with pytest.raises(ValueError, match=r"spacing must be .*got \(1.0, 0.0\)"):
        metrics.hausdorff_distance(m, m, spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"target must be a binary mask.*found the value 2"):
        metrics.hausdorff_distance(m, to_xp([[0, 1, 2]] * 3, device))
    with pytest.raises(ValueError, match=r"pred and target must have the same shape, "
                                         r"got pred \(3, 3\) and target \(2, 2\)"):
        metrics.hausdorff_distance(m, to_xp(np.eye(2, dtype=bool), device))
