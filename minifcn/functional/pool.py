"""Pooling: max pooling (with the winners' indices), average pooling, adaptive average pooling.

Shapes: x is (N, C, H, W); the window is KH x KW taps, DH/DW apart (dilation), slid by
SH/SW (stride) over the input padded by PH/PW on each side; the output is (N, C, OH, OW)
with OH = arith.pool_output_size(H, KH, SH, PH, DH, ceil_mode), likewise OW.

The idea on one screen is ``max_pool2d_simple`` / ``avg_pool2d_simple`` below: unfold the
windows into columns with im2col (as a convolution does), take the max or the mean of each
column, and let autograd find the gradient. The Functions after them compute the same
without copying the windows: ``im2col.windows`` gives a zero-copy view
(N, C, KH, KW, OH, OW) of the padded input, and tap (kh, kw) of every window is one
strided slice of it. So a pooling is a loop over the KH·KW kernel offsets, each step one
whole-array operation:

    max pool:  y = running max over taps of view[:, :, kh, kw]   (and which tap won)
    avg pool:  y = (Σ over taps of view[:, :, kh, kw]) / divisor

Backward hands each tap its share of the gradient (the winner's g, or g / divisor) and
``im2col.col2im`` adds every tap back to the pixel it read: overlapping windows add up,
exactly, as in the input gradient of a convolution.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import arith, kernels
from ..autograd import Function, Tensor
from ..backend import array_module
from ..checks import check_nchw
from . import fastconv
from .basic import pad
from .im2col import Col2Im, Im2Col, WindowGeometry, col2im, windows  # noqa: F401
from .separable import Separable2d, matrix_on  # noqa: F401  (Separable2d was defined here)


# ---- geometry -----------------------------------------------------------------------------
def pool_geometry(fn: str, size: tuple[int, int], kernel_size: Any, stride: Any, padding: Any,
                  dilation: Any = 1, ceil_mode: bool = False) -> WindowGeometry:
    """Check the hyperparameters and say where the windows sit.

    The output sizes come from ``arith.pool_output_size``, which also rejects a kernel
    larger than the padded input and padding larger than half the kernel. The geometry's
    padding is (PH, PW) before, and after as much as the last window reaches (a ceil_mode
    window may hang over the right padding).
    """
    k = arith.pair(kernel_size, "kernel_size")
    s = k if stride is None else arith.pair(stride, "stride")
    p = arith.pair(padding, "padding")
    d = arith.pair(dilation, "dilation")
    out, pads = [], []
    for axis, i in enumerate(size):
        try:
            o = arith.pool_output_size(i, k[axis], s[axis], p[axis], d[axis], ceil_mode)
        except ValueError as e:
            raise ValueError(f"{fn} along {'HW'[axis]} (input size {i}): {e}") from None
        reach = (o - 1) * s[axis] + d[axis] * (k[axis] - 1) + 1       # padded size spanned
        out.append(o)
        pads.append((p[axis], max(0, reach - i - p[axis])))
    return WindowGeometry(k, s, tuple(pads), d, 1, tuple(size), tuple(out))


def _unpack(self: Function, geo: WindowGeometry) -> None:
    """Keep the geometry on a pooling Function, also as k, s, p, d, out, pads."""
    self.geo = geo
    self.k, self.s, self.d, self.out, self.pads = geo.kernel, geo.stride, geo.dilation, geo.out_size, geo.padding
    self.p = (geo.padding[0][0], geo.padding[1][0])


# ---- the readable forms: windows as columns, then a max or a mean (autograd differentiates) -
def max_pool2d_simple(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                      dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """max_pool2d as im2col (padding -inf) + max over each column's window: equal to max_pool2d
    (with distinct values; tied maxima share the gradient here, the first one wins there)."""
    x = check_nchw(x, "max_pool2d_simple")
    geo = pool_geometry("max_pool2d_simple", x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    return _pool_simple(x, geo, -float("inf")).max(axis=1).transpose(1, 0, 2, 3)


def avg_pool2d_simple(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                      ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """avg_pool2d as im2col (padding 0) + sum over each column's window / divisor: equal to
    avg_pool2d."""
    x = check_nchw(x, "avg_pool2d_simple")
    geo = pool_geometry("avg_pool2d_simple", x.shape[2:], kernel_size, stride, padding, 1, ceil_mode)
    total = _pool_simple(x, geo, 0.0).sum(axis=1).transpose(1, 0, 2, 3)
    return total / _avg_divisor_2d(x.data, geo, count_include_pad)


def _pool_simple(x: Tensor, geo: WindowGeometry, pad_value: float) -> Tensor:
    """Windows of x padded with ``pad_value`` as (C, KH·KW, N, OH, OW)."""
    (N, C), (KH, KW), (OH, OW) = x.shape[:2], geo.kernel, geo.out_size
    xpad = pad(x, ((0, 0), (0, 0)) + geo.padding, value=pad_value)
    cols = Im2Col(geo.kernel, geo.stride, ((0, 0), (0, 0)), geo.dilation)(xpad)   # (C·KH·KW, N·OH·OW)
    return cols.reshape(C, KH * KW, N, OH, OW)


# ---- max pooling --------------------------------------------------------------------------
fast_2x2 = True   # NumPy, 2x2 windows at stride 2 (U-Net's pooling): the four-view path below
                  # (the four views: kernels.taps_2x2, which the fused GPU kernel reads too)


def _max_2x2(x: Any, out: tuple) -> tuple:
    """y and the winning tap t = 2·i + j (uint8) of every 2x2/2 window, the readable loop's rule
    (a strictly larger value or a NaN replaces): 4 views, no padding, no int64 per tap.

    Cache-sized blocks of (image, channel) planes, split between threads (``fastconv._blocks``).
    A block without NaN or ±inf (its sum is finite) takes pairs: the first maximum of the top
    row's two taps, of the bottom row's, then of those two (the bottom only if strictly
    larger), which is the scan's first maximum; 3.5x faster than the scan, whose rule for NaN
    (the last NaN wins) the other blocks keep."""
    N, C, H, W = x.shape
    OH, OW = out
    x1 = x.reshape(1, N * C, H, W)
    best, tap = np.empty((1, N * C, OH, OW), dtype=x.dtype), np.empty((1, N * C, OH, OW), dtype=np.uint8)

    def block(r0: int, r1: int, scratch: Any) -> None:
        a, b, c, d = kernels.taps_2x2(x1[:, r0:r1], out)
        y, t_ = best[:, r0:r1], tap[:, r0:r1]
        flags = scratch.reshape(-1)[:3 * y.size].reshape((3,) + y.shape)
        if np.isfinite(x1[:, r0:r1].sum()):
            right, lower, below = flags                   # the pair's second tap wins / the bottom pair wins
            np.greater(b, a, out=right)
            np.greater(d, c, out=lower)
            bottom = np.maximum(c, d)
            np.maximum(a, b, out=y)
            np.greater(bottom, y, out=below)
            np.copyto(y, bottom, where=below)
            np.copyto(right, lower, where=below)
            np.copyto(t_, below)
            np.left_shift(t_, 1, out=t_)
            np.bitwise_or(t_, right, out=t_)
            return
        wins = flags[0]
        np.copyto(y, a)
        t_[...] = 0
        for t, v in enumerate((b, c, d), start=1):
            np.greater(v, y, out=wins)
            wins |= np.isnan(v)
            np.copyto(y, v, where=wins)
            np.copyto(t_, t, where=wins)
    fastconv._blocks(np, block, N * C, H * W, np.bool_)
    return best.reshape(N, C, OH, OW), tap.reshape(N, C, OH, OW)


def _max_2x2_backward(g: Any, tap: Any, shape: tuple) -> Any:
    """dL/dx of ``_max_2x2``: each window's g to its winning tap, 0 elsewhere (also in the
    rows/columns a floor-mode pool leaves out). Blocks of planes as in the forward; where g is
    finite, each tap's view is written once as g·(tap == t) (6x faster than zeros and a
    masked copy, which the blocks holding NaN or ±inf keep: there g·0 would not be 0)."""
    N, C, H, W = shape
    OH, OW = g.shape[2:]
    gx = np.empty((1, N * C, H, W), dtype=g.dtype)
    g1, tap1 = g.reshape(1, N * C, OH, OW), tap.reshape(1, N * C, OH, OW)

    def block(r0: int, r1: int, scratch: Any) -> None:
        gb, tb, out = g1[:, r0:r1], tap1[:, r0:r1], gx[:, r0:r1]
        mask = scratch.reshape(-1)[:tb.size].reshape(tb.shape)
        finite = bool(np.isfinite(gb.sum()))
        out[:, :, 2 * OH:] = 0
        out[:, :, :, 2 * OW:] = 0
        if not finite:
            out[...] = 0
        for t, view in enumerate(kernels.taps_2x2(out, (OH, OW))):
            np.equal(tb, t, out=mask)
            if finite:
                np.multiply(gb, mask, out=view)
            else:
                np.copyto(view, gb, where=mask)
    fastconv._blocks(np, block, N * C, H * W, np.bool_)
    return gx.reshape(shape)


class MaxPool2d(Function):
    """y = max over each window; also returns the winner's flat index row·W + col in its plane.

    Padding counts as -inf. Scanning the taps in order and replacing only on a strictly
    larger value keeps the first maximum (PyTorch's tie rule); NaN always wins, so NaN
    propagates. Backward: dL/dx[winner] += g for every window (other inputs get 0).
    """
    def __init__(self, geo: WindowGeometry, with_index: bool = True):
        _unpack(self, geo)
        self.with_index = with_index     # False: y alone (the CPU 2x2 path then builds no index)

    def forward(self, x):
        y, index = self._pool(x)
        return (y, index) if self.with_index else y

    def _pool(self, x):
        xp = array_module(x)
        (KH, KW), (SH, SW), (PH, PW), (DH, DW), (OH, OW) = self.k, self.s, self.p, self.d, self.out
        N, C, H, W = self.shape = x.shape
        # GPU, 2x2/2 windows that stay inside the input (a ceil_mode window may hang over): one fused kernel
        if self.pads == ((0, 0), (0, 0)) and kernels.maxpool2x2_applies(x, self.k, self.s, self.p, self.d):
            y, self.index, self.corner = kernels.maxpool2x2_forward(x, self.out)
            self.fused = True
            return y, self.index
        if fast_2x2 and xp is np and (self.k, self.s, self.pads, self.d) == ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)):
            y, self.tap = _max_2x2(x, self.out)                   # CPU: four strided views
            if not self.with_index:
                return y, None
            OH, OW = self.out
            corner = 2 * np.arange(OH)[:, None] * W + 2 * np.arange(OW)[None, :]
            self.index = corner + (self.tap >> 1).astype(np.int64) * W + (self.tap & 1)
            return y, self.index
        xpad = x if self.pads == ((0, 0), (0, 0)) else xp.pad(x, ((0, 0), (0, 0)) + self.pads,
                                                               constant_values=-np.inf)
        top = xp.arange(OH, dtype=np.int64) * SH - PH         # input row of each window's tap kh = 0
        left = xp.arange(OW, dtype=np.int64) * SW - PW
        self.corner = top[:, None] * W + left[None, :]        # (OH, OW) flat index of tap (0, 0)
        # Before any tap wins (a window of -inf only), PyTorch reports its first tap inside the input.
        first_row = top + DH * ((xp.maximum(-top, 0) + DH - 1) // DH)
        first_col = left + DW * ((xp.maximum(-left, 0) + DW - 1) // DW)
        best = xp.full((N, C, OH, OW), -np.inf, dtype=x.dtype)
        index = xp.broadcast_to(first_row[:, None] * W + first_col[None, :], best.shape)
        view = windows(xpad, self.k, self.s, dilation=self.d, out_size=self.out)
        for kh in range(KH):
            for kw in range(KW):
                v = view[:, :, kh, kw]                        # tap (kh, kw) of every window
                wins = (v > best) | xp.isnan(v)
                best = xp.where(wins, v, best)
                index = xp.where(wins, self.corner + (kh * DH * W + kw * DW), index)
        self.index = index
        return best, index

    def backward(self, g):
        if getattr(self, "fused", False):                                    # GPU: one fused kernel
            return kernels.maxpool2x2_backward(g, self.index, self.corner, self.shape)
        if getattr(self, "tap", None) is not None:                          # CPU 2x2/2: four views
            return _max_2x2_backward(g, self.tap, self.shape)
        xp = array_module(g)
        (KH, KW), (DH, DW), W = self.k, self.d, self.shape[3]
        tap = self.corner + (xp.arange(KH)[:, None] * DH * W + xp.arange(KW) * DW)[:, :, None, None, None]
        # columns (C, KH, KW, N, OH, OW) in im2col's layout: g where that tap won, else 0.
        # A tap in the side padding can share a flat index with a real pixel (column -1 of
        # row r is column W-1 of row r-1), but col2im adds it into the border it crops.
        won = self.index.transpose(1, 0, 2, 3)[:, None, None] == tap
        cols = xp.where(won, g.transpose(1, 0, 2, 3)[:, None, None], 0)
        return col2im(cols, self.shape, self.k, self.s, self.pads, self.d, self.out)


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling over KH x KW windows (stride defaults to the kernel size).

        y[n, c, oh, ow] = max_{kh, kw} xpad[n, c, oh·SH + kh·DH, ow·SW + kw·DW]

    with xpad padded by -inf. With ``return_indices`` also returns int64 indices of the
    same shape: the winner's flat position row·W + col in its (H, W) input plane, as
    PyTorch does, ready for ``max_unpool2d``.
    """
    x = check_nchw(x, "max_pool2d")
    geo = pool_geometry("max_pool2d", x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2d(geo, with_index=return_indices)(x)


# ---- average pooling ----------------------------------------------------------------------
def _avg_divisor(xp: Any, i: int, k: int, s: int, p: int, o: int, count_include_pad: bool) -> Any:
    """Per output position along one axis, how many of the window's taps are counted.

    PyTorch's rule: the window [start, start + k) is clipped to the padded input
    [-p, i + p) (ceil_mode's overhang never counts); without count_include_pad it is
    clipped further to the input [0, i).
    """
    start = xp.arange(o) * s - p
    end = xp.minimum(start + k, i + p)
    if count_include_pad:
        return end - start
    return xp.minimum(end, i) - xp.maximum(start, 0)


def _avg_divisor_2d(x: Any, geo: WindowGeometry, count_include_pad: bool) -> Any:
    """The (OH, OW) divisors of an average pooling of x, in x's dtype and on its device."""
    xp, (H, W) = array_module(x), geo.in_size
    dh, dw = (_avg_divisor(xp, i, geo.kernel[a], geo.stride[a], geo.padding[a][0], geo.out_size[a],
                           count_include_pad) for a, i in enumerate((H, W)))
    return (dh[:, None] * dw[None, :]).astype(x.dtype)


class AvgPool2d(Function):
    """y = (Σ window) / divisor;  dL/dx gets g / divisor from every window that covers it."""
    def __init__(self, geo: WindowGeometry, count_include_pad: bool):
        _unpack(self, geo)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        self.shape = x.shape
        self.divisor = _avg_divisor_2d(x, self.geo, self.count_include_pad)   # (OH, OW)
        view = windows(x, self.k, self.s, self.pads, out_size=self.out)  # zero padding
        total = sum(view[:, :, kh, kw] for kh in range(self.k[0]) for kw in range(self.k[1]))
        return total / self.divisor

    def backward(self, g):
        (KH, KW), (OH, OW), (N, C) = self.k, self.out, self.shape[:2]
        share = (g / self.divisor).transpose(1, 0, 2, 3)[:, None, None]  # every tap's share
        cols = array_module(g).broadcast_to(share, (C, KH, KW, N, OH, OW))
        return col2im(cols, self.shape, self.k, self.s, self.pads, (1, 1), self.out)


def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Average pooling over KH x KW windows (stride defaults to the kernel size).

        y[n, c, oh, ow] = Σ_{kh, kw} xpad[n, c, oh·SH + kh, ow·SW + kw] / divisor[oh, ow]

    xpad is zero-padded. The divisor follows PyTorch: the window's size clipped to the
    padded input (``count_include_pad=True``), or only the real input pixels it covers
    (``False``); a ceil_mode overhang beyond the padding never counts.
    """
    x = check_nchw(x, "avg_pool2d")
    geo = pool_geometry("avg_pool2d", x.shape[2:], kernel_size, stride, padding, 1, ceil_mode)
    return AvgPool2d(geo, bool(count_include_pad))(x)


def adaptive_matrix(i: int, o: int) -> np.ndarray:
    """(o, i) averaging matrix: row r averages input cells [floor(r·i/o), ceil((r+1)·i/o)).

    PyTorch's adaptive regions: they cover the input, neighbours sharing a cell where o
    does not divide i; where it does, this is avg_pool with kernel = stride = i / o.
    """
    r = np.arange(o)
    start, end = (r * i) // o, -((-(r + 1) * i) // o)
    cols = np.arange(i)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int, int]) -> Tensor:
    """Average pooling to a fixed (OH, OW) whatever the input size.

    ``adaptive_avg_pool2d(x, 1)`` is the global average pool, y[n, c] = mean of the plane
    (DeepLab's image-level feature). Written as y = A_h x A_wᵀ with averaging matrices.
    """
    x = check_nchw(x, "adaptive_avg_pool2d")
    oh, ow = arith.pair(output_size, "output_size", minimum=1)
    H, W = x.shape[2:]
    return Separable2d(matrix_on(adaptive_matrix(H, oh), x.data),
                       matrix_on(adaptive_matrix(W, ow), x.data))(x)
