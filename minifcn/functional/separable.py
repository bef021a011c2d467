"""Separable linear maps of images: y = A_h x A_wᵀ for every (n, c) plane.

Adaptive average pooling (``pool.py``) and interpolation (``upsample.py``) are both of this
form: A_h (OH, H) and A_w (OW, W) are small matrices built on the host, whose rows hold the
averaging or interpolation weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, gpu
from ..autograd import Function
from ..backend import array_module
from . import fastconv


class Separable2d(Function):
    """A linear map that acts on H and W separately: y = A_h x A_wᵀ for every (n, c) plane.

    A_h is (OH, H), A_w is (OW, W). Adaptive average pooling (rows of A hold 1/region size)
    and interpolation (rows hold the interpolation weights) are both of this form.
    Backward is the transpose: dL/dx = A_hᵀ g A_w.
    """
    def __init__(self, a_h, a_w):
        self.a_h, self.a_w = a_h, a_w

    @staticmethod
    @fastconv.on_own_threads   # one BLAS thread: see fastconv.own_threads (a speed detail)
    def apply(x, b, d):
        """b x dᵀ for every plane of x, as two big matrix products (NumPy's batched
        ``b @ x`` would run one small product per plane, many times slower)."""
        xp = array_module(x)
        rows = xp.tensordot(b, x, axes=(1, 2))                       # (OH, N, C, W)
        return xp.tensordot(rows, d, axes=(3, 1)).transpose(1, 2, 0, 3)  # (N, C, OH, OW)

    def forward(self, x): return self.apply(x, self.a_h, self.a_w)
    def backward(self, g): return self.apply(g, self.a_h.T, self.a_w.T)


def matrix_on(a: np.ndarray, like: Any) -> Any:
    """A host matrix (small, built with NumPy) in ``like``'s dtype, on ``like``'s device
    (copied to a GPU once per matrix, device and dtype, then reused: minifcn.gpu)."""
    if backend.device_of(like) == "cpu":
        return a.astype(like.dtype)
    return gpu.constant_on(("matrix", a.shape, a.tobytes()), lambda: a, like)
