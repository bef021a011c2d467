"""Settings and helpers of the device (CuPy) path: fewer host syncs, caches per device, TF32.

* **Deferred checks.** Some argument checks need a value *of the data* (is every label in
  [0, K)?), which on a GPU means waiting for the device and copying a number back: a host
  sync. ``minifcn.train`` checks its labels once on the host, before copying them to the
  device, and runs the step inside ``with deferred_checks():``; the checks of *device* data
  inside the block (label range in the losses and metrics, max_unpool2d's index range) are
  then skipped. Outside such a block every check runs as before. CPU data is always checked.
* **TF32.** On Ampere and newer GPUs, CuPy can run float32 matrix products with TF32
  tensor cores (10-bit mantissa inputs, float32 accumulation): several times faster, about
  1e-3 relative error per product. It is **off by default** (results then match the CPU to
  float32 rounding); ``set_tf32(True)`` turns it on for speed (CuPy's float32 compute type,
  ``cupy._core.set_compute_type``). It only changes CuPy's matrix products; NumPy is unaffected.
* **Workspace per device.** A convolution builds its im2col columns in chunks of at most a
  workspace budget (``functional.conv_fast``). On the CPU that is 256 MiB; on a GPU it is
  ``workspace_budget(xp)``: a quarter of the device's free memory when first asked
  (``cupy.cuda.Device().mem_info``), at least 64 MiB and at most 2 GiB, measured once per
  device and cached (later readings would count CuPy's pooled blocks as used).
  ``conv_fast.workspace_limit = n`` overrides both with n bytes.
* **Caches per device.** ``constant_on(key, make, like)`` keeps a constant matrix (e.g. an
  interpolation matrix) on the device of ``like``, made once per (key, device, dtype),
  instead of copying it from the host on every forward.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np

from . import backend

_deferred = [0]


@contextlib.contextmanager
def deferred_checks() -> Iterator[None]:
    """Skip the checks of device data that need a host sync (the caller checked on the host)."""
    _deferred[0] += 1
    try:
        yield
    finally:
        _deferred[0] -= 1


def skip_device_check(x: Any) -> bool:
    """True when ``x`` is device data and a ``deferred_checks()`` block is active."""
    return _deferred[0] > 0 and backend.device_of(x) == "cuda"


def check_labels_on_host(labels: np.ndarray, num_classes: int, name: str = "masks",
                         allowed: tuple[int, ...] = ()) -> None:
    """Raise unless every label of the host array ``labels`` is in [0, num_classes) or ``allowed``.

    No device is involved: call it before the labels are copied to the GPU.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    bad = (labels < 0) | (labels >= num_classes)
    for value in allowed:
        bad &= labels != value
    if bad.any():
        value = int(labels[bad].flat[0])
        raise ValueError(f"{name} hold the label {value}, outside [0, {num_classes}) for "
                         f"num_classes={num_classes}" + (f" (and not one of {allowed})" if allowed else ""))


# ---- TF32 -------------------------------------------------------------------------------------
_tf32 = [False]


def set_tf32(enabled: bool) -> None:
    """Let CuPy's float32 matrix products use TF32 tensor cores (faster, ~1e-3 relative error).

    Off by default. Takes effect for the products computed after the call, in this process:
    it sets CuPy's compute type for float32 (``set_compute_type(float32, COMPUTE_TYPE_TF32)``,
    or back to ``COMPUTE_TYPE_FP32``), loading CuPy if needed. Without CuPy it only records
    the wish (nothing on the CPU changes).
    """
    _tf32[0] = bool(enabled)
    cp = backend._load_cupy()
    if cp is None or not hasattr(cp, "_core"):
        return  # no CuPy (or the test stand-in): nothing to switch
    try:
        from cupy._core import _routines_linalg as linalg
        linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TF32 if enabled else linalg.COMPUTE_TYPE_FP32)
    except Exception:  # noqa: BLE001 - a CuPy without compute types: stay exact
        pass


def tf32_enabled() -> bool:
    """Whether TF32 matrix products were asked for with ``set_tf32``."""
    return _tf32[0]


# ---- constants cached per device -------------------------------------------------------------
_constants: dict = {}
MAX_CONSTANTS = 256


def device_key(x: Any) -> tuple:
    """("cpu",) for host arrays, ("cuda", device id) for CuPy arrays."""
    if backend.device_of(x) == "cpu":
        return ("cpu",)
    return ("cuda", int(getattr(x.device, "id", 0)))


def constant_on(key: Any, make: Callable[[], np.ndarray], like: Any, dtype: Any = None) -> Any:
    """The host array ``make()`` in ``dtype`` (default ``like``'s) on ``like``'s device, made
    once per (key, device, dtype) and reused (the array must not be written to)."""
    dtype = np.dtype(like.dtype if dtype is None else dtype)
    full = (key, device_key(like), dtype.str)
    value = _constants.get(full)
    if value is None:
        if len(_constants) >= MAX_CONSTANTS:
            _constants.clear()
        value = backend.to_device(np.asarray(make()).astype(dtype), backend.device_of(like))
        _constants[full] = value
    return value


def clear_caches() -> None:
    """Forget the cached constants (frees their device memory) and workspace budgets."""
    _constants.clear()
    _budgets.clear()


# ---- workspace budget per device ---------------------------------------------------------------
WORKSPACE_FRACTION = 0.25        # of the free device memory
WORKSPACE_MIN = 64 * 2**20       # bytes, floor (a nearly full device still gets whole images)
WORKSPACE_MAX = 2 * 2**30        # bytes, ceiling (bigger chunks do not make a GEMM faster)
_budgets: dict = {}


def workspace_budget(xp: Any) -> int:
    """Bytes of column buffer one convolution may build at once on ``xp``'s current device:
    ``WORKSPACE_FRACTION`` of its free memory at the first call, clipped to
    [``WORKSPACE_MIN``, ``WORKSPACE_MAX``], cached per device id (``clear_caches`` forgets)."""
    device = xp.cuda.Device()
    key = int(device.id)
    budget = _budgets.get(key)
    if budget is None:
        free, _total = device.mem_info
        budget = _budgets[key] = int(min(WORKSPACE_MAX, max(WORKSPACE_MIN, WORKSPACE_FRACTION * free)))
    return budget
