"""Images of any size: crops per item, reproducible per epoch; full-image validation; exact resume."""
import numpy as np
import pytest

import minifcn as mf
from minifcn.data import DataLoader, FolderDataset, crop_item
from minifcn.train import TrainConfig, train
from test_void import write_voc


class Mixed:
    """Items of different sizes, each filled with its own index (so crops can be traced back)."""
    sizes = [(20, 30), (25, 22), (40, 41), (21, 21), (33, 29)]

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, i):
        h, w = self.sizes[i]
        image = np.arange(3 * h * w, dtype=np.float32).reshape(3, h, w)
        return image, np.arange(h * w).reshape(h, w) % 7


def crop(rng, image, mask):
    return crop_item(rng, image, mask, (16, 16))


def test_crops_batch_items_of_any_size_reproducibly_per_epoch():
    ds = Mixed()
    a = DataLoader(ds, batch_size=2, shuffle=True, seed=3, item_transform=crop)
    b = DataLoader(ds, batch_size=2, shuffle=True, seed=3, item_transform=crop)
    first = [x for x, _ in a]
    assert [x.shape for x in first] == [(2, 3, 16, 16), (2, 3, 16, 16), (1, 3, 16, 16)]
    for x, (y, _) in zip(first, b):
        np.testing.assert_array_equal(x, y)                  # same seed, same epoch: same crops
    second = [x for x, _ in a]                                # epoch 1: other crops
    assert any(not np.array_equal(x, y) for x, y in zip(first, second))
    b.set_epoch(1)
    for x, (y, _) in zip(second, b):
        np.testing.assert_array_equal(x, y)
    # every crop is a window of its own item: the image's values are a contiguous block
    for (image, mask), i in zip((ds[i] for i in range(5)), range(5)):
        x, m = crop(np.random.default_rng(i), image, mask)
        h, w = ds.sizes[i]
        top, left = divmod(int(x[0, 0, 0]), w)
        np.testing.assert_array_equal(x, image[:, top:top + 16, left:left + 16])
        np.testing.assert_array_equal(m, mask[top:top + 16, left:left + 16])


def test_training_on_mixed_sizes_resumes_exactly(tmp_path):
    root = tmp_path / "VOC"
    write_voc(root)
    cfg = dict(data=str(root), epochs=2, batch_size=2, base_channels=4, depth=2, crop=(16, 16), scale=(0.8, 1.25))
    train(TrainConfig(out=str(tmp_path / "full"), **cfg), progress=False, log=lambda s: None)

    def crash(epoch, batch):
        if (epoch, batch) == (1, 1):
            raise RuntimeError("injected")
    with pytest.raises(RuntimeError):
        train(TrainConfig(out=str(tmp_path / "cut"), **cfg), progress=False, log=lambda s: None, on_batch=crash)
    train(TrainConfig(out=str(tmp_path / "cut"), **cfg), resume=tmp_path / "cut" / "last.npz", progress=False,
          log=lambda s: None)
    a, b = mf.load(tmp_path / "full" / "last.npz")["model"], mf.load(tmp_path / "cut" / "last.npz")["model"]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_bad_crops_are_named(tmp_path):
    root = tmp_path / "VOC"
    write_voc(root)
    with pytest.raises(ValueError, match=r"crop=\(18, 16\) is not valid for unet \(depth 2\).*multiples of 4"):
        train(TrainConfig(data=str(root), crop=(18, 16), depth=2, base_channels=4, out=str(tmp_path / "r")),
              progress=False, log=lambda s: None)
    ds = FolderDataset(root)
    assert not ds.same_size and len(set(ds.sizes())) == len(ds)


def test_validation_tiles_images_above_the_limit(tmp_path, monkeypatch):
    import minifcn.train as T
    root = tmp_path / "VOC"
    write_voc(root)
    calls = []
    real = T.predict_tiled
    monkeypatch.setattr(T, "predict_tiled", lambda *a, **k: (calls.append(a[1].shape), real(*a, **k))[1])
    monkeypatch.setattr(T, "TILE_ABOVE", 40)
    monkeypatch.setattr(T, "VAL_TILE", 16)
    history = train(TrainConfig(data=str(root), epochs=1, batch_size=2, base_channels=4, depth=2, crop=(16, 16),
                                out=str(tmp_path / "r")), progress=False, log=lambda s: None)
    assert calls and all(max(shape[1:]) > 40 for shape in calls)      # val.txt: 50x47 and 36x58 are tiled
    assert 0 <= history[0]["val_iou"] <= 1
