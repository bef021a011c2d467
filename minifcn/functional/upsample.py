"""Upsampling by interpolation, and the bilinear kernel that lets a transposed convolution do it.

Shapes: x is (N, C, H, W), the output (N, C, OH, OW). Interpolation treats H and W
separately: along one axis, output cell ``dst`` reads the input at a *source coordinate*
``src`` (PyTorch's rules, with scale = in/out, or 1/scale_factor when that is given):

    nearest                       src = floor(dst · scale)                (clamped to in - 1)
    bilinear, align_corners=False src = (dst + 0.5) · scale - 0.5         (clamped at 0)
    bilinear, align_corners=True  src = dst · (in - 1)/(out - 1)          (corners meet corners)

and bilinear mixes the two neighbours: (1 - λ)·x[floor(src)] + λ·x[floor(src) + 1], λ = src -
floor(src). So each axis is a small (out, in) matrix A with those weights in its rows, and
the 2-D interpolation is y = A_h x A_wᵀ for every plane; its backward is A_hᵀ g A_w.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import arith
from ..autograd import Tensor
from ..checks import check_int, check_nchw
from .separable import Separable2d, matrix_on
from .unpool import UnpoolNearest

MODES = ("nearest", "bilinear")


def source_coordinates(i: int, o: int, mode: str, align_corners: bool = False,
                       scale_factor: float | None = None) -> np.ndarray:
    """Where each of the ``o`` output cells samples an axis of ``i`` input cells (see above).

    For "nearest" the result is the integer index itself.
    """
    dst = np.arange(o)
    if mode == "nearest":
        if scale_factor is None:
            return np.minimum(dst * i // o, i - 1)            # floor(dst·i/o), exactly
        return np.minimum(np.floor(dst / scale_factor).astype(np.int64), i - 1)
    if align_corners:
        return dst * ((i - 1) / (o - 1) if o > 1 else 0.0)
    scale = i / o if scale_factor is None else 1.0 / scale_factor
    return np.maximum((dst + 0.5) * scale - 0.5, 0.0)


def interpolation_matrix(i: int, o: int, mode: str, align_corners: bool = False,
                         scale_factor: float | None = None) -> np.ndarray:
    """The (o, i) matrix A of 1-D interpolation: y = A x (float64, on the host)."""
    src = source_coordinates(i, o, mode, align_corners, scale_factor)
    rows, a = np.arange(o), np.zeros((o, i))
    if mode == "nearest":
        a[rows, src] = 1.0
        return a
    lo = np.minimum(np.floor(src).astype(np.int64), i - 1)
    lam = src - lo                                        # 0 <= λ (<= 0.5 past the last cell)
    a[rows, lo] = 1 - lam
    a[rows, np.minimum(lo + 1, i - 1)] += lam             # at the edge both weights hit i - 1
    return a


def _scale_pair(scale_factor: Any) -> tuple[float, float]:
    values = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(values) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                   and math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"interpolate: scale_factor must be a positive number or a pair (H, W) of "
                         f"them, got {scale_factor!r}")
    return float(values[0]), float(values[1])


def interpolate(x: Tensor, size: int | tuple[int, int] | None = None,
                scale_factor: float | tuple[float, float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    """Resize images to ``size`` = (OH, OW), or by ``scale_factor`` (OH = floor(H·factor)).

    ``mode`` is "nearest" or "bilinear"; ``align_corners`` (bilinear only, default False)
    picks the source-coordinate rule above. Semantics are PyTorch's F.interpolate.
    """
    x = check_nchw(x, "interpolate")
    if mode not in MODES:
        raise ValueError(f"interpolate: mode={mode!r} is not supported; use one of {MODES}")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"interpolate: align_corners={align_corners!r} only applies to mode='bilinear'; "
                         "leave it None for mode='nearest'")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"interpolate: give exactly one of size and scale_factor, got size={size!r} "
                         f"and scale_factor={scale_factor!r}")
    in_hw = x.shape[2:]
    if size is not None:
        out, factors = arith.pair(size, "size", minimum=1), (None, None)
    else:
        factors = _scale_pair(scale_factor)
        out = tuple(math.floor(n * f) for n, f in zip(in_hw, factors))
        if min(out) < 1:
            raise ValueError(f"interpolate: scale_factor={scale_factor!r} turns an input of size {in_hw} "
                             f"into {out}; the output needs at least one pixel per axis")
    if mode == "nearest" and all(o % i == 0 and f in (None, o // i) for i, o, f in zip(in_hw, out, factors)):
        return UnpoolNearest((out[0] // in_hw[0], out[1] // in_hw[1]))(x)   # same map, no matmul
    a_h, a_w = (interpolation_matrix(i, o, mode, bool(align_corners), f)
                for i, o, f in zip(in_hw, out, factors))
    return Separable2d(matrix_on(a_h, x.data), matrix_on(a_w, x.data))(x)


def bilinear_kernel(in_channels: int, out_channels: int, scale: int, dtype: Any = "float32") -> np.ndarray:
    """FCN's initialisation: a conv_transpose2d weight that upsamples by ``scale`` bilinearly.

    Use it as ``F.conv_transpose2d(x, w, stride=s, padding=s // 2)``; the kernel is
    K = 2s - s % 2 wide, so the output is s(H - 1) + K - 2(s // 2) = s·H. Each tap holds
    the tent (1 - |k - c|/s) along H times the same along W, c = (K - 1)/2, so every
    output sums its (at most 2 x 2) nearest inputs with bilinear weights: away from the
    borders this equals ``interpolate(x, scale_factor=s, mode="bilinear")``
    (align_corners=False). Channel c feeds only channel c. Returns a host NumPy array of
    shape (in_channels, out_channels, K, K).
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("scale", scale)):
        check_int(f"bilinear_kernel: {name}", value, 1)
    if in_channels != out_channels:
        raise ValueError(f"bilinear_kernel: in_channels={in_channels} and out_channels={out_channels} "
                         "must be equal: bilinear upsampling maps each channel onto itself")
    k = 2 * scale - scale % 2
    tent = 1 - np.abs(np.arange(k) - (k - 1) / 2) / scale
    w = np.zeros((in_channels, out_channels, k, k), dtype=np.dtype(dtype))
    w[np.arange(in_channels), np.arange(out_channels)] = np.outer(tent, tent)
    return w
