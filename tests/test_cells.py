"""Touching cells: the data set, U-Net's border weight map, the per-pixel weighted
cross-entropy, elastic deformations, object-level scores, and `train --data cells`.

References are independent of the code under test: distances by brute force over pixel
pairs, the loss by a loop over pixels on Python floats, the deformation by sampling a
pattern whose values are its own coordinates, object counts from hand-made cases.
"""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minifcn as mf
from conftest import to_xp
from minifcn import backend, metrics
from minifcn import functional as F
from minifcn.data import SyntheticCells, elastic_field, random_elastic, warp
from minifcn.data.weightmap import border_weight_map, cell_distances
from strategies import leaf, seeds


# --------------------------------------------------------------------------- the data set

def test_cells_are_deterministic_and_order_free():
    a, b = SyntheticCells(6, seed=3), SyntheticCells(6, seed=3)
    for x, y in zip(a.arrays(), b.arrays()):
        np.testing.assert_array_equal(x, y)
    for got, want in zip(b[4], a.arrays()):          # item 4 alone equals item 4 of the stack
        np.testing.assert_array_equal(got, want[4])
    other = SyntheticCells(6, seed=4).arrays()[0]
    assert not np.array_equal(a.arrays()[0], other)


def test_cells_labels_are_consistent_and_cells_touch():
    images, masks, instances = SyntheticCells(8, seed=0).arrays()
    assert images.shape == (8, 1, 64, 64) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    assert masks.dtype == np.int64 and instances.dtype == np.int64
    np.testing.assert_array_equal(masks, (instances > 0).astype(np.int64))
    # the instances are separated: no pixel has a different cell among its 8 neighbours
    padded = np.pad(instances, ((0, 0), (1, 1), (1, 1)))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            nb = padded[:, 1 + dr:65 + dr, 1 + dc:65 + dc]
            assert not ((instances > 0) & (nb > 0) & (nb != instances)).any()
    # ... yet many cells come within 3 px of another one (touching or nearly)
    d1, d2 = cell_distances(instances[0])
    touching = sum(1 for k in range(1, instances[0].max() + 1)
                   if (d2[instances[0] == k] <= 3).any())
    assert touching >= 0.6 * instances[0].max()
    # border class: the separating lines become class 2, everything else unchanged
    _, bmasks, binst = SyntheticCells(8, seed=0, border=True).arrays()
    np.testing.assert_array_equal(binst, instances)
    assert (bmasks == 2).any() and ((bmasks == 2) <= (masks == 0)).all()


def _histogram_classifier(train_features, train_labels, test_features, bins=16):
    """Bayes-optimal rule on quantised features: the majority label of each feature bin."""
    edges = [np.quantile(train_features[..., j], np.linspace(0, 1, bins + 1)[1:-1])
             for j in range(train_features.shape[-1])]

    def code(f):
        c = np.zeros(f.shape[:-1], np.int64)
        for j, e in enumerate(edges):
            c = c * bins + np.searchsorted(e, f[..., j])
        return c
    ct = code(train_features).ravel()
    n_bins = bins ** train_features.shape[-1]
    fg = np.bincount(ct, weights=train_labels.ravel(), minlength=n_bins)
    total = np.bincount(ct, minlength=n_bins)
    return (fg > total / 2)[code(test_features)].astype(np.int64)


def test_colour_alone_does_not_separate_cells_but_context_does():
    import scipy.ndimage as nd
    tx, ty, _ = SyntheticCells(32, seed=0).arrays()
    vx, vy, _ = SyntheticCells(16, seed=1).arrays()
    colour = _histogram_classifier(tx[:, 0, ..., None], ty, vx[:, 0, ..., None])

    def context(x):   # local mean and local energy of the fine grain: what a 5x5 window sees
        x = x[:, 0].astype(np.float64)
        fine = x - nd.gaussian_filter(x, (0, 1.5, 1.5))
        return np.stack([nd.gaussian_filter(x, (0, 1, 1)), nd.gaussian_filter(fine ** 2, (0, 2, 2))], -1)
    seen = _histogram_classifier(context(tx), ty, context(vx))
    dice_colour, dice_context = metrics.dice(colour, vy, 2)[1], metrics.dice(seen, vy, 2)[1]
    assert dice_colour < 0.3, dice_colour           # the best per-pixel rule finds (almost) no cell
    assert dice_context > dice_colour + 0.4, (dice_context, dice_colour)


# ------------------------------------------------------------------------- the weight map

def brute_force_weight_map(instances, w0, sigma):
    """w = w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2)) on background, every distance by a loop."""
    h, w = instances.shape
    cells = [k for k in np.unique(instances) if k > 0]
    counts = {c: int((instances > 0).sum()) if c else int((instances == 0).sum()) for c in (0, 1)}
    present = [c for c in (0, 1) if counts[c] > 0]
    out = np.zeros((h, w))
    for r in range(h):
        for c in range(w):
            cls = int(instances[r, c] > 0)
            out[r, c] = instances.size / (len(present) * counts[cls])
            if cls == 0 and len(cells) >= 2:
                dist = sorted(min(math.hypot(r - i, c - j) for i, j in zip(*np.nonzero(instances == k)))
                              for k in cells)
                out[r, c] += w0 * math.exp(-(dist[0] + dist[1]) ** 2 / (2 * sigma ** 2))
    return out


@settings(max_examples=12)
@given(seed=seeds, cells=st.integers(0, 4), size=st.integers(3, 9), sigma=st.sampled_from([1.0, 2.5, 5.0]))
def test_weight_map_matches_brute_force(seed, cells, size, sigma):
    rng = np.random.default_rng(seed)
    instances = np.zeros((size, size), np.int64)
    for k in range(1, cells + 1):     # small rectangles, later ones on top
        r, c = rng.integers(0, size, 2)
        instances[r:r + rng.integers(1, 4), c:c + rng.integers(1, 4)] = k
    got = border_weight_map(instances, w0=10.0, sigma=sigma)
    np.testing.assert_allclose(got, brute_force_weight_map(instances, 10.0, sigma), rtol=1e-5)
    batch = border_weight_map(np.stack([instances, instances[::-1]]), w0=10.0, sigma=sigma)
    np.testing.assert_allclose(batch[1], border_weight_map(instances[::-1], 10.0, sigma))


def test_weight_map_is_highest_in_the_gap_between_two_cells():
    instances = np.zeros((9, 20), np.int64)
    instances[2:7, 2:9], instances[2:7, 11:18] = 1, 2        # a 2-px gap at columns 9, 10
    w = border_weight_map(instances, balance=False)
    gap, outside = w[4, 9], w[4, 0]
    np.testing.assert_allclose(gap, 1 + 10 * math.exp(-(1 + 2) ** 2 / 50), rtol=1e-6)
    assert gap > outside and (w[instances > 0] == 1).all()


# ------------------------------------------------------------- weighted cross-entropy

def naive_weighted_ce(z, t, weight_map, reduction):
    losses = np.zeros(t.shape)
    for idx in np.ndindex(*t.shape):
        n, rest = idx[0], idx[1:]
        scores = [float(z[(n, k) + rest]) for k in range(z.shape[1])]
        log_p = scores[t[idx]] - math.log(sum(math.exp(s) for s in scores))
        losses[idx] = -weight_map[idx] * log_p
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / weight_map.sum()


@given(seed=seeds, shape=st.sampled_from([(1, 2, 3, 3), (2, 3, 2, 4), (2, 2, 5)]),
       reduction=st.sampled_from(["mean", "sum", "none"]), class_weights=st.booleans())
def test_cross_entropy_weight_map_matches_pixel_loop_and_gradcheck(device, seed, shape, reduction, class_weights):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, shape)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    m = rng.uniform(0.1, 11.0, t.shape)
    cw = rng.uniform(0.5, 2.0, shape[1]) if class_weights else None
    effective = m * (cw[t] if class_weights else 1.0)
    t_dev, m_dev = to_xp(t, device), to_xp(m, device)
    cw_dev = None if cw is None else to_xp(cw, device)
    loss = lambda x: F.cross_entropy(x, t_dev, weight=cw_dev, reduction=reduction, weight_map=m_dev)
    logits = leaf(z, device)
    np.testing.assert_allclose(loss(logits).numpy(), naive_weighted_ce(z, t, effective, reduction), rtol=1e-10)
    mf.gradcheck(loss, logits)
    if reduction == "mean":   # the fused loss equals the one composed from autograd ops
        simple = F.cross_entropy_simple(logits, t_dev, weight=cw_dev, weight_map=m_dev)
        np.testing.assert_allclose(simple.numpy(), loss(logits).numpy(), rtol=1e-10)


def test_cross_entropy_weight_map_checks_its_shape(device):
    z = leaf(np.zeros((1, 2, 3, 3)), device)
    t = to_xp(np.zeros((1, 3, 3), np.int64), device)
    with pytest.raises(ValueError, match="weight_map shape"):
        F.cross_entropy(z, t, weight_map=to_xp(np.ones((1, 3, 4)), device))


# ----------------------------------------------------------------- elastic deformation

def test_elastic_deformation_of_the_identity_pattern(device):
    """Image = its own coordinates: bilinear sampling reproduces a linear function exactly,
    so the deformed image must equal the (mirrored) sampling positions r + dr, c + dc."""
    n, h, w = 3, 12, 15
    rr, cc = np.mgrid[0:h, 0:w].astype(np.float64)
    identity = np.broadcast_to(np.stack([rr, cc]), (n, 2, h, w)).copy()
    labels = np.arange(n * h * w, dtype=np.int64).reshape(n, 1, h, w)     # every pixel its own label
    field = elastic_field(np.random.default_rng(7), n, h, w, grid=3, std=3.0)
    images, moved = random_elastic(np.random.default_rng(7), to_xp(identity, device), to_xp(labels, device),
                                   grid=3, std=3.0)
    images, moved = backend.to_numpy(images), backend.to_numpy(moved)

    def mirror(x, size):
        x = abs(x) % (2 * (size - 1))
        return 2 * (size - 1) - x if x > size - 1 else x
    for k in range(n):
        for r in range(h):
            for c in range(w):
                sr, sc = mirror(r + field[k, 0, r, c], h), mirror(c + field[k, 1, r, c], w)
                assert images[k, 0, r, c] == pytest.approx(sr, abs=1e-9)
                assert images[k, 1, r, c] == pytest.approx(sc, abs=1e-9)
                assert moved[k, 0, r, c] == labels[k, 0, int(round(sr)), int(round(sc))]
    assert moved.dtype == np.int64 and np.abs(field).max() > 1          # the field really moved pixels


def test_elastic_keeps_cells_images_and_labels_aligned():
    images, masks, instances = SyntheticCells(4, seed=2).arrays()
    stacked = np.stack([masks, instances], 1)
    field = elastic_field(np.random.default_rng(0), 4, 64, 64)
    moved = warp(stacked, field, "nearest")
    assert moved.dtype == np.int64 and set(np.unique(moved[:, 0])) <= {0, 1}
    np.testing.assert_array_equal(moved[:, 0], (moved[:, 1] > 0).astype(np.int64))
    # the mask warped as a picture (bilinear) agrees with the mask warped as labels (nearest)
    as_picture = warp(masks[:, None].astype(np.float64), field, "bilinear")[:, 0]
    assert ((as_picture > 0.5) == (moved[:, 0] == 1)).mean() > 0.97


def test_warp_checks_its_arguments():
    with pytest.raises(ValueError, match="mode="):
        warp(np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 4, 4)), "cubic")
    with pytest.raises(ValueError, match="field of shape"):
        warp(np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 4, 5)))


# ------------------------------------------------------------------------ object scores

def test_object_scores_on_a_merge_a_split_and_a_miss():
    true = np.zeros((10, 24), np.int64)
    true[1:4, 1:4], true[1:4, 5:8] = 1, 2          # two touching cells ...
    true[6:9, 1:9] = 3                             # ... one long cell ...
    true[1:4, 12:15] = 4                           # ... one cell found exactly ...
    true[6:9, 12:15] = 5                           # ... and one missed
    pred = np.zeros_like(true)
    pred[1:4, 1:8] = 1                             # one blob over cells 1 and 2: a merge
    pred[6:9, 1:4], pred[6:9, 6:9] = 1, 1          # cell 3 in two pieces: a split
    pred[1:4, 12:15] = 1                           # cell 4: a match
    pred[0, 20] = 1                                # a speck: a false positive
    s = metrics.object_scores(pred, true)
    assert (s["tp"], s["fp"], s["fn"], s["merged"], s["split"]) == (1, 4, 4, 1, 1)
    assert (s["pred_objects"], s["true_objects"]) == (5, 5)
    assert s["precision"] == pytest.approx(1 / 5) and s["recall"] == pytest.approx(1 / 5)
    assert s["f1"] == pytest.approx(2 / (2 + 4 + 4))
    # the same images twice as a batch: every count doubles, the ratios stay
    b = metrics.object_scores(np.stack([pred, pred]), np.stack([true, true]))
    assert (b["tp"], b["fp"], b["fn"], b["merged"], b["split"]) == (2, 8, 8, 2, 2)


def test_object_scores_match_at_iou_one_half():
    true = np.zeros((4, 8), np.int64)
    true[0:4, 0:4] = 7
    pred = np.zeros_like(true)
    pred[0:4, 0:2] = 1                             # IoU 8/16 = 0.5: a match
    assert metrics.object_scores(pred, true)["tp"] == 1
    pred[0, 1] = 0                                 # IoU 7/16 < 0.5: not a match
    assert metrics.object_scores(pred, true)["tp"] == 0
    # diagonal neighbours are two objects with connectivity 1, one with connectivity 2
    diag = np.eye(4, dtype=np.int64)
    assert metrics.connected_components(diag)[1] == 4 and metrics.connected_components(diag, 2)[1] == 1


def test_perfect_prediction_scores_one():
    _, masks, instances = SyntheticCells(4, seed=5).arrays()
    s = metrics.object_scores(masks, instances)
    assert s["f1"] == 1 and s["merged"] == s["split"] == 0 and s["tp"] == sum(int(i.max()) for i in instances)


# -------------------------------------------------------------------- train --data cells

def test_train_on_cells_reports_object_scores(tmp_path):
    from minifcn.train import TrainConfig, train
    cfg = TrainConfig(data="cells", samples=10, image_size=32, epochs=1, batch_size=4, base_channels=4,
                      depth=2, out=str(tmp_path))
    history = train(cfg, progress=False, log=lambda s: None)
    record = json.loads((tmp_path / "metrics.json").read_text())[0]
    assert {"val_object_f1", "val_object_precision", "val_object_recall", "val_merged", "val_split"} <= set(record)
    assert 0 <= history[0]["val_object_f1"] <= 1
    assert "val_object_f1" in (tmp_path / "metrics.csv").read_text().splitlines()[0]


def test_cli_train_and_eval_on_cells(capsys, tmp_path):
    from minifcn.cli import main
    code = main(["train", "--data", "cells", "--epochs", "1", "--samples", "10", "--image-size", "32",
                 "--batch-size", "4", "--base-channels", "4", "--depth", "2", "--no-weight-map", "--no-elastic",
                 "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "objects: F1" in out
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["data"] == "cells" and config["weight_map"] is False and config["elastic"] is False
    code = main(["eval", str(tmp_path / "best.npz"), "--data", "cells"])
    out = capsys.readouterr().out
    assert code == 0 and "64 images, 2 classes" in out and "objects (connected components" in out
