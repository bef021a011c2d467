"""Unpooling: the lecture's three ways to undo a pooling and enlarge a feature map.

Shapes: x is (N, C, H, W); a scale (SH, SW) makes it (N, C, H·SH, W·SW). For x = [[1, 2],
[3, 4]] and scale 2:

    nearest          bed of nails      max unpooling (positions remembered by max_pool2d)
    1 1 2 2          1 0 2 0           0 0 2 0
    1 1 2 2          0 0 0 0           0 1 0 0
    3 3 4 4          3 0 4 0           0 0 0 0
    3 3 4 4          0 0 0 0           3 0 0 4

All three are linear in x; each backward is the transposed map: sum each block, take the
top-left of each block, gather at the remembered positions.
"""
from __future__ import annotations

from typing import Any

from .. import arith, backend
from .. import gpu
from ..autograd import Function, Tensor, as_tensor
from ..checks import check_nchw


class UnpoolNearest(Function):
    """y[n, c, i, j] = x[n, c, i // SH, j // SW];  dL/dx = Σ of g over each SH x SW block."""
    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        (SH, SW), (N, C, H, W) = self.scale, x.shape
        blocks = backend.array_module(x).broadcast_to(x[:, :, :, None, :, None], (N, C, H, SH, W, SW))
        return blocks.reshape(N, C, H * SH, W * SW)

    def backward(self, g):
        (SH, SW), (N, C, OH, OW) = self.scale, g.shape
        return g.reshape(N, C, OH // SH, SH, OW // SW, SW).sum(axis=(3, 5))


def unpool_nearest(x: Tensor, scale: int | tuple[int, int] = 2) -> Tensor:
    """Nearest-neighbour unpooling: repeat every value in a scale x scale block."""
    x = check_nchw(x, "unpool_nearest")
    return UnpoolNearest(arith.pair(scale, "scale", minimum=1))(x)


class UnpoolBedOfNails(Function):
    """y[n, c, i·SH, j·SW] = x[n, c, i, j], zeros elsewhere;  dL/dx = g[..., ::SH, ::SW]."""
    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        (SH, SW), (N, C, H, W) = self.scale, x.shape
        y = backend.array_module(x).zeros((N, C, H * SH, W * SW), dtype=x.dtype)
        y[:, :, ::SH, ::SW] = x
        return y

    def backward(self, g):
        SH, SW = self.scale
        return g[:, :, ::SH, ::SW]


def unpool_bed_of_nails(x: Tensor, scale: int | tuple[int, int] = 2) -> Tensor:
    """Bed-of-nails unpooling: each value at its block's top-left corner, zeros elsewhere."""
    x = check_nchw(x, "unpool_bed_of_nails")
    return UnpoolBedOfNails(arith.pair(scale, "scale", minimum=1))(x)


class MaxUnpool2d(Function):
    """Scatter: y.flat[plane, indices[..., oh, ow]] = x[..., oh, ow], zeros elsewhere.

    Backward gathers: dL/dx[..., oh, ow] = g.flat[plane, indices[..., oh, ow]]. (If two
    cells share an index, the scatter keeps one of them but the gather feeds both; indices
    from max_pool2d share one only where overlapping windows picked the same winner.)
    """
    def __init__(self, out):
        self.out = out

    def forward(self, x, indices):
        xp = backend.array_module(x)
        N, C, H, W = self.shape = x.shape
        self.indices = indices.reshape(N, C, H * W)
        y = xp.zeros((N, C, self.out[0] * self.out[1]), dtype=x.dtype)
        # y[n, c, indices[n, c, i]] = x[n, c, i] (put_along_axis, which CuPy 13 lacks)
        y[xp.arange(N)[:, None, None], xp.arange(C)[None, :, None], self.indices] = x.reshape(N, C, H * W)
        return y.reshape((N, C) + self.out)

    def backward(self, g):
        N, C = g.shape[:2]
        gx = backend.array_module(g).take_along_axis(g.reshape(N, C, -1), self.indices, axis=2)
        return gx.reshape(self.shape), None


def unpool_output_size(fn: str, size: tuple[int, int], k: tuple, s: tuple, p: tuple,
                       output_size: Any) -> tuple[int, int]:
    """The unpooled (OH, OW): by default the size the pooling's windows span exactly,

        O = (H - 1)·S - 2P + K          (as a transposed convolution: arith Relationship 13)

    Floor-mode pooling maps the sizes O ... O + S - 1 to H, ceil_mode (some of)
    O - S + 1 ... O, so output_size must lie in O - S < size < O + S (PyTorch's check).
    """
    default = tuple((size[a] - 1) * s[a] - 2 * p[a] + k[a] for a in range(2))
    if output_size is None:
        if min(default) < 1:
            raise ValueError(f"{fn}: the default output size (H - 1)*stride - 2*padding + kernel_size "
                             f"is {default} for a {size[0]}x{size[1]} input; pass output_size")
        return default
    if not isinstance(output_size, (tuple, list)) or len(output_size) not in (2, 4):
        raise ValueError(f"{fn}: output_size must be (H, W) or (N, C, H, W), got {output_size!r}")
    wanted = arith.pair(tuple(output_size)[-2:], "output_size", minimum=1)
    for a in range(2):
        lo, hi = default[a] - s[a], default[a] + s[a]
        if not lo < wanted[a] < hi:
            raise ValueError(
                f"{fn}: output_size={tuple(output_size)!r} cannot come from this pooling: "
                f"{'HW'[a]} = {wanted[a]} does not pool to {size[a]} with kernel_size={k[a]}, "
                f"stride={s[a]}, padding={p[a]}; {'HW'[a]} must be in {lo + 1}..{hi - 1}")
    return wanted


def max_unpool2d(x: Tensor, indices: Any, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
                 output_size: Any = None) -> Tensor:
    """Max unpooling (SegNet): put each value back where ``max_pool2d`` found its maximum.

    ``indices`` (array or Tensor, the shape of x) are the flat positions row·W + col in
    each output plane that ``max_pool2d(..., return_indices=True)`` returned; the other
    outputs are zero. The output is (N, C, OH, OW) with OH from ``unpool_output_size``
    (pass ``output_size`` to recover an odd size the pooling rounded away).
    """
    x = check_nchw(x, "max_unpool2d")
    indices = as_tensor(indices)
    if indices.shape != x.shape:
        raise ValueError(f"max_unpool2d: indices have shape {indices.shape} but x has shape {x.shape}; "
                         "pass the indices that max_pool2d returned for this x")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"max_unpool2d: indices must be integers (max_pool2d's int64 indices), "
                        f"got {indices.dtype}")
    k = arith.pair(kernel_size, "kernel_size")
    s = k if stride is None else arith.pair(stride, "stride")
    p = arith.pair(padding, "padding")
    out = unpool_output_size("max_unpool2d", x.shape[2:], k, s, p, output_size)
    if indices.size and not gpu.skip_device_check(indices.data):
        xp = backend.array_module(indices.data)
        lo, hi = backend.to_numpy(xp.stack((indices.data.min(), indices.data.max()))).tolist()  # one sync
        if lo < 0 or hi >= out[0] * out[1]:
            raise ValueError(f"max_unpool2d: indices must lie in 0..{out[0] * out[1] - 1} (flat positions "
                             f"in a {out[0]}x{out[1]} output plane), got values from {lo} to {hi}; "
                             "were they made for another output_size?")
    return MaxUnpool2d(out)(x, indices)
