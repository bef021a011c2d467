"""Activations and (log-)softmax.

relu, sigmoid and tanh are also Tensor methods, so they live in the autograd core
(``minifcn/autograd.py``) and are re-exported here.

Softmax is computed after subtracting the maximum along ``axis`` (the result is unchanged,
since softmax(x) = softmax(x - c), and exp can no longer overflow).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, kernels
from ..autograd import Function, ReLU, Sigmoid, Tanh, Tensor, sigmoid, tanh  # noqa: F401
from ..autograd import relu as relu_readable
from ..backend import array_module, device_of
from ..checks import check_float
from . import fastconv
from .norm import BatchNorm


class ReLUFused(Function):
    """``ReLU`` (y = a·(a > 0), dL/da = g·(a > 0)) as one GPU kernel each way (``kernels.relu_*``),
    same values; the mask is read back from y, which the next layer keeps anyway."""
    def forward(self, a):
        self.y = kernels.relu_forward(a)
        return self.y

    def backward(self, g): return kernels.relu_backward(g, self.y)


class ReLUAfterBatchNorm(Function):
    """``ReLU`` of a fused BatchNorm's output on the GPU: its values were written by the
    BatchNorm kernel (no launch here); backward is one kernel that also hands g·x̂ to the
    BatchNorm's backward (``minifcn.kernels``, "BatchNorm → ReLU")."""
    def __init__(self, bn):
        self.bn = bn

    def forward(self, a):
        self.y, self.bn.relu_out = self.bn.relu_out, None   # taken: one consumer only
        return self.y

    def backward(self, g): return kernels.relu_after_batchnorm_backward(g, self.y, self.bn)


class ReLUBlocked(Function):
    """``ReLU`` on the CPU for big arrays, same values (y = a·(a > 0), dL/da = g·(a > 0)):
    mask and product per cache-sized range, the ranges split between threads
    (``fastconv.elementwise``), instead of two passes over memory on one thread."""
    def forward(self, a):
        y, self.mask = np.empty_like(a), np.empty(a.shape, dtype=bool)
        af, yf, mf = a.reshape(-1), y.reshape(-1), self.mask.reshape(-1)

        def part(i0: int, i1: int) -> None:
            np.greater(af[i0:i1], 0, out=mf[i0:i1])
            np.multiply(af[i0:i1], mf[i0:i1], out=yf[i0:i1])
        fastconv.elementwise(part, a.size, a.itemsize)
        return y

    def backward(self, g):
        gx = np.empty(g.shape, dtype=g.dtype)
        gf, xf, mf = g.reshape(-1), gx.reshape(-1), self.mask.reshape(-1)
        fastconv.elementwise(lambda i0, i1: np.multiply(gf[i0:i1], mf[i0:i1], out=xf[i0:i1]), g.size, g.itemsize)
        return gx


relu_blocked_from = 2**16   # elements: ReLUBlocked for C-contiguous NumPy float arrays this big


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0): ``autograd.relu`` (the readable ReLU), or on a GPU with fused kernels
    (``minifcn.kernels.enabled``) the same values in one launch each way (``ReLUFused``), or
    none forward when x comes straight from a fused batch norm (``ReLUAfterBatchNorm``); on
    the CPU, big arrays in blocks on every thread (``ReLUBlocked``, off with
    ``fastconv.enabled = False``)."""
    data = x.data if isinstance(x, Tensor) else x
    if (fastconv.enabled and isinstance(data, np.ndarray) and data.dtype.kind == "f"
            and data.size >= relu_blocked_from and data.flags.c_contiguous):
        return ReLUBlocked()(x)
    if backend.is_array(data) and kernels.enabled(array_module(data)) and data.dtype.kind == "f":
        bn = x.creator if isinstance(x, Tensor) else None
        if isinstance(bn, BatchNorm) and getattr(bn, "relu_out", None) is not None:
            return ReLUAfterBatchNorm(bn)(x)
        return ReLUFused()(x)
    return relu_readable(x)


class LeakyReLU(Function):
    """y = a if a > 0 else slope·a."""
    def __init__(self, slope):
        self.slope = slope

    def forward(self, a):
        one, slope = a.dtype.type(1), a.dtype.type(self.slope)   # a's dtype: no float64 temporary
        self.scale = array_module(a).where(a > 0, one, slope).astype(a.dtype, copy=False)
        return a * self.scale

    def backward(self, g): return g * self.scale


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU(negative_slope)(x)


class Softmax(Function):
    """yᵢ = e^(aᵢ - max a) / Σⱼ e^(aⱼ - max a);  dL/da = y (g - Σ g y)."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        e = array_module(a).exp(a - a.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, g):
        return self.y * (g - (g * self.y).sum(axis=self.axis, keepdims=True))


def softmax(x: Tensor, axis: int = 1) -> Tensor:
    """Softmax along ``axis`` (the class axis of (N, K, H, W) logits by default)."""
    return Softmax(axis)(x)


class LogSoftmax(Function):
    """yᵢ = aᵢ - m - log Σⱼ e^(aⱼ - m), m = max a;  dL/da = g - softmax(a) Σ g."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        xp = array_module(a)
        shifted = a - a.max(axis=self.axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.softmax = xp.exp(y)
        return y

    def backward(self, g):
        return g - self.softmax * g.sum(axis=self.axis, keepdims=True)


def log_softmax(x: Tensor, axis: int = 1) -> Tensor:
    """log(softmax(x)) computed stably."""
    return LogSoftmax(axis)(x)


class Dropout(Function):
    """Inverted dropout: zero each value with probability p, scale the rest by 1/(1-p)."""
    def __init__(self, p, rng):
        self.p, self.rng = p, rng

    def forward(self, a):
        xp = array_module(a)
        # drawn on the device in a's dtype (CuPy's random_sample takes a dtype; NumPy's does not)
        draw = xp.random.random_sample(a.shape) if device_of(a) == "cpu" else xp.random.random_sample(a.shape, dtype=a.dtype)
        keep = draw >= self.p if self.rng is None else \
            xp.asarray(self.rng.random(a.shape) >= self.p)
        self.scale = keep.astype(a.dtype) / (1 - self.p)
        return a * self.scale

    def backward(self, g): return g * self.scale


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: Any = None) -> Tensor:
    """Inverted dropout; the identity when not training or p == 0.

    ``rng`` (a ``numpy.random.Generator``) makes the mask reproducible; without it the
    array module's global generator is used.
    """
    check_float("dropout p", p, 0, 1, high_open=True)
    if not training or p == 0:
        return x
    return Dropout(p, rng)(x)
