"""Behaviours no other test pinned down (issue 14): each test here failed on a planted bug.

1. loading never unpickles, even a file whose metadata is valid;
2. best.npz is the best over the whole run, across a crash and --resume;
3. the validation loss is the per-pixel mean over the validation set (batches weighted by size);
4. augmentation differs between epochs and is reproducible for a (seed, epoch, batch);
5. mean_dice_fg leaves the background out;
6. max_unpool2d refuses the first out-of-range index, OH*OW, on both devices.
(7, max pooling over windows of padding only, is in test_pool.py's naive-loop property.)

Expected values come from arithmetic done here (NumPy log-softmax, set counts), never from
the code under test.
"""
import copy
import json

import numpy as np
import pytest

import minifcn as mf
import minifcn.train as T
from minifcn import checkpoint, metrics
from minifcn import functional as F
from minifcn.train import TrainConfig, build_data, load_model, train
from conftest import to_xp


def tiny(path, **kw):
    cfg = dict(samples=20, image_size=16, epochs=2, batch_size=4, base_channels=4, depth=2, out=str(path),
               num_classes=3)
    cfg.update(kw)
    return TrainConfig(**cfg)


def quiet(cfg, **kw):
    return train(cfg, progress=False, log=lambda s: None, **kw)


# ---- 1. loading never unpickles -----------------------------------------------------------
class Tripwire:
    """Unpickling this opens (so creates) a file: proof that something was unpickled."""
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("referenced", [True, False])
def test_load_refuses_an_object_entry_beside_valid_metadata(tmp_path, referenced):
    marker = tmp_path / "unpickled.txt"
    tree = ["dict", {"w": ["array", "w"]} | ({"evil": ["array", "evil"]} if referenced else {})]
    meta = json.dumps({"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "tree": tree})
    path = tmp_path / "looks_right.npz"
    np.savez(path, **{checkpoint.META_KEY: np.frombuffer(meta.encode(), np.uint8), "w": np.ones(3),
                      "evil": np.array([Tripwire(str(marker))], dtype=object)})
    with np.load(path, allow_pickle=True) as npz:          # the trap works when pickle is allowed
        npz["evil"]
    assert marker.exists()
    marker.unlink()
    with pytest.raises(checkpoint.CheckpointError, match=r"looks_right.npz: entry 'evil' cannot be read"):
        mf.load(path)
    assert not marker.exists()


# ---- 2. best.npz over a resume ------------------------------------------------------------
def test_best_checkpoint_is_the_best_of_the_whole_run_across_a_resume(tmp_path, monkeypatch):
    """Scripted validation Dice 0.9, 0.5, 0.6: the best epoch (1) is before the crash."""
    dice = iter([0.9, 0.5, 0.6])
    real = T.evaluate

    def scripted(*args, **kw):
        return dict(real(*args, **kw), dice=next(dice))
    monkeypatch.setattr(T, "evaluate", scripted)

    def crash(epoch, batch):
        if (epoch, batch) == (1, 1):
            raise RuntimeError("injected crash")
    cfg = tiny(tmp_path, epochs=3)
    with pytest.raises(RuntimeError, match="injected"):
        quiet(cfg, on_batch=crash)
    after_epoch_1 = mf.load(tmp_path / "best.npz")
    assert int(after_epoch_1["epoch"]) == 1
    history = quiet(tiny(tmp_path, epochs=3), resume=tmp_path / "last.npz")
    assert [h["val_dice"] for h in history] == [0.9, 0.5, 0.6]
    best = mf.load(tmp_path / "best.npz")
    assert int(best["epoch"]) == 1 and int(mf.load(tmp_path / "last.npz")["epoch"]) == 3
    for k, v in after_epoch_1["model"].items():
        np.testing.assert_array_equal(best["model"][k], v, err_msg=k)


# ---- 3. the validation loss ---------------------------------------------------------------
def numpy_losses(logits, masks):
    """Per-pixel cross-entropy (N, H, W) and the soft Dice loss of the whole batch, in float64."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ce = -np.take_along_axis(log_p, masks[:, None].astype(np.int64), axis=1)[:, 0]
    p, t = np.exp(log_p), np.eye(logits.shape[1])[masks].transpose(0, 3, 1, 2)
    inter, total = (p * t).sum(axis=(0, 2, 3)), (p + t).sum(axis=(0, 2, 3))
    return ce, np.mean(1 - (2 * inter + 1) / (total + 1))


@pytest.mark.parametrize("loss", ["ce", "ce+dice"])
def test_validation_loss_is_the_per_image_mean_over_the_validation_set(tmp_path, loss):
    """25 images -> 5 for validation, batches of 4 and 1: a mean of batch means would differ.

    Cross-entropy is a per-pixel mean over the whole set; the soft Dice loss is a batch
    statistic, so its batches are weighted by their number of images.
    """
    cfg = tiny(tmp_path, samples=25, epochs=1, loss=loss)
    history = quiet(cfg)
    _, val_set, _, _ = build_data(cfg)
    assert len(val_set) == 5
    images = np.stack([val_set[i][0] for i in range(5)])
    masks = np.stack([val_set[i][1] for i in range(5)])
    model, _, _ = load_model(tmp_path / "last.npz")
    with mf.no_grad():
        logits = model(mf.tensor(images)).numpy().astype(np.float64)       # (5, K, H, W)
    ce, _ = numpy_losses(logits, masks)
    expected = ce.mean()
    if loss == "ce+dice":
        expected += (4 * numpy_losses(logits[:4], masks[:4])[1] + numpy_losses(logits[4:], masks[4:])[1]) / 5
    assert history[0]["val_loss"] == pytest.approx(expected, rel=1e-5)
    per_image = ce.mean(axis=(1, 2))
    batch_means = (per_image[:4].mean() + per_image[4]) / 2                # what the loss must NOT be
    assert abs(batch_means - ce.mean()) > 1e-3 * ce.mean()                 # so the test can tell


# ---- 4. augmentation per epoch ------------------------------------------------------------
def record_augmentations(tmp_path, monkeypatch, name, **kw):
    """{(epoch, batch): what the augmentation did to a fixed probe batch}, from one run."""
    probe = np.arange(4 * 16 * 16, dtype=np.float32).reshape(4, 1, 16, 16)
    probe_masks = np.arange(4 * 16 * 16, dtype=np.int64).reshape(4, 16, 16)
    seen, where = {}, {}
    real = T._augment(tiny(tmp_path))
    assert real is not None

    def spy(rng, images, masks):
        seen[where["now"]] = real(copy.deepcopy(rng), probe, probe_masks)[0]
        return real(rng, images, masks)
    monkeypatch.setattr(T, "_augment", lambda cfg: spy)

    def note(epoch, batch):
        where["now"] = (epoch, batch)
        if kw.get("crash") == (epoch, batch):
            raise RuntimeError("injected crash")
    cfg = tiny(tmp_path / name, augment=True)
    if "crash" in kw:
        with pytest.raises(RuntimeError):
            quiet(cfg, on_batch=note)
        kw = {"resume": tmp_path / name / "last.npz"}
    quiet(tiny(tmp_path / name, augment=True), on_batch=note, **kw)
    return seen


def test_augmentation_differs_between_epochs_and_is_reproducible(tmp_path, monkeypatch):
    seen = record_augmentations(tmp_path, monkeypatch, "a")
    batches = sorted(b for e, b in seen if e == 0)
    assert batches == [0, 1, 2, 3] and sorted(seen) == [(e, b) for e in (0, 1) for b in batches]
    for b in batches:
        assert not np.array_equal(seen[0, b], seen[1, b]), f"batch {b}: the same augmentation in both epochs"
    assert not np.array_equal(seen[0, 0], seen[0, 1])
    again = record_augmentations(tmp_path, monkeypatch, "b", crash=(1, 2))   # a crash, then --resume
    for key in seen:
        np.testing.assert_array_equal(again[key], seen[key], err_msg=str(key))


# ---- 5. mean_dice_fg ----------------------------------------------------------------------
def test_mean_dice_fg_leaves_out_the_background():
    # rows: truth, columns: prediction. Background 0 is perfect, class 1 half right, 2 absent
    # from both (NaN, left out), 3 never predicted right.
    cm = np.array([[50, 0, 0, 0],
                   [0, 2, 0, 2],
                   [0, 0, 0, 0],
                   [0, 2, 0, 0]])
    dice_1 = 2 * 2 / (4 + 4)                    # |P∩T| = 2, |P| = 4, |T| = 4
    scores = metrics.scores_from_confusion(cm)
    assert scores["mean_dice_fg"] == pytest.approx((dice_1 + 0.0) / 2)
    assert scores["mean_dice"] == pytest.approx((1.0 + dice_1 + 0.0) / 3)
    pred = np.array([0] * 50 + [1, 1, 3, 3, 1, 1])
    target = np.array([0] * 50 + [1, 1, 1, 1, 3, 3])
    assert metrics.summary(pred, target, num_classes=4)["mean_dice_fg"] == pytest.approx(0.25)


def test_training_reports_the_foreground_dice(tmp_path, monkeypatch):
    """evaluate's dice_fg (and the history's val_dice_fg) is the foreground mean of its matrix."""
    cms = []
    real = metrics.ConfusionMatrix.update

    def spy(self, pred, target):          # validation sums its matrix with ConfusionMatrix (issue 26)
        cms.append(np.asarray(metrics.confusion_matrix(pred, target, self.num_classes, self.ignore_index)))
        return real(self, pred, target)
    monkeypatch.setattr(metrics.ConfusionMatrix, "update", spy)
    history = quiet(tiny(tmp_path, epochs=1))
    cm = sum(cms).astype(float)
    inter, rows, cols = np.diag(cm), cm.sum(1), cm.sum(0)
    fg = [2 * inter[k] / (rows[k] + cols[k]) for k in range(1, 3) if rows[k] + cols[k] > 0]
    assert history[0]["val_dice_fg"] == pytest.approx(np.mean(fg))
    assert history[0]["val_dice_fg"] != pytest.approx(history[0]["val_dice"])


# ---- 6. max_unpool2d's bounds -------------------------------------------------------------
def test_max_unpool_refuses_the_first_index_past_the_plane(device):
    x = mf.Tensor(to_xp(np.ones((1, 1, 2, 2), np.float32), device))
    for bad in (16, -1):                                   # OH*OW = 16 for a 4x4 output
        idx = mf.Tensor(to_xp(np.array([[[[0, 5], [bad, 15]]]]), device))
        with pytest.raises(ValueError, match=rf"max_unpool2d: indices must lie in 0\.\.15 \(flat positions in a "
                                             rf"4x4 output plane\), got values from {min(bad, 0)} to {max(bad, 15)}"):
            F.max_unpool2d(x, idx, 2)
    last = mf.Tensor(to_xp(np.array([[[[0, 5], [10, 15]]]]), device))      # the last valid one is fine
    out = F.max_unpool2d(x, last, 2).numpy()[0, 0]
    assert out.ravel().tolist() == [1 if i in (0, 5, 10, 15) else 0 for i in range(16)]
