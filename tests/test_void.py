"""Void labels end to end: folder data sets decide the ignore label; void pixels change no loss,
gradient or metric; augmentations carry them as labels; a VOC-style folder trains and evaluates.

References: the same data with the void pixels removed by hand (the kept pixels gathered into
a flat batch), which the void-free code paths score.
"""
import json

import numpy as np
import pytest

import minifcn as mf
from minifcn import functional as F
from minifcn import metrics
from minifcn.cli import main
from minifcn.data import DataError, FolderDataset, crop_item, random_elastic, save_image_png
from minifcn.data.folder import decide_ignore_index

K, VOID = 3, 255


def batch(seed=0, shape=(2, 5, 6)):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((shape[0], K) + shape[1:])
    target = rng.integers(0, K, shape)
    target[rng.random(shape) < 0.3] = VOID
    return logits, target


def kept(logits, target):
    """The non-void pixels as a flat batch: logits (M, K), target (M,)."""
    keep = target != VOID
    return np.moveaxis(logits, 1, -1)[keep], target[keep]


def value_and_grad(loss_fn, logits, target):
    z = mf.tensor(logits, requires_grad=True, dtype="float64")
    loss = loss_fn(z, target)
    loss.backward()
    return float(loss.item()), z.grad


LOSSES = {
    "ce": lambda z, t: F.cross_entropy(z, t, ignore_index=VOID),
    "ce_weighted": lambda z, t: F.cross_entropy(z, t, weight=np.array([0.2, 1.0, 3.0]), ignore_index=VOID),
    "ce_weight_map": lambda z, t: F.cross_entropy(z, t, ignore_index=VOID,
                                                  weight_map=1.0 + (np.abs(np.where(t == VOID, 0, t)) % 2)),
    "dice": lambda z, t: F.dice_loss(z, t, ignore_index=VOID),
    "focal": lambda z, t: F.focal_loss(z, t, ignore_index=VOID),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_void_pixels_change_no_loss_and_get_no_gradient(name):
    logits, target = batch()
    loss_fn = LOSSES[name]
    value, grad = value_and_grad(loss_fn, logits, target)
    # the same loss on the kept pixels alone (flat (M, K) logits; the weight map gathered alike)
    z_kept, t_kept = kept(logits, target)
    if name == "ce_weight_map":
        wm = (1.0 + (np.abs(np.where(target == VOID, 0, target)) % 2))[target != VOID]
        ref_value, ref_grad = value_and_grad(lambda z, t: F.cross_entropy(z, t, weight_map=wm), z_kept, t_kept)
    else:
        hand = {"ce": lambda z, t: F.cross_entropy(z, t),
                "ce_weighted": lambda z, t: F.cross_entropy(z, t, weight=np.array([0.2, 1.0, 3.0])),
                "dice": lambda z, t: F.dice_loss(z, t), "focal": lambda z, t: F.focal_loss(z, t)}[name]
        ref_value, ref_grad = value_and_grad(hand, z_kept, t_kept)
    assert value == pytest.approx(ref_value, rel=1e-12)
    grad = np.moveaxis(grad, 1, -1)
    np.testing.assert_allclose(grad[target != VOID], ref_grad, rtol=1e-10, atol=1e-14)
    assert np.all(grad[target == VOID] == 0)
    # whatever the network says at void pixels changes nothing
    other = logits + np.where((target == VOID)[:, None], 50.0, 0.0)
    assert value_and_grad(loss_fn, other, target)[0] == pytest.approx(value, rel=1e-12)


def test_void_pixels_change_no_metric():
    rng = np.random.default_rng(1)
    _, target = batch(1, (3, 7, 8))
    pred = rng.integers(0, K, target.shape)
    keep = target != VOID
    p_kept, t_kept = pred[keep], target[keep]
    assert metrics.pixel_accuracy(pred, target, VOID) == pytest.approx(np.mean(p_kept == t_kept))
    np.testing.assert_allclose(metrics.dice(pred, target, K, VOID), metrics.dice(p_kept, t_kept, K))
    np.testing.assert_allclose(metrics.iou(pred, target, K, VOID), metrics.iou(p_kept, t_kept, K))
    np.testing.assert_array_equal(metrics.confusion_matrix(pred, target, K, VOID),
                                  metrics.confusion_matrix(p_kept, t_kept, K))
    acc = metrics.ConfusionMatrix(K, VOID)
    acc.update(pred, target)
    acc.update(np.where(keep, pred, 2), target)      # predictions at void pixels do not matter
    ref = metrics.ConfusionMatrix(K)
    ref.update(p_kept, t_kept)
    ref.update(p_kept, t_kept)
    np.testing.assert_array_equal(acc.matrix, ref.matrix)
    assert acc.compute()["ignored_pixels"] == 2 * int((~keep).sum())
    np.testing.assert_allclose(F.class_weights(target, K, ignore_index=VOID), F.class_weights(t_kept[None], K))


def test_augmentations_carry_void_as_a_label():
    rng = np.random.default_rng(2)
    image = rng.random((3, 40, 50)).astype(np.float32)
    _, mask = batch(2, (1, 40, 50))
    mask = mask[0]
    for scale in (None, (0.5, 2.0)):
        for seed in range(5):
            im, m = crop_item(np.random.default_rng(seed), image, mask, (16, 24), scale)
            assert im.shape == (3, 16, 24) and m.shape == (16, 24)
            assert set(np.unique(m)) <= set(np.unique(mask))      # nearest: no new labels, void stays void
    im, m = crop_item(np.random.default_rng(0), image, mask, (16, 24))
    _, m2 = random_elastic(np.random.default_rng(0), im[None], m[None])
    assert set(np.unique(m2)) <= set(np.unique(m)) and VOID in set(np.unique(mask))
    with pytest.raises(ValueError, match=r"crop 64x24 \(HxW\) is larger than the image 40x50"):
        crop_item(rng, image, mask, (64, 24))


# ---------------------------------------------------------------- deciding the void label

@pytest.mark.parametrize("ignore, k, labels, want", [
    ("auto", None, {0, 1, 2}, (None, 3)),
    ("auto", None, {0, 1, 2, 255}, (255, 3)),
    ("auto", 21, {0, 5, 255}, (255, 21)),
    ("auto", 256, {0, 5, 255}, (None, 256)),
    (None, None, {0, 255}, (None, 256)),
    (200, None, {0, 1, 200}, (200, 2)),
])
def test_decide_ignore_index(ignore, k, labels, want):
    assert decide_ignore_index(ignore, k, labels) == want


@pytest.mark.parametrize("ignore, k, labels, match", [
    ("auto", None, {0, 255}, r"only the labels \[0, 255\].*binary mask saved as 0/255"),
    ("auto", None, set(range(256)), r"labels up to 254 and 255"),
    (1, 3, {0, 1, 2}, r"ignore_index=1 is a class for num_classes=3"),
])
def test_ambiguous_or_wrong_void_labels_are_refused(ignore, k, labels, match):
    with pytest.raises(DataError, match=match):
        decide_ignore_index(ignore, k, labels)


# ---------------------------------------------------------------- a VOC-style folder

VOC_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 252 + [224, 224, 192]


def save_paletted(path, mask):
    from PIL import Image
    img = Image.fromarray(mask.astype(np.uint8), mode="P")
    img.putpalette(VOC_PALETTE)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def write_voc(root, sizes=((37, 45), (40, 52), (33, 61), (48, 48), (35, 41), (44, 39), (50, 47), (36, 58)), seed=0):
    """A VOC-layout folder: JPEG pictures (some without masks), paletted masks with 255 borders
    around discs, odd and mixed sizes, train/val split files."""
    from scipy import ndimage as nd
    rng = np.random.default_rng(seed)
    names = []
    for i, (h, w) in enumerate(sizes):
        name = f"2007_{i:06d}"
        names.append(name)
        rr, cc = np.mgrid[0:h, 0:w]
        mask = np.zeros((h, w), np.int64)
        image = np.full((3, h, w), 0.2, np.float32)
        for k in (1, 2):
            r0, c0, rad = rng.integers(8, h - 8), rng.integers(8, w - 8), rng.integers(4, 8)
            disc = (rr - r0) ** 2 + (cc - c0) ** 2 <= rad ** 2
            mask[disc] = k
            image[:, disc] = 0.5 + 0.3 * k
        border = nd.binary_dilation(mask > 0) & ~nd.binary_erosion(mask > 0)
        mask[border] = VOID
        save_image_png(root / "JPEGImages" / f"{name}.jpg", image, "JPEG")
        save_paletted(root / "SegmentationClass" / f"{name}.png", mask)
    save_image_png(root / "JPEGImages" / "2007_detection_only.jpg", np.zeros((3, 20, 20)), "JPEG")
    split = root / "ImageSets" / "Segmentation"
    split.mkdir(parents=True)
    (split / "train.txt").write_text("\n".join(names[:6]) + "\n")
    (split / "val.txt").write_text("\n".join(names[6:]) + "\n")
    return names


def test_voc_folder_loads_trains_and_evaluates(tmp_path, capsys):
    root = tmp_path / "VOC"
    names = write_voc(root)
    ds = FolderDataset(root)
    assert ds.layout == "voc" and len(ds) == 8 and not ds.same_size    # the detection-only picture is skipped
    assert ds.ignore_index == VOID and ds.num_classes == 3
    assert [m.shape for m in ds.masks][:2] == [(37, 45), (40, 52)]     # sizes kept, never resized
    val = FolderDataset(root, split="val")
    assert [f[0].stem for f in val.files] == names[6:]
    from minifcn.train import TrainConfig, train
    run = tmp_path / "run"
    history = train(TrainConfig(data=str(root), epochs=1, batch_size=2, base_channels=4, depth=2, crop=(16, 16),
                                scale=(0.8, 1.25), out=str(run)), progress=False, log=lambda s: None)
    assert np.isfinite(history[0]["train_loss"]) and 0 <= history[0]["val_iou"] <= 1
    report = tmp_path / "eval.json"
    code = main(["eval", str(run / "best.npz"), "--data", str(root), "--split", "val", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "mean IoU" in out and "frequency-weighted IoU" in out
    got = json.loads(report.read_text())
    void = sum(int((m == VOID).sum()) for m in val.masks)
    assert got["data_set"]["ignored_pixels"] == void and f"{void} void pixels" in out
    assert np.array(got["data_set"]["confusion"]).sum() == sum(int((m != VOID).sum()) for m in val.masks)
    assert main(["eval", str(run / "best.npz"), "--data", str(root), "--json", str(report)]) == 2   # never overwrite
    assert "exists; pass --force" in capsys.readouterr().err


def test_folder_problems_are_named(tmp_path):
    root = tmp_path / "VOC"
    names = write_voc(root)
    bad = np.zeros((37, 45), np.int64)
    bad[3, 3] = 7
    save_paletted(root / "SegmentationClass" / f"{names[0]}.png", bad)
    with pytest.raises(DataError, match=rf"{names[0]}\.png holds label 7, outside the class range 0\.\.2 "
                                        r"\(num_classes=3\) and is not the void label 255"):
        FolderDataset(root, num_classes=3)
    (root / "list.txt").write_text("2007_000001\nnot_there\n")
    with pytest.raises(DataError, match=r"not_there: no image .*not_there"):
        FolderDataset(root, split_file=root / "list.txt")
    from minifcn.train import TrainConfig, train
    (root / "list.txt").write_text("\n".join(names[1:]) + "\n")
    with pytest.raises(DataError, match=r"crop 48x48 \(HxW\) is larger than image \S*2007_0000\d\d\.jpg"):
        train(TrainConfig(data=str(root), split_file=str(root / "list.txt"), epochs=1, batch_size=2, base_channels=4,
                          depth=2, crop=(48, 48), out=str(tmp_path / "r")), progress=False, log=lambda s: None)


def test_colour_masks_with_a_void_colour_and_16_bit_label_maps(tmp_path):
    from PIL import Image
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rgb = np.zeros((6, 7, 3), np.uint8)
    rgb[:, 3:] = [255, 0, 0]
    rgb[2, :] = [255, 255, 255]                       # the void colour
    save_image_png(root / "images" / "a.png", np.zeros((3, 6, 7)))
    Image.fromarray(rgb).save(root / "masks" / "a.png")
    (root / "palette.json").write_text(json.dumps({"classes": [[0, 0, 0], [255, 0, 0]], "void": [255, 255, 255]}))
    ds = FolderDataset(root)
    assert ds.ignore_index == VOID and ds.num_classes == 2
    want = np.where(np.arange(7) >= 3, 1, 0)[None].repeat(6, 0)
    want[2] = VOID
    np.testing.assert_array_equal(ds.masks[0], want)

    ids = np.array([[7, 7, 8], [26, 1000, 8]], np.uint16)   # Cityscapes-like label ids in a 16-bit PNG
    root = tmp_path / "c"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    save_image_png(root / "images" / "b.png", np.zeros((3, 2, 3)))
    Image.fromarray(ids).save(root / "masks" / "b.png")
    (root / "map.json").write_text(json.dumps({"7": 0, "8": 1, "26": 2, "*": "void"}))
    ds = FolderDataset(root, label_map=root / "map.json")
    np.testing.assert_array_equal(ds.masks[0], [[0, 0, 1], [2, VOID, 1]])
    assert ds.ignore_index == VOID and ds.num_classes == 3
    (root / "map.json").write_text(json.dumps({"7": 0, "8": 1, "26": 2}))
    with pytest.raises(DataError, match=r"b\.png holds the value 1000, which the label map does not list"):
        FolderDataset(root, label_map=root / "map.json")


def test_border_weight_map_leaves_void_out():
    from minifcn.data.weightmap import balance_weights, border_weight_map
    mask = np.array([[0, 0, 1, 1], [0, VOID, 1, 1], [VOID, VOID, 0, 0]])
    # kept pixels: 5 of class 0, 4 of class 1 (n = 9, K' = 2): w_0 = 9 / (2 * 5), w_1 = 9 / (2 * 4); void 0
    want = np.choose(np.where(mask == VOID, 2, mask), [0.9, 1.125, 0.0])
    np.testing.assert_allclose(balance_weights(mask, VOID), want)
    inst = (mask == 1).astype(np.int64)
    w = border_weight_map(inst, mask=mask, ignore_index=VOID)
    assert np.all(w[mask == VOID] == 0) and np.all(w[mask != VOID] > 0)


def test_hausdorff_with_a_void_region_equals_the_image_cut_there():
    rng = np.random.default_rng(4)
    target = np.zeros((20, 30), np.int64)
    target[4:12, 5:26] = 1
    target[14:18, 2:9] = 2
    pred = target.copy()
    pred[rng.random(pred.shape) < 0.05] = 1
    pred[10:16, 20:28] = 2
    void_target = target.copy()
    void_target[:, 22:] = VOID                       # a void strip on the right
    got = metrics.hausdorff_per_class(pred, void_target, K, 95, ignore_index=VOID)
    want = [metrics.hausdorff_distance(pred[:, :22] == k, target[:, :22] == k, 95) for k in range(K)]
    np.testing.assert_allclose(got, want)
    assert not np.allclose(metrics.hausdorff_per_class(pred, target, K, 95), want)   # the strip mattered


def test_object_scores_with_a_void_region_equal_the_image_cut_there():
    true = np.zeros((12, 20), np.int64)
    true[2:6, 2:6], true[2:6, 9:13], true[7:11, 14:19] = 1, 2, 3
    pred = (true > 0).astype(np.int64)
    pred[7:11, 3:7] = 1                                # a false positive ...
    void = np.zeros(true.shape, bool)
    void[:, 14:] = True                                # ... and a void strip over object 3
    got = metrics.object_scores(pred, true, void=void)
    want = metrics.object_scores(pred[:, :14], true[:, :14])
    assert got == want and got["true_objects"] == 2 and got["fp"] == 1


def test_train_command_on_a_voc_folder_with_classes_and_crops(tmp_path, capsys):
    root = tmp_path / "VOC"
    write_voc(root)
    run = tmp_path / "run"
    code = main(["train", "--data", str(root), "--classes", "4", "--crop", "16", "16", "--epochs", "1",
                 "--batch-size", "2", "--base-channels", "4", "--depth", "2", "--out", str(run), "--quiet"])
    assert code == 0, capsys.readouterr().err
    ckpt = mf.load(run / "best.npz")
    assert int(ckpt["num_classes"]) == 4                      # --classes reached the folder data set
    assert main(["train", "--data", str(root), "--crop", "18", "16", "--out", str(run), "--quiet"]) == 2
    assert "crop=(18, 16) is not valid" in capsys.readouterr().err
