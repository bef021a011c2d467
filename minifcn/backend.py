"""Backend: the only module that knows NumPy from CuPy.

Every other module asks an *array* which module it belongs to (``array_module(x)``)
and calls that module's functions, so one code path serves the CPU and the GPU.

Devices are named ``"cpu"`` (NumPy) and ``"cuda"`` (CuPy). CuPy is imported lazily, the
first time a GPU array is asked for, so ``import minifcn`` stays fast and works without it.
Tests can install a stand-in for CuPy with :func:`use_cupy`.
"""
from __future__ import annotations

import types
from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda")

_cupy: Any = None          # the CuPy module (or a test stand-in) once loaded
_cupy_ndimage: Any = None  # cupyx.scipy.ndimage (or the stand-in's)
_cupy_error: str | None = None


def use_cupy(module: types.ModuleType | None, ndimage: Any = None) -> None:
    """Serve device ``"cuda"`` with ``module`` (CuPy or a stand-in); ``None`` forgets it."""
    global _cupy, _cupy_ndimage, _cupy_error
    _cupy, _cupy_ndimage, _cupy_error = module, ndimage, None


def _load_cupy() -> Any:
    """Import CuPy once; remember why it failed so the error can say what to install."""
    global _cupy, _cupy_ndimage, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy
            import cupyx.scipy.ndimage as cupy_ndimage
        except Exception as e:  # ImportError, or a broken CUDA install
            _cupy_error = f"{type(e).__name__}: {e}"
        else:
            _cupy, _cupy_ndimage = cupy, cupy_ndimage
    return _cupy


def _gpu_count(cp: Any) -> int:
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    cp = _load_cupy()
    return cp is not None and _gpu_count(cp) > 0


def get_cupy() -> Any:
    """Return the CuPy module, or raise a RuntimeError that says what is missing."""
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError(
            f"device='cuda' needs CuPy, which could not be imported ({_cupy_error}). "
            "Install it with: python -m pip install 'minifcn[gpu]'  (CuPy for CUDA 12), "
            "or use device='cpu'.")
    if _gpu_count(cp) == 0:
        raise RuntimeError(
            "device='cuda' was asked for: CuPy is installed but sees no GPU "
            "(cupy.cuda.runtime.getDeviceCount() is 0). Check the NVIDIA driver and "
            "CUDA_VISIBLE_DEVICES, or use device='cpu'.")
    return cp


def check_device(device: str) -> str:
    """Validate a device name and return it."""
    if device not in DEVICES:
        raise ValueError(f"device={device!r} is not a known device; use one of {DEVICES}")
    return device


def module_for(device: str) -> Any:
    """The array module that holds arrays on ``device``."""
    return np if check_device(device) == "cpu" else get_cupy()


def _is_cupy_array(x: Any) -> bool:
    # a CuPy array made by the user before minifcn loaded CuPy: load it now
    if _cupy is None and type(x).__module__.startswith("cupy"):
        _load_cupy()
    return _cupy is not None and isinstance(x, _cupy.ndarray)


def is_array(x: Any) -> bool:
    """True for a NumPy array or a CuPy array."""
    return isinstance(x, np.ndarray) or _is_cupy_array(x)


def array_module(*arrays: Any) -> Any:
    """The array module of the data: CuPy if any argument is a CuPy array, else NumPy
    (also for Python/NumPy scalars and None). The one way minifcn asks "numpy or cupy?"."""
    for x in arrays:
        if _is_cupy_array(x):
            return _cupy
    return np


def device_of(x: Any) -> str:
    """``"cuda"`` for CuPy arrays, ``"cpu"`` otherwise."""
    return "cuda" if array_module(x) is not np else "cpu"


def ndimage_module(xp: Any) -> Any:
    """``scipy.ndimage`` for NumPy, ``cupyx.scipy.ndimage`` for CuPy (imported on use)."""
    if xp is np:
        import scipy.ndimage
        return scipy.ndimage
    get_cupy()
    return _cupy_ndimage


def to_device(x: Any, device: str) -> Any:
    """Move an array to ``device`` (a copy only when it has to cross)."""
    if device_of(x) == check_device(device):
        return x
    if device == "cpu":
        return x.get()
    return get_cupy().asarray(x)


def to_numpy(x: Any) -> np.ndarray:
    """A host NumPy array for any backend array."""
    return x.get() if device_of(x) == "cuda" else np.asarray(x)
