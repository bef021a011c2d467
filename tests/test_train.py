"""The training loop: run directory, exact resume, crash safety, NaN guard."""
import json

import numpy as np
import pytest

import minifcn as mf
from minifcn.train import TrainConfig, TrainingDiverged, load_model, train


def tiny(tmp_path, **kw):
    cfg = dict(samples=20, image_size=16, epochs=2, batch_size=4, base_channels=4, depth=2, out=str(tmp_path),
               num_classes=3)
    cfg.update(kw)
    return TrainConfig(**cfg)


def weights(path):
    return mf.load(path)["model"]


def test_a_short_run_writes_the_run_directory(tmp_path):
    history = train(tiny(tmp_path), progress=False, log=lambda s: None)
    assert [h["epoch"] for h in history] == [1, 2]
    for name in ("config.json", "metrics.csv", "metrics.json", "curves.png", "predictions.png", "last.npz", "best.npz"):
        assert (tmp_path / name).is_file(), name
    records = json.loads((tmp_path / "metrics.json").read_text())
    assert {"epoch", "train_loss", "val_loss", "val_pixel_accuracy", "val_dice", "val_iou", "seconds"} <= set(records[0])
    assert all(0 <= r["val_dice"] <= 1 and np.isfinite(r["train_loss"]) for r in records)
    csv_lines = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("epoch,train_loss")
    model, cfg, _ = load_model(tmp_path / "best.npz")
    assert cfg.image_size == 16 and not model.training


def test_resume_after_a_crash_reproduces_the_uninterrupted_run(tmp_path):
    train(tiny(tmp_path / "full", epochs=3), progress=False, log=lambda s: None)

    def crash(epoch, batch):
        if (epoch, batch) == (1, 2):
            raise RuntimeError("injected crash")
    with pytest.raises(RuntimeError, match="injected"):
        train(tiny(tmp_path / "cut", epochs=3), progress=False, log=lambda s: None, on_batch=crash)
    ckpt = mf.load(tmp_path / "cut" / "last.npz")          # still loadable, from the end of epoch 1
    assert int(ckpt["epoch"]) == 1 and int(ckpt["batch"]) == 0
    train(tiny(tmp_path / "cut", epochs=3), resume=tmp_path / "cut" / "last.npz", progress=False, log=lambda s: None)
    a, b = weights(tmp_path / "full" / "last.npz"), weights(tmp_path / "cut" / "last.npz")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_ctrl_c_saves_mid_epoch_and_resume_is_exact(tmp_path):
    train(tiny(tmp_path / "full"), progress=False, log=lambda s: None)

    def interrupt(epoch, batch):
        if (epoch, batch) == (0, 2):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path / "cut"), progress=False, log=lambda s: None, on_batch=interrupt)
    ckpt = mf.load(tmp_path / "cut" / "last.npz")
    assert (int(ckpt["epoch"]), int(ckpt["batch"])) == (0, 2)
    history = train(tiny(tmp_path / "cut"), resume=tmp_path / "cut" / "last.npz", progress=False, log=lambda s: None)
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert [h["train_loss"] for h in history] == [h["train_loss"] for h in full]
    a, b = weights(tmp_path / "full" / "last.npz"), weights(tmp_path / "cut" / "last.npz")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    state = {}

    def poison(epoch, batch):
        if (epoch, batch) == (1, 1):
            state["before"] = weights(tmp_path / "last.npz")
            model_param = state["model"]
            model_param.data[...] = np.nan
    import minifcn.train as T
    original = T.build_model

    def spy(cfg, c, k):
        model = original(cfg, c, k)
        state["model"] = next(model.parameters())
        return model
    T.build_model = spy
    try:
        with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2.*last good checkpoint"):
            train(tiny(tmp_path, epochs=3), progress=False, log=lambda s: None, on_batch=poison)
    finally:
        T.build_model = original
    after = weights(tmp_path / "last.npz")
    for k in after:
        assert np.isfinite(after[k]).all()
        np.testing.assert_array_equal(after[k], state["before"][k])


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="model='resnet' is not known"):
        TrainConfig(model="resnet").check()
    with pytest.raises(ValueError, match="device='tpu'"):
        TrainConfig(device="tpu").check()
    with pytest.raises(ValueError, match="epochs=0 must be >= 1"):
        TrainConfig(epochs=0).check()


@pytest.mark.parametrize("model", ["fcn", "segnet", "deeplab"])
def test_other_models_train_too(tmp_path, model):
    size = 32 if model == "fcn" else 16
    history = train(tiny(tmp_path, model=model, epochs=1, image_size=size, samples=10), progress=False,
                    log=lambda s: None)
    assert np.isfinite(history[0]["train_loss"])
