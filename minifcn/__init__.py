"""minifcn: learn image segmentation by building it, on NumPy (CPU) or CuPy (GPU).

    import minifcn as mf
    from minifcn import functional as F, nn, optim, metrics, arith

Importing minifcn loads only NumPy; SciPy, Matplotlib and CuPy load when first needed.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .autograd import Function, Tensor, is_grad_enabled, no_grad, tensor  # noqa: E402,F401
from .backend import array_module, cuda_available  # noqa: E402,F401
from .functional.basic import cat, stack  # noqa: E402,F401
from .gradcheck import gradcheck  # noqa: E402,F401

# Submodules load on first attribute access (mf.nn, mf.metrics, ...), keeping import fast.
_SUBMODULES = {"functional", "nn", "optim", "metrics", "arith", "models", "data", "train", "cli",
               "backend", "checkpoint", "convmatrix"}
# Top-level names that live in a submodule: name -> module.
_LAZY = {"conv_matrix": "convmatrix", "conv_matrix_1d": "convmatrix", "save": "checkpoint",
         "load": "checkpoint"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'minifcn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY))
