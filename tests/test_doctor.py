"""``minifcn doctor``: a clear verdict, and exit 1 only when the GPU was asked for and fails."""


import numpy as np
import pytest

from conftest import REAL_GPU
from minifcn import backend, doctor as doctor_module
from minifcn.cli import main

pytestmark = pytest.mark.skipif(REAL_GPU, reason="simulates machines without a GPU")


@pytest.fixture
def no_cupy(monkeypatch):
    """A machine where `import cupy` fails (the stand-in is put back afterwards)."""
    saved = backend._cupy, backend._cupy_ndimage, backend._cupy_error
    backend._cupy, backend._cupy_error = None, "ModuleNotFoundError: No module named 'cupy'"
    yield
    backend._cupy, backend._cupy_ndimage, backend._cupy_error = saved


@pytest.fixture
def quick_step(monkeypatch):
    real = doctor_module.unet_step
    monkeypatch.setattr(doctor_module, "unet_step", lambda device, steps=1: real(device, steps=1, batch=2, size=16))


def run(capsys, *argv):
    code = main(["doctor", *argv])
    return code, capsys.readouterr().out


def test_without_cupy_it_says_so_and_fails_only_when_cuda_was_asked(no_cupy, capsys, quick_step):
    code, out = run(capsys)
    assert code == 0
    assert "CuPy: not available" in out and "no usable GPU - minifcn runs on the CPU" in out
    assert "pip install 'minifcn[gpu]'" in out and "U-Net step" in out and "on cpu" in out
    code, out = run(capsys, "--device", "cuda", "--no-step")
    assert code == 1 and "PROBLEM - the GPU path cannot be used" in out and "minifcn[gpu]" in out


def test_no_visible_gpu(monkeypatch, capsys):
    cp = backend.get_cupy()
    monkeypatch.setattr(cp.cuda.runtime, "getDeviceCount", lambda: 0)
    code, out = run(capsys, "--no-step")
    assert code == 0 and "GPU: none visible" in out and "CUDA_VISIBLE_DEVICES" in out
    code, out = run(capsys, "--device", "cuda", "--no-step")
    assert code == 1 and "nvidia-smi" in out


def test_a_working_device_passes(capsys, quick_step):
    code, out = run(capsys, "--device", "cuda")
    assert code == 0, out
    assert "tiny op (3x3 conv + gradient) on the GPU vs the CPU" in out
    assert "U-Net step" in out and "on cuda" in out and "verdict: OK" in out
    # the stand-in's device reports 12 GiB free: a quarter, capped at 2 GiB
    assert "convolution workspace on the GPU: 2048 MiB" in out


def test_wrong_device_results_fail(monkeypatch, capsys):
    monkeypatch.setattr(doctor_module, "tiny_op", lambda device: 0.5)
    code, out = run(capsys, "--device", "cuda", "--no-step")
    assert code == 1 and "different results from the CPU" in out


def test_out_of_memory_is_named_with_its_fix(monkeypatch, capsys):
    OutOfMemoryError = type("OutOfMemoryError", (RuntimeError,), {})  # noqa: N806 - CuPy's class name

    def fail(*args, **kwargs):
        raise OutOfMemoryError("Out of memory allocating 1,073,741,824 bytes")
    monkeypatch.setattr(doctor_module, "unet_step", fail)
    code, out = run(capsys, "--device", "cuda")
    assert code == 1 and "ran out of memory" in out and "--batch-size" in out


def test_driver_older_than_runtime_is_a_cuda_mismatch(monkeypatch, capsys):
    cp = backend.get_cupy()
    monkeypatch.setattr(doctor_module, "gpu_info", lambda cp: {"name": "Fake GPU", "total": 8 * 2**30,
                                                             "free": 2**30, "runtime": 12040, "driver": 11080})
    code, out = run(capsys, "--device", "cuda", "--no-step")
    assert code == 1 and "CUDA runtime 12.4" in out and "driver is older than the CUDA runtime" in out
    del cp


def test_the_cpu_fast_paths_line(monkeypatch, capsys):
    """On, with the BLAS found and the thread counts; the fallback when NumPy's BLAS cannot be
    called; off when switched off. The counts are what OpenBLAS and minifcn report."""
    import re

    from minifcn.functional import fastconv
    monkeypatch.setattr(fastconv, "threads", 3)                   # not this machine's core count
    code, out = run(capsys, "--no-step")
    assert fastconv._gemm_for(np.float32) is not None            # this test machine's NumPy: OpenBLAS
    line = next(s for s in out.splitlines() if s.startswith("CPU fast paths"))
    blas, ours = map(int, re.search(r"\((\d+) threads, held to 1 .*\), (\d+) minifcn threads", line).groups())
    assert blas == fastconv._blas["threads"][0]() and ours == fastconv._workers() == 3
    assert "openblas" in line.lower()
    monkeypatch.setattr(fastconv, "_blas", {})
    assert "not an OpenBLAS" in run(capsys, "--no-step")[1] and "im2col" in fastconv.describe()
    monkeypatch.setattr(fastconv, "enabled", False)
    assert "CPU fast paths: off" in run(capsys, "--no-step")[1]
