"""``minifcn doctor``: can this machine train on its GPU, and if not, why not?

What a user with a GPU runs first. It prints, each on one line:

1. versions: Python, minifcn, NumPy, SciPy, CuPy, the CUDA runtime CuPy was built for and
   the driver's CUDA version;
2. the GPU: name and memory (total, free);
3. a tiny op (a 3x3 convolution and its gradient) on the device, compared with the CPU;
4. one timed U-Net training step (base 16, depth 4, batch 4 of 3x64x64; forward, loss,
   backward, Adam), with its autograd op count and the host syncs it needs;
5. a verdict, and for each problem found its fix: CuPy missing, no visible GPU, a CUDA
   version mismatch, out of memory, results that differ from the CPU.

Exit status: 0 when all is well, or when no GPU is present and none was asked for (then it
says clearly that minifcn will run on the CPU); 1 when ``--device cuda`` was asked for and
the GPU path cannot be used or gives wrong results.
"""
from __future__ import annotations

import platform
import sys
import time
from typing import Any, Callable

import numpy as np

from . import __version__, backend
from .functional import fastconv

FIXES = {
    "no-cupy": "CuPy is not installed (or does not import). Install the wheel for your CUDA major version: "
               "python -m pip install 'minifcn[gpu]'  (cupy-cuda12x; for CUDA 11: cupy-cuda11x).",
    "no-gpu": "CuPy sees no GPU. Check `nvidia-smi` (driver loaded?), CUDA_VISIBLE_DEVICES (not empty or '-1'?), "
              "and that a container was started with GPU access (docker run --gpus all).",
    "cuda-mismatch": "The NVIDIA driver is older than the CUDA runtime CuPy was built for. Update the driver, "
                     "or install the CuPy wheel of an older CUDA major version (cupy-cuda11x).",
    "oom": "The GPU ran out of memory. Use a smaller --batch-size, --image-size or --base-channels, "
           "or stop the other processes on the GPU (nvidia-smi lists them).",
    "mismatch": "The device gives different results from the CPU. Run the test suite on this machine "
                "(python -m pytest tests) and report the failures.",
    "error": "The device path raised an error (shown above). Run `python -m pytest tests -x` on this machine and "
             "report it.",
}


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - not installed or broken
        return "not installed"


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}" if v else "unknown"


def gpu_info(cp: Any) -> dict:
    """Name, memory and CUDA versions of GPU 0 (what this CuPy can tell; 'unknown' otherwise)."""
    info = {"name": "unknown", "total": None, "free": None, "runtime": 0, "driver": 0}
    rt = cp.cuda.runtime
    for key, call in (("runtime", lambda: rt.runtimeGetVersion()), ("driver", lambda: rt.driverGetVersion())):
        try:
            info[key] = int(call())
        except Exception:  # noqa: BLE001
            pass
    try:
        name = rt.getDeviceProperties(0)["name"]
        info["name"] = name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # noqa: BLE001
        pass
    try:
        info["free"], info["total"] = (int(v) for v in cp.cuda.Device(0).mem_info)
    except Exception:  # noqa: BLE001
        pass
    return info


def _sync(device: str) -> None:
    if device == "cuda":
        backend.get_cupy().cuda.Device().synchronize()


def tiny_op(device: str) -> float:
    """Largest |difference| between ``device`` and the CPU for a 3x3 conv and its input gradient,
    relative to the largest value."""
    import minifcn as mf
    from . import functional as F
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((2, 3, 9, 9)).astype(np.float32), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    results = []
    for dev in ("cpu", device):
        x = mf.tensor(x0, device=dev, requires_grad=True)
        y = F.conv2d(x, mf.tensor(w0, device=dev), padding=1)
        (y * y).sum().backward()
        results.append((y.numpy(), x.grad.get() if dev == "cuda" else x.grad))
    scale = max(float(np.abs(results[0][0]).max()), float(np.abs(results[0][1]).max()), 1.0)
    return max(float(np.abs(a - b).max()) for a, b in zip(results[0], results[1])) / scale


def unet_training_setup(device: str, batch: int = 4, size: int = 64) -> tuple:
    """The timed U-Net step's pieces: (model, Adam optimiser, host images, host masks).

    U-Net base 16, depth 4, seeded, on ``device``; images (batch, 3, size, size) float32 and
    masks (batch, size, size) of 2 classes, both seeded (also used by benchmarks/gpu_vs_torch.py).
    """
    import minifcn as mf
    from . import optim
    from .models import UNet
    mf.nn.init.manual_seed(0)
    model = UNet(3, 2, base_channels=16, depth=4).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    masks = rng.integers(0, 2, (batch, size, size))
    return model, opt, images, masks


def unet_step(device: str, steps: int = 3, batch: int = 4, size: int = 64) -> dict:
    """Seconds per U-Net training step on ``device`` (after a warm-up step), its autograd op count."""
    import minifcn as mf
    from . import gpu
    from .autograd import Function
    from .train import segmentation_loss
    model, opt, images, masks = unet_training_setup(device, batch, size)
    ops = [0]
    original = Function.__call__

    def counted(self, *args, **kwargs):
        ops[0] += 1
        return original(self, *args, **kwargs)

    times = []
    for step in range(steps + 1):
        _sync(device)
        t0 = time.perf_counter()
        Function.__call__ = counted
        try:
            ops[0] = 0
            gpu.check_labels_on_host(masks, 2)
            x, y = mf.tensor(images, device=device), backend.to_device(masks, device)
            with gpu.deferred_checks():
                loss = segmentation_loss("ce+dice", model(x), y)
            value = float(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        finally:
            Function.__call__ = original
        _sync(device)
        if step:
            times.append(time.perf_counter() - t0)
    return {"seconds": float(np.median(times)), "ops": ops[0], "loss": value, "batch": batch, "size": size}


def doctor(device: str | None = None, out: Callable[[str], None] = print, step: bool = True) -> int:
    """Print the report; return the exit status (see the module docstring)."""
    wanted = device == "cuda"
    problems: list[str] = []
    out(f"minifcn {__version__}   Python {platform.python_version()} ({sys.executable})")
    out(f"NumPy {_version('numpy')}   SciPy {_version('scipy')}")
    out(fastconv.describe())
    cp = backend._load_cupy()
    gpus = 0
    if cp is None:
        out(f"CuPy: not available ({backend._cupy_error})")
        problems.append("no-cupy")
    else:
        out(f"CuPy {getattr(cp, '__version__', 'unknown')}")
        try:
            gpus = int(cp.cuda.runtime.getDeviceCount())
        except Exception as e:  # noqa: BLE001 - e.g. cudaErrorInsufficientDriver, no driver at all
            out(f"GPU: none visible ({type(e).__name__}: {e})")
            problems.append("cuda-mismatch" if "nsufficient" in str(e) or "version" in str(e).lower() else "no-gpu")
        if gpus:
            info = gpu_info(cp)
            out(f"CUDA runtime {_cuda_version(info['runtime'])} (CuPy's)   driver supports CUDA "
                f"{_cuda_version(info['driver'])}")
            mem = (f"{info['total'] / 2**30:.1f} GiB, {info['free'] / 2**30:.1f} GiB free"
                   if info["total"] else "memory unknown")
            out(f"GPU 0: {info['name']} ({mem}); {gpus} GPU(s) visible")
            if info["runtime"] and info["driver"] and info["driver"] < info["runtime"]:
                problems.append("cuda-mismatch")
        elif "no-gpu" not in problems and "cuda-mismatch" not in problems:
            out("GPU: none visible (cupy.cuda.runtime.getDeviceCount() is 0)")
            problems.append("no-gpu")
    usable = gpus > 0 and "cuda-mismatch" not in problems
    target = "cuda" if usable and device != "cpu" else "cpu"
    if usable:
        from . import gpu
        out(f"TF32 matrix products: {'on' if gpu.tf32_enabled() else 'off'} (minifcn.gpu.set_tf32; off = exact float32)")
        try:
            budget = f"{gpu.workspace_budget(cp) / 2**20:.0f} MiB"
        except Exception as e:  # noqa: BLE001 - a report line, not a verdict
            budget = f"unknown ({type(e).__name__})"
        out(f"convolution workspace on the GPU: {budget} (a quarter of the free memory, 64 MiB..2 GiB; "
            "minifcn.gpu.workspace_budget)")
    try:
        if target == "cuda":
            diff = tiny_op("cuda")
            out(f"tiny op (3x3 conv + gradient) on the GPU vs the CPU: largest relative difference {diff:.1e}")
            if not diff < 1e-4:
                problems.append("mismatch")
        if step and (target == "cuda" or not wanted):   # no CPU step when the GPU was asked for
            r = unet_step(target, steps=3 if target == "cuda" else 1)
            out(f"U-Net step (base 16, depth 4, batch {r['batch']}x3x{r['size']}x{r['size']}, Adam) on {target}: "
                f"{r['seconds'] * 1000:.1f} ms, {r['ops']} autograd ops forward, 1 host sync (loss.item); device calls per "
                "step without a GPU: python benchmarks/gpu_calls.py")
    except Exception as e:  # noqa: BLE001 - classify, then report
        text = f"{type(e).__name__}: {e}"
        out(f"error on {target}: {text}")
        problems.append("oom" if "OutOfMemory" in type(e).__name__ or "out of memory" in str(e).lower() else "error")
    gpu_problems = [p for p in problems if p in ("no-cupy", "no-gpu", "cuda-mismatch")]
    other = [p for p in problems if p not in gpu_problems]
    if not problems:
        out(f"verdict: OK - minifcn can train on {'the GPU (--device cuda)' if target == 'cuda' else 'the CPU'}.")
        return 0
    if gpu_problems and not other and not wanted:
        out("verdict: no usable GPU - minifcn runs on the CPU (device='cpu', the default). To use a GPU:")
    else:
        out("verdict: PROBLEM - " + ("the GPU path cannot be used" if gpu_problems else "see below") + ". Fix:")
    for p in dict.fromkeys(problems):
        out(f"  - {FIXES[p]}")
    return 1 if (other or wanted) else 0
