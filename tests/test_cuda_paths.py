"""train(), the command line and the lessons on "cuda" (the strict stand-in without a GPU).

Reference: the same run on the CPU (NumPy), which the device path must reproduce up to
float32 rounding (fused optimiser kernels add in another order).
"""
import json

import numpy as np
import pytest

import minifcn as mf
from conftest import REAL_GPU
from minifcn.cli import main
from minifcn.train import TrainConfig, train


def tiny(out, device, **kw):
    cfg = dict(samples=12, image_size=16, epochs=2, batch_size=4, base_channels=4, depth=2, out=str(out),
               num_classes=3, device=device)
    cfg.update(kw)
    return TrainConfig(**cfg)


@pytest.mark.parametrize("model", ["unet", "segnet"])
def test_train_on_cuda_reproduces_the_cpu_run(tmp_path, model):
    runs = {d: train(tiny(tmp_path / d, d, model=model, epochs=1), progress=False, log=lambda s: None) for d in ("cpu", "cuda")}
    for cpu, cuda in zip(runs["cpu"], runs["cuda"]):
        for key in ("train_loss", "val_loss", "val_dice"):
            assert cuda[key] == pytest.approx(cpu[key], rel=1e-3, abs=1e-4), key
    w_cpu, w_cuda = (mf.load(tmp_path / d / "last.npz")["model"] for d in ("cpu", "cuda"))
    # the stand-in rounds like NumPy; a real GPU sums in another order, and Adam's first steps
    # (≈ lr·sign(g)) can flip for a near-zero gradient: at most 2·lr per step (3 steps here)
    atol = 2 * TrainConfig().lr * 3 if REAL_GPU else 1e-4
    for name in w_cpu:
        np.testing.assert_allclose(w_cuda[name], w_cpu[name], rtol=1e-3, atol=atol, err_msg=name)


def test_resume_on_cuda_after_a_crash_is_exact(tmp_path):
    train(tiny(tmp_path / "full", "cuda"), progress=False, log=lambda s: None)

    def crash(epoch, batch):
        if (epoch, batch) == (1, 1):
            raise RuntimeError("injected crash")
    with pytest.raises(RuntimeError, match="injected"):
        train(tiny(tmp_path / "cut", "cuda"), progress=False, log=lambda s: None, on_batch=crash)
    train(tiny(tmp_path / "cut", "cuda"), resume=tmp_path / "cut" / "last.npz", progress=False, log=lambda s: None)
    a, b = (mf.load(tmp_path / d / "last.npz")["model"] for d in ("full", "cut"))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_cli_train_predict_eval_on_cuda(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code = main(["train", "--device", "cuda", "--epochs", "1", "--samples", "12", "--image-size", "16",
                 "--batch-size", "4", "--base-channels", "4", "--depth", "2", "--out", str(run_dir), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "val mean Dice" in out
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cuda"
    from minifcn.data import read_mask, write_example_folder
    data = tmp_path / "data"
    write_example_folder(data, n=3, image_size=16, num_classes=3)
    outputs = {}
    for device in ("cpu", "cuda"):
        assert main(["eval", str(run_dir / "best.npz"), "--data", str(data), "--device", device]) == 0
        outputs[device] = capsys.readouterr().out
        image = sorted((data / "images").glob("*.png"))[0]
        assert main(["predict", str(run_dir / "best.npz"), str(image), "--out", str(tmp_path / device),
                     "--device", device]) == 0
        capsys.readouterr()
    masks = [read_mask(tmp_path / d / f"{image.stem}_mask.png") for d in ("cuda", "cpu")]
    assert "HD95" in outputs["cuda"]
    if not REAL_GPU:  # the stand-in rounds like NumPy: the same metrics, the same printout
        assert outputs["cuda"] == outputs["cpu"]
        np.testing.assert_array_equal(*masks)
    else:  # a GPU may flip the argmax of a near-tie pixel
        assert (masks[0] == masks[1]).mean() > 0.98


def test_cli_train_tf32_switches_the_gpu_products_and_refuses_the_cpu(capsys, tmp_path, monkeypatch):
    from minifcn import gpu
    monkeypatch.setattr(gpu, "_tf32", [False])          # restored after the test
    small = ["--epochs", "1", "--samples", "12", "--image-size", "16", "--batch-size", "4",
             "--base-channels", "4", "--depth", "2", "--quiet", "--tf32"]
    assert main(["train", "--device", "cpu", "--out", str(tmp_path / "cpu")] + small) == 2
    assert "--tf32 is for --device cuda" in capsys.readouterr().err
    assert not gpu.tf32_enabled() and not (tmp_path / "cpu").exists()
    assert main(["train", "--device", "cuda", "--out", str(tmp_path / "cuda")] + small) == 0
    assert gpu.tf32_enabled()
