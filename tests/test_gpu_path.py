"""The device path: CuPy 13, host syncs per step, deferred checks, constants cached per device.

Run on the strict CuPy stand-in (or real CuPy where a GPU is visible). Expected values come
from naive loops or NumPy on the host; call and sync counts from the stand-in's counter.
"""
import pathlib
import sys

import numpy as np
import pytest

import minifcn as mf
from conftest import REAL_GPU
from minifcn import functional as F
from minifcn import gpu

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
needs_stand_in = pytest.mark.skipif(REAL_GPU, reason="counts and CuPy 13 names need the stand-in")


def naive_unpool(x, idx, out_hw):
    N, C = x.shape[:2]
    y = np.zeros((N, C, out_hw[0] * out_hw[1]), x.dtype)
    for n in range(N):
        for c in range(C):
            for v, i in zip(x[n, c].ravel(), idx[n, c].ravel()):
                y[n, c, i] = v
    return y.reshape(N, C, *out_hw)


@needs_stand_in
def test_max_unpool2d_runs_on_cupy_13_names():
    import strict_cupy
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    with strict_cupy.names("13"):
        x = mf.tensor(a, device="cuda", requires_grad=True)
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        up = F.max_unpool2d(y, idx, 2)
        up.sum().backward()
    expected = naive_unpool(y.numpy(), idx.numpy(), (6, 8))
    np.testing.assert_array_equal(up.numpy(), expected)
    assert x.grad.get().sum() == 2 * 3 * 3 * 4  # one winner per window gets gradient 1


def test_host_label_check_names_the_label():
    gpu.check_labels_on_host(np.array([[0, 1], [2, 0]]), 3)
    gpu.check_labels_on_host(np.array([0, -100]), 2, allowed=(-100,))
    with pytest.raises(ValueError, match=r"masks hold the label 3, outside \[0, 3\)"):
        gpu.check_labels_on_host(np.array([[0, 1], [3, 0]]), 3)
    with pytest.raises(ValueError, match="label -1"):
        gpu.check_labels_on_host(np.array([0, -1]), 2, allowed=(-100,))
    with pytest.raises(TypeError, match="integer class labels"):
        gpu.check_labels_on_host(np.array([0.5]), 2)


def test_deferred_checks_skip_only_device_checks(device):
    logits = mf.tensor(np.zeros((1, 2, 2, 2), np.float32), device=device)
    bad = mf.backend.to_device(np.array([[[0, 1], [5, 0]]]), device)
    with pytest.raises(ValueError, match="label 5"):
        F.cross_entropy(logits, bad)
    with gpu.deferred_checks():
        if device == "cpu":
            with pytest.raises(ValueError, match="label 5"):
                F.cross_entropy(logits, bad)  # host data is always checked
        else:
            F.cross_entropy(logits, mf.backend.to_device(np.array([[[0, 1], [1, 0]]]), device))
            assert not gpu.skip_device_check(np.zeros(1))
            assert gpu.skip_device_check(bad)
    assert not gpu.skip_device_check(bad)
    with pytest.raises(ValueError, match="label 5"):
        F.cross_entropy(logits, bad)  # checked again after the block


@needs_stand_in
def test_one_host_sync_per_training_step_and_none_per_further_validation_batch():
    import gpu_calls
    phases = gpu_calls.measure(batch=2, size=16, base=4, depth=2)
    calls, launches, syncs, uploads = phases["training step (total)"]
    assert syncs == 1 and uploads == 2 and 0 < launches <= calls
    assert phases["validation, each further batch"][2] == 0
    assert phases["validation, 1 batch"][2] <= 2  # the loss sum and the confusion matrix, once


def test_constants_are_cached_per_device_and_dtype(device):
    made = []

    def make():
        made.append(1)
        return np.eye(3)

    gpu.clear_caches()
    x32 = mf.backend.to_device(np.zeros(2, np.float32), device)
    a = gpu.constant_on("eye3", make, x32)
    b = gpu.constant_on("eye3", make, x32)
    c = gpu.constant_on("eye3", make, x32.astype(np.float64))
    assert a is b and len(made) == 2 and a.dtype == np.float32 and c.dtype == np.float64
    assert mf.backend.device_of(a) == device
    np.testing.assert_array_equal(mf.backend.to_numpy(a), np.eye(3))
    assert gpu.device_key(x32) == (("cpu",) if device == "cpu" else ("cuda", 0))


def test_tf32_is_off_by_default_and_can_be_switched():
    assert gpu.tf32_enabled() is False
    try:
        gpu.set_tf32(True)
        assert gpu.tf32_enabled()
        if REAL_GPU:
            from cupy._core import _routines_linalg as linalg
            assert linalg.get_compute_type(np.dtype(np.float32)) == linalg.COMPUTE_TYPE_TF32
    finally:
        gpu.set_tf32(False)
    assert not gpu.tf32_enabled()


@needs_stand_in
@pytest.mark.parametrize("op", ["leaky_relu", "dropout", "max", "min", "bilinear", "avg_pool", "adaptive",
                                "unet_step"])
def test_no_float64_on_the_device_path_of_a_float32_model(op):
    import strict_cupy
    from minifcn import optim
    from minifcn.models import UNet
    from minifcn.train import segmentation_loss
    rng = np.random.default_rng(0)
    x = mf.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), device="cuda", requires_grad=True)
    ops = {"leaky_relu": lambda: F.leaky_relu(x, 0.1), "dropout": lambda: F.dropout(x, 0.3),
           "max": lambda: x.max(axis=1), "min": lambda: x.min(axis=(2, 3)),
           "bilinear": lambda: F.interpolate(x, scale_factor=2, mode="bilinear"),
           "avg_pool": lambda: F.avg_pool2d(x, 2), "adaptive": lambda: F.adaptive_avg_pool2d(x, 3)}
    if op == "unet_step":
        model = UNet(3, 2, base_channels=4, depth=2).to("cuda")
        opt = optim.Adam(model.parameters())
        y = mf.backend.to_device(rng.integers(0, 2, (2, 8, 8)), "cuda")
    with strict_cupy.counting() as c:
        if op == "unet_step":
            segmentation_loss("ce+dice", model(x), y).backward()
            opt.step()
        else:
            ops[op]().sum().backward()
    assert c["float64"] == 0 and x.grad.dtype == np.float32


@needs_stand_in
@pytest.mark.parametrize("free, expected", [
    (100 * 2**20, 64 * 2**20),            # a nearly full device: the 64 MiB floor
    (8 * 2**30, 2 * 2**30),               # a quarter of 8 GiB
    (6 * 2**30, 1536 * 2**20),            # a quarter of 6 GiB
    (100 * 2**30, 2 * 2**30),             # an H100/H200 with lots free: the 2 GiB ceiling
])
def test_workspace_budget_comes_from_the_devices_free_memory(monkeypatch, free, expected):
    import strict_cupy

    from minifcn.functional import conv_fast
    cp = mf.backend.get_cupy()
    monkeypatch.setattr(strict_cupy, "MEM_INFO", [free, 141 * 2**30])
    gpu.clear_caches()
    try:
        assert conv_fast.workspace_limit is None                     # automatic unless set
        assert conv_fast.limit_for(np) == conv_fast.CPU_WORKSPACE == 256 * 2**20
        assert conv_fast.limit_for(cp) == gpu.workspace_budget(cp) == expected
        monkeypatch.setattr(strict_cupy, "MEM_INFO", [1, 141 * 2**30])
        assert gpu.workspace_budget(cp) == expected                  # measured once per device, cached
        monkeypatch.setattr(strict_cupy._Device, "id", 1)            # another device: its own reading
        assert gpu.workspace_budget(cp) == 64 * 2**20
        monkeypatch.setattr(conv_fast, "workspace_limit", 12345)     # set: the same on every device
        assert conv_fast.limit_for(cp) == conv_fast.limit_for(np) == 12345
    finally:
        gpu.clear_caches()


@needs_stand_in
def test_the_device_budget_decides_the_chunks(monkeypatch):
    # 5 images whose columns take 3·9·8·8·4 bytes each (8x8 windows); a 64 MiB floor holds them all, a budget of
    # two images' columns splits the batch into 3 chunks (workspace_peak: the largest chunk)
    import strict_cupy

    from minifcn.functional import conv_fast
    x = mf.tensor(np.random.default_rng(0).standard_normal((5, 3, 16, 16)).astype(np.float32), device="cuda")
    w = mf.tensor(np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32), device="cuda")
    one = 3 * 9 * 8 * 8 * 4
    results = []
    for budget in (None, 2 * one):
        gpu.clear_caches()
        if budget is not None:
            monkeypatch.setattr(gpu, "WORKSPACE_MIN", 0)
            monkeypatch.setattr(strict_cupy, "MEM_INFO", [budget * 4, 16 * 2**30])
        conv_fast.reset_workspace_peak()
        results.append(F.conv2d(x, w, padding=1, stride=2).numpy())   # stride 2: the im2col path
        assert conv_fast.workspace_peak == (5 * one if budget is None else 2 * one)
    gpu.clear_caches()
    np.testing.assert_array_equal(results[0], results[1])


@needs_stand_in
def test_a_unet_training_step_launches_at_most_600_device_calls():
    # issue 13's target for U-Net base 16, depth 4, Adam, ce+dice (launches do not depend on the image size)
    import gpu_calls
    phases = gpu_calls.measure(batch=2, size=16, base=16, depth=4)
    calls, launches, syncs, uploads = phases["training step (total)"]
    assert launches <= 600 and syncs == 1
    assert phases["optimiser step"][1] == 2          # all 64 parameter tensors in one kernel (+ the concatenation)
