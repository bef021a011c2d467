"""Data-set-level metrics: FCN's four scores from one accumulated confusion matrix.

Expected values come from a hand-computed matrix, from loops over pixels and classes
written here (and scikit-learn where it is installed), never from the code under test.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REAL_GPU, to_xp
from minifcn import backend, metrics
from test_metrics import naive_confusion


def naive_fcn(pred_batches, target_batches, K, ignore_index=None):
    """Long et al. 2015, sec. 5, by loops: n[i][j] counted pixel by pixel, then the formulas."""
    n = [[0] * K for _ in range(K)]
    for pred, target in zip(pred_batches, target_batches):
        for p, t in zip(np.ravel(pred).tolist(), np.ravel(target).tolist()):
            if t != ignore_index:
                n[t][p] += 1
    t = [sum(n[i]) for i in range(K)]
    col = [sum(n[j][i] for j in range(K)) for i in range(K)]
    acc = [n[i][i] / t[i] if t[i] else math.nan for i in range(K)]
    iu = [n[i][i] / (t[i] + col[i] - n[i][i]) if t[i] + col[i] else math.nan for i in range(K)]
    keep = [v for v in acc if not math.isnan(v)]
    keep_iu = [v for v in iu if not math.isnan(v)]
    total = sum(t)
    return {"pixel_accuracy": sum(n[i][i] for i in range(K)) / total if total else math.nan,
            "mean_accuracy": sum(keep) / len(keep) if keep else math.nan,
            "mean_iou": sum(keep_iu) / len(keep_iu) if keep_iu else math.nan,
            "fw_iou": sum(t[i] * iu[i] for i in range(K) if t[i]) / total if total else math.nan,
            "iou": iu, "accuracy": acc}


def test_fcn_scores_of_a_hand_computed_matrix():
    # rows = target, columns = prediction; class 2 is never a target but predicted once
    cm = np.array([[3, 1, 1],
                   [2, 4, 0],
                   [0, 0, 0]])
    s = metrics.fcn_scores(cm)
    assert s["pixel_accuracy"] == pytest.approx(7 / 11)
    np.testing.assert_allclose(s["accuracy"], [3 / 5, 4 / 6, np.nan])
    assert s["mean_accuracy"] == pytest.approx((3 / 5 + 4 / 6) / 2)
    # IoU_0 = 3 / (5 + 5 - 3), IoU_1 = 4 / (6 + 5 - 4), IoU_2 = 0 / (0 + 1 - 0)
    np.testing.assert_allclose(s["iou"], [3 / 7, 4 / 7, 0.0])
    assert s["mean_iou"] == pytest.approx(1 / 3)
    assert s["fw_iou"] == pytest.approx((5 * 3 / 7 + 6 * 4 / 7) / 11)
    np.testing.assert_allclose(s["dice"], [6 / 10, 8 / 11, 0.0])


def test_fcn_scores_absent_and_ignored_classes():
    cm = np.array([[4, 0, 0], [0, 0, 0], [1, 0, 3]])     # class 1 in neither map
    s = metrics.fcn_scores(cm)
    assert np.isnan(s["iou"][1]) and np.isnan(s["accuracy"][1])
    assert s["mean_iou"] == pytest.approx((4 / 5 + 3 / 4) / 2)
    s = metrics.fcn_scores(np.zeros((3, 3), np.int64))
    assert all(math.isnan(s[k]) for k in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou"))
    with pytest.raises(ValueError, match="not a confusion matrix"):
        metrics.fcn_scores(np.zeros((2, 3)))


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 4), batches=st.integers(1, 3),
       ignore=st.sampled_from([None, 255]))
def test_accumulator_equals_naive_loop_over_batches(device, seed, K, batches, ignore):
    rng = np.random.default_rng(seed)
    preds, targets = [], []
    acc = metrics.ConfusionMatrix(K, ignore_index=ignore)
    for _ in range(batches):
        shape = tuple(rng.integers(1, 5, 3))
        p, t = rng.integers(0, K, shape), rng.integers(0, K, shape)
        if ignore is not None:
            t[rng.random(shape) < 0.3] = ignore
        preds.append(p)
        targets.append(t)
        acc.update(to_xp(p, device), to_xp(t, device))
    assert backend.device_of(acc.matrix) == device
    want = sum(naive_confusion(p, t, K, ignore) for p, t in zip(preds, targets))
    np.testing.assert_array_equal(backend.to_numpy(acc.matrix), want)
    got, ref = acc.compute(), naive_fcn(preds, targets, K, ignore)
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, err_msg=key)
    np.testing.assert_allclose(got["iou"], ref["iou"], rtol=1e-12)
    np.testing.assert_allclose(got["accuracy"], ref["accuracy"], rtol=1e-12)
    assert got["ignored_pixels"] == sum(int((t == ignore).sum()) for t in targets) if ignore else True


def test_against_scikit_learn_where_installed():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    p, t = rng.integers(0, 4, (3, 9, 7)), rng.integers(0, 4, (3, 9, 7))
    acc = metrics.ConfusionMatrix(4)
    acc.update(p, t)
    s = acc.compute()
    np.testing.assert_array_equal(acc.matrix, sk.confusion_matrix(t.ravel(), p.ravel(), labels=range(4)))
    np.testing.assert_allclose(s["iou"], sk.jaccard_score(t.ravel(), p.ravel(), average=None))
    np.testing.assert_allclose(s["mean_accuracy"], sk.balanced_accuracy_score(t.ravel(), p.ravel()))


def test_bad_labels_are_counted_without_a_sync_and_reported_once():
    acc = metrics.ConfusionMatrix(3, ignore_index=255)
    acc.update(np.array([[0, 1]]), np.array([[7, 255]]))
    with pytest.raises(ValueError, match=r"1 pixels had a target or predicted label outside \[0, 3\)"):
        acc.compute()
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        metrics.ConfusionMatrix(0)


@pytest.mark.skipif(REAL_GPU, reason="counts device syncs with the strict stand-in")
def test_accumulating_on_the_device_never_syncs():
    import strict_cupy
    rng = np.random.default_rng(1)
    batches = [(to_xp(rng.integers(0, 3, (2, 8, 8)), "cuda"), to_xp(rng.integers(0, 3, (2, 8, 8)), "cuda"))
               for _ in range(4)]
    acc = metrics.ConfusionMatrix(3, ignore_index=255)
    with strict_cupy.counting() as c:
        for p, t in batches:
            acc.update(p, t)
        assert c["syncs"] == 0 and c["uploads"] == 0
    assert acc.compute()["confusion"].sum() == 4 * 2 * 64


def test_per_image_mean_and_data_set_miou_rank_two_predictions_differently():
    # a large image (20 x 20: left half class 0, right half class 1) and a small one (2 x 2)
    big = np.zeros((20, 20), np.int64)
    big[:, 10:] = 1
    small = np.array([[0, 1], [0, 1]])
    a_big = np.zeros_like(big)
    a_big[:, 13:] = 1          # A: boundary 3 columns off on the large image ...
    a_small = small.copy()     # ... perfect on the small one
    b_big = big.copy()         # B: perfect on the large image ...
    b_small = np.zeros_like(small)   # ... all background on the small one

    def per_image_mean(preds, targets):   # mean over images of each image's mIoU, by loops
        return np.mean([naive_fcn([p], [t], 2)["mean_iou"] for p, t in zip(preds, targets)])

    def data_set(preds, targets):
        return naive_fcn(preds, targets, 2)["mean_iou"]
    targets = [big, small]
    a, b = [a_big, a_small], [b_big, b_small]
    assert per_image_mean(a, targets) > per_image_mean(b, targets)   # per image: A wins
    assert data_set(a, targets) < data_set(b, targets)               # data set: B wins

    def ours(preds):
        acc = metrics.ConfusionMatrix(2)
        for p, t in zip(preds, targets):
            acc.update(p[None], t[None])
        per = [np.nanmean(metrics.per_image_scores(p[None], t[None], 2)["iou"]) for p, t in zip(preds, targets)]
        return acc.compute()["mean_iou"], float(np.mean(per))
    (a_set, a_img), (b_set, b_img) = ours(a), ours(b)
    assert a_set == pytest.approx(data_set(a, targets)) and b_set == pytest.approx(data_set(b, targets))
    assert a_img == pytest.approx(per_image_mean(a, targets)) and b_img == pytest.approx(per_image_mean(b, targets))
    assert a_img > b_img and a_set < b_set


def test_per_image_scores_match_single_image_scores(device):
    rng = np.random.default_rng(3)
    p, t = rng.integers(0, 3, (4, 5, 6)), rng.integers(0, 3, (4, 5, 6))
    t[0] = 255
    t[1, :2] = 255
    got = metrics.per_image_scores(to_xp(p, device), to_xp(t, device), 3, ignore_index=255)
    want = np.stack([metrics.iou(p[i], t[i], 3, 255) for i in range(4)])
    np.testing.assert_allclose(got["iou_per_image"], want)
    assert np.isnan(got["iou_per_image"][0]).all()         # an image that is all void scores nothing
    np.testing.assert_allclose(got["iou"], np.nanmean(want[1:], axis=0))
