"""Batch norm on the CPU in fewer passes over memory (the readable form: ``norm.BatchNorm``).

The same numbers as ``norm.BatchNorm`` (to rounding), computed with the per-channel
constants folded so that each big array is read or written as few times as possible.
With d = x - μ (the centred input, kept for backward), a = γ/√(σ² + ε) and m = N·H·W:

    forward:   y  = a·d + β                                   (σ² = Σ d²/m)
    backward:  ∂L/∂β = Σ g,   ∂L/∂γ = Σ g·x̂ = Σ g·d / √(σ² + ε),
               ∂L/∂x = a·g − (a/m)·(Σ g + x̂·Σ g·x̂)  =  a·g + k·d + c,
               with per-channel k = −a·(∂L/∂γ)/(m·√(σ² + ε)) and c = −a·(Σ g)/m.

The readable forward makes about fifteen passes over x-sized arrays (the mean, ``var``'s
own mean, centring and squaring, x̂, γ·x̂, + β), its backward about twelve; these make
five and six. The per-channel sums of products (Σ d², Σ g·d) are dot products over each
(n, c) plane through ``matmul``, with no temporary and BLAS's blocked accumulation; on big
arrays every pass is split over the images between threads (``fastconv._parallel``).
Only NumPy and float arrays with at least 2 dimensions; everywhere else (CuPy, where
``kernels.py`` fuses the whole formula into one kernel) the readable path runs.
``enabled = False`` turns it off; tests/test_fastnorm.py checks it against the readable form.

Tried and not kept (2026-11-30): cache-sized blocks of planes with x - μ recomputed in each
block instead of kept (forward 8.8 -> 6.4 ms at 8×16×128², but backward and every smaller
shape slower: 8×64×32² forward + backward 2.8 -> 3.5 ms), and the same blocks keeping d
(slower at every size). The threads' threshold (``parallel_from``) was measured again once
OpenBLAS no longer spun beside our threads (``fastconv.own_threads``): 2**16 and 2**20 gave
the same U-Net step.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import array_module
from . import fastconv

enabled = True
parallel_from = 2**20   # elements: above this the passes are split over the images between threads


def applies(x: Any) -> bool:
    """Whether the fast path runs for this input (NumPy, floating point, (N, C, ...))."""
    return enabled and array_module(x) is np and x.ndim >= 2 and x.dtype.kind == "f"


def _planes(a: Any) -> Any:
    """(N, C, ...) -> (N, C, L): one row per (image, channel) plane (a view when contiguous)."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def _each(fn: Callable[[int, int], Any], a: Any) -> None:
    """fn(n0, n1) over the images of ``a``: split between threads when ``a`` is big (NumPy
    releases the GIL in these loops), else one call."""
    if a.size >= parallel_from:
        fastconv._parallel(fn, a.shape[0])
    else:
        fn(0, a.shape[0])


def _dots(a: Any, b: Any) -> Any:
    """Σ over each plane of a·b: (n, C, L) x2 -> (n, C), dot products, no temporary."""
    return np.matmul(a[:, :, None, :], b[:, :, :, None])[:, :, 0, 0]


@fastconv.on_own_threads
def forward(fn: Any, x: Any, weight: Any, bias: Any) -> Any:
    """BatchNorm.forward: sets fn.mean, fn.var (batch statistics) and what ``backward`` needs."""
    xr = _planes(x)
    N, C, L = xr.shape
    m, t = N * L, x.dtype.type
    per = np.empty((N, C), dtype=x.dtype)                             # per-plane sums
    fn.batch_stats = fn.mean is None
    if fn.batch_stats:
        _each(lambda a, b: np.sum(xr[a:b], axis=2, out=per[a:b]), xr)
        fn.mean = per.sum(axis=0) / t(m)
    mean = fn.mean.astype(x.dtype, copy=False)[:, None]
    d = np.empty_like(xr)                                             # centred input, kept

    def centre(a: int, b: int) -> None:
        np.subtract(xr[a:b], mean, out=d[a:b])
        if fn.batch_stats:
            per[a:b] = _dots(d[a:b], d[a:b])
    _each(centre, xr)
    if fn.batch_stats:
        fn.var = per.sum(axis=0) / t(m)
    fn.inv_std = 1 / np.sqrt(fn.var.astype(x.dtype, copy=False) + t(fn.eps))     # (C,)
    fn.gamma = None if weight is None else weight.astype(x.dtype, copy=False)
    fn.has_bias = bias is not None
    scale = (fn.inv_std if weight is None else fn.gamma * fn.inv_std)[:, None]
    shift = None if bias is None else bias.astype(x.dtype, copy=False)[:, None]
    y = np.empty_like(xr)

    def affine(a: int, b: int) -> None:
        np.multiply(d[a:b], scale, out=y[a:b])
        if shift is not None:
            y[a:b] += shift
    _each(affine, xr)
    fn.centred, fn.m, fn.fast = d, m, True
    return y.reshape(x.shape)


@fastconv.on_own_threads
def backward(fn: Any, g: Any) -> tuple:
    """BatchNorm.backward for a forward done by ``forward``: (dx, dγ or None, dβ or None)."""
    gr, d, inv_std = _planes(g), fn.centred, fn.inv_std
    N, C, _ = gr.shape
    a = inv_std if fn.gamma is None else fn.gamma * inv_std
    need_gd = fn.batch_stats or fn.gamma is not None
    sums, dots = np.empty((N, C), dtype=g.dtype), np.empty((N, C), dtype=g.dtype)

    def reduce(n0: int, n1: int) -> None:
        np.sum(gr[n0:n1], axis=2, out=sums[n0:n1])
        if need_gd:
            dots[n0:n1] = _dots(gr[n0:n1], d[n0:n1])
    _each(reduce, gr)
    sum_g = sums.sum(axis=0)
    sum_gxhat = dots.sum(axis=0) * inv_std if need_gd else None      # Σ g·x̂ = ∂L/∂γ
    dx = np.empty_like(gr)
    if fn.batch_stats:
        m = g.dtype.type(fn.m)
        k = (-a * sum_gxhat * inv_std / m)[:, None]
        c = (-a * sum_g / m)[:, None]

    def grad_x(n0: int, n1: int) -> None:
        np.multiply(gr[n0:n1], a[:, None], out=dx[n0:n1])
        if fn.batch_stats:
            dx[n0:n1] += d[n0:n1] * k
            dx[n0:n1] += c
    _each(grad_x, gr)
    fn.centred = None
    dweight = sum_gxhat if fn.gamma is not None else None
    dbias = sum_g if fn.has_bias else None
    return dx.reshape(g.shape), dweight, dbias
