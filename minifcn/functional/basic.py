"""Elementary differentiable operations.

The ones a Tensor's operators and methods use (+ - * / ** @, exp, log, sqrt, abs, clip,
astype, sum/mean/max/min, reshape, transpose, indexing) live in the autograd core,
``minifcn/autograd.py``, part 3, each Function beside its function; they are re-exported
here so that ``F.add``, ``F.sum``, ... work. This file adds the ones that are not Tensor
methods: ``where``, ``pad``, ``cat`` and ``stack``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..autograd import (Abs, Add, AsType, Clip, Div, Exp, Function, GetItem, Log, MatMul,  # noqa: F401
                        MaxMin, Mul, Neg, Pow, Reshape, Sqrt, Sub, Sum, Tensor, Transpose, abs, add,
                        as_tensor, astype, clip, div, exp, getitem, log, matmul, max, mean, min, mul,
                        neg, pow, reshape, sqrt, sub, sum, transpose, unwrap)
from ..backend import array_module


class Where(Function):
    """y = a where cond else b; the gradient goes to the branch that was taken."""
    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return array_module(a, b, self.cond).where(self.cond, a, b)

    def backward(self, g):
        xp = array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        return xp.where(self.cond, g, zero), xp.where(self.cond, zero, g)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if cond else b``; ``cond`` is a boolean array or Tensor (not differentiated)."""
    return Where(unwrap(cond))(a, b)


class Pad(Function):
    """Constant padding; the gradient is the centre slice."""
    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, a):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(self.pad_width, a.shape))
        return array_module(a).pad(a, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, g): return g[self.slices]


def pad(a: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding, NumPy style: ``pad_width`` is an int, or one (before, after) pair per axis."""
    a = as_tensor(a)
    if isinstance(pad_width, int):
        pad_width = [(pad_width, pad_width)] * a.ndim
    pad_width = [tuple(int(v) for v in p) for p in pad_width]
    if len(pad_width) != a.ndim or any(len(p) != 2 or p[0] < 0 or p[1] < 0 for p in pad_width):
        raise ValueError(f"pad_width={pad_width} must hold one (before, after) pair of non-negative "
                         f"ints per axis ({a.ndim} axes)")
    return Pad(pad_width, value)(a)


class Concatenate(Function):
    """Join along ``axis``; each input gets its own slice of the gradient back."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        self.splits = np.cumsum([a.shape[self.axis] for a in arrays])[:-1].tolist()
        return array_module(*arrays).concatenate(arrays, axis=self.axis)

    def backward(self, g): return tuple(array_module(g).split(g, self.splits, axis=self.axis))


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Concatenate tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor, got an empty sequence")
    shapes = [as_tensor(t).shape for t in tensors]
    ref = list(shapes[0])
    for i, s in enumerate(shapes):
        if len(s) != len(ref) or any(n != m for j, (n, m) in enumerate(zip(s, ref)) if j != axis % len(ref)):
            raise ValueError(f"cat(axis={axis}): tensor {i} has shape {s}, which does not match "
                             f"tensor 0's {tuple(ref)} outside axis {axis}")
    return Concatenate(axis % len(ref))(*tensors)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis (each gets a length-1 axis, then ``cat``)."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor, got an empty sequence")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    axis = axis % (tensors[0].ndim + 1)
    return cat([reshape(t, t.shape[:axis] + (1,) + t.shape[axis:]) for t in tensors], axis=axis)
