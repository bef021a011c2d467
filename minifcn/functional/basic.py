"""Elementary differentiable operations: arithmetic, math, reductions and shape changes.

Each op is one ``Function`` with its forward and backward side by side. Gradients are
written for the *broadcast* output shape; the autograd core sums them back to each
input's own shape (``unbroadcast``). ``xp`` is the array module (NumPy or CuPy) of the data.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor, unbroadcast


def _xp(*arrays: Any) -> Any:
    for a in arrays:
        if backend.is_array(a):
            return backend.array_module(a)
    return np


# ---- arithmetic ---------------------------------------------------------------------------
class Add(Function):
    """y = a + b;  dy/da = dy/db = 1."""
    def forward(self, a, b): return a + b
    def backward(self, g): return g, g


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""
    def forward(self, a, b): return a - b
    def backward(self, g): return g, -g


class Mul(Function):
    """y = a b;  dy/da = b, dy/db = a."""
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g): return g * self.b, g * self.a


class Div(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b² = -y/b."""
    def forward(self, a, b):
        self.b, self.y = b, a / b
        return self.y

    def backward(self, g): return g / self.b, -g * self.y / self.b


class Pow(Function):
    """y = a^b;  dy/da = b a^(b-1), dy/db = y ln a (only needed where a > 0)."""
    def forward(self, a, b):
        self.a, self.b, self.y = a, b, a ** b
        return self.y

    def backward(self, g):
        ga = g * self.b * self.a ** (self.b - 1)
        gb = None
        if isinstance(self.inputs[1], Tensor) and self.inputs[1].requires_grad:
            a, xp = self.a, _xp(self.a)
            log_a = xp.log(xp.where(a > 0, a, 1)) if backend.is_array(a) else (math.log(a) if a > 0 else 0.0)
            gb = g * self.y * log_a
        return ga, gb


class Neg(Function):
    def forward(self, a): return -a
    def backward(self, g): return -g


class MatMul(Function):
    """y = a @ b (batched, broadcasting leading axes);  dL/da = g bᵀ, dL/db = aᵀ g.

    1-D operands are promoted to matrices first (as in NumPy) and the result squeezed back.
    """
    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = unbroadcast(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        gb = unbroadcast(a2.swapaxes(-1, -2) @ g, b2.shape).reshape(b.shape)
        return ga, gb


# ---- elementwise math ---------------------------------------------------------------------
class Exp(Function):
    """y = eᵃ;  dy/da = y."""
    def forward(self, a):
        self.y = _xp(a).exp(a)
        return self.y

    def backward(self, g): return g * self.y


class Log(Function):
    """y = ln a;  dy/da = 1/a."""
    def forward(self, a):
        self.a = a
        return _xp(a).log(a)

    def backward(self, g): return g / self.a


class Sqrt(Function):
    """y = √a;  dy/da = 1/(2y)."""
    def forward(self, a):
        self.y = _xp(a).sqrt(a)
        return self.y

    def backward(self, g): return g / (2 * self.y)


class Abs(Function):
    """y = |a|;  dy/da = sign(a)."""
    def forward(self, a):
        self.a = a
        return _xp(a).abs(a)

    def backward(self, g): return g * _xp(self.a).sign(self.a)


class Clip(Function):
    """y = min(max(a, lo), hi);  gradient 1 inside [lo, hi], 0 where clipped."""
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, a):
        xp = _xp(a)
        self.inside = xp.ones(a.shape, dtype=bool)
        if self.lo is not None:
            self.inside &= a >= self.lo
        if self.hi is not None:
            self.inside &= a <= self.hi
        return xp.clip(a, self.lo, self.hi)

    def backward(self, g): return g * self.inside


class Where(Function):
    """y = a where cond else b; the gradient goes to the branch that was taken."""
    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return _xp(a, b, self.cond).where(self.cond, a, b)

    def backward(self, g):
        zero = _xp(g).zeros((), dtype=g.dtype)
        return _xp(g).where(self.cond, g, zero), _xp(g).where(self.cond, zero, g)


class AsType(Function):
    """A dtype cast; the gradient is cast back."""
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, a):
        self.src = a.dtype
        return a.astype(self.dtype)

    def backward(self, g): return g.astype(self.src)


# ---- reductions ---------------------------------------------------------------------------
def _keep(g: Any, shape: tuple, axis: Any, keepdims: bool) -> Any:
    """Re-insert reduced axes into ``g`` so it broadcasts against an input of ``shape``."""
    if axis is None or keepdims:
        return g.reshape([1] * len(shape)) if axis is None and not keepdims else g
    axes = (axis,) if isinstance(axis, int) else axis
    return g.reshape([1 if i in {a % len(shape) for a in axes} else n for i, n in enumerate(shape)])


class Sum(Function):
    """y = Σ a over ``axis``;  dy/da = 1 (broadcast back)."""
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        self.shape = a.shape
        return a.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        return _xp(g).broadcast_to(_keep(g, self.shape, self.axis, self.keepdims), self.shape)


def _reduced_shape(shape: tuple, axis: Any) -> tuple:
    axes = range(len(shape)) if axis is None else [a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)]
    return tuple(n for i, n in enumerate(shape) if i not in set(axes))


class MaxMin(Function):
    """y = max (or min) over ``axis``; the gradient is shared equally among tied winners."""
    def __init__(self, axis, keepdims, take_max):
        self.axis, self.keepdims, self.take_max = axis, keepdims, take_max

    def forward(self, a):
        self.a = a
        self.y = a.max(axis=self.axis, keepdims=True) if self.take_max else a.min(axis=self.axis, keepdims=True)
        return self.y if self.keepdims else self.y.reshape(_reduced_shape(a.shape, self.axis))

    def backward(self, g):
        winners = self.a == self.y
        count = winners.sum(axis=self.axis, keepdims=True, dtype=g.dtype)  # not int64: no float64 temporaries
        return winners * (_keep(g, self.a.shape, self.axis, self.keepdims) / count)


# ---- shape changes ------------------------------------------------------------------------
class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.src = a.shape
        return a.reshape(self.shape)

    def backward(self, g): return g.reshape(self.src)


class Transpose(Function):
    """Permute axes; the gradient is permuted back by the inverse permutation."""
    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        self.axes = tuple(range(a.ndim))[::-1] if self.axes is None else tuple(self.axes)
        return a.transpose(self.axes)

    def backward(self, g): return g.transpose(tuple(np.argsort(self.axes)))


class GetItem(Function):
    """y = a[index] (slices, integer arrays, boolean masks).

    Backward scatters g into zeros with ``add.at`` so that repeated integer indices add up.
    """
    def __init__(self, index):
        self.index = index

    def forward(self, a):
        self.shape, self.dtype = a.shape, a.dtype
        return a[self.index]

    def backward(self, g):
        xp = _xp(g)
        out = xp.zeros(self.shape, dtype=self.dtype)
        xp.add.at(out, self.index, g)
        return out


class Pad(Function):
    """Constant padding; the gradient is the centre slice."""
    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, a):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(self.pad_width, a.shape))
        return _xp(a).pad(a, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, g): return g[self.slices]


class Concatenate(Function):
    """Join along ``axis``; each input gets its own slice of the gradient back."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        self.splits = np.cumsum([a.shape[self.axis] for a in arrays])[:-1].tolist()
        return _xp(*arrays).concatenate(arrays, axis=self.axis)

    def backward(self, g): return tuple(_xp(g).split(g, self.splits, axis=self.axis))


# ---- the public functions -----------------------------------------------------------------
def add(a, b) -> Tensor: return Add()(a, b)
def sub(a, b) -> Tensor: return Sub()(a, b)
def mul(a, b) -> Tensor: return Mul()(a, b)
def div(a, b) -> Tensor: return Div()(a, b)
def neg(a) -> Tensor: return Neg()(a)
def matmul(a, b) -> Tensor: return MatMul()(a, b)
def exp(a) -> Tensor: return Exp()(a)
def log(a) -> Tensor: return Log()(a)
def sqrt(a) -> Tensor: return Sqrt()(a)
def abs(a) -> Tensor: return Abs()(a)  # noqa: A001  (the name students expect)


def pow(a, b) -> Tensor:  # noqa: A001
    """a ** b for tensors or numbers on either side."""
    return Pow()(a, b)


def clip(a: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Clamp values to [lo, hi] (either bound may be None)."""
    if lo is None and hi is None:
        raise ValueError("clip needs lo or hi (both are None)")
    return Clip(lo, hi)(a)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if cond else b``; ``cond`` is a boolean array or Tensor (not differentiated)."""
    cond = cond.data if isinstance(cond, Tensor) else cond
    return Where(cond)(a, b)


def astype(a: Tensor, dtype: Any) -> Tensor:
    return AsType(dtype)(a)


def sum(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum(axis, keepdims)(a)


def mean(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:
    """Sum divided by the number of elements reduced."""
    a = as_tensor(a)
    axes = range(a.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    count = int(np.prod([a.shape[i] for i in axes]))
    return Sum(axis, keepdims)(a) * (1.0 / count)


def max(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return MaxMin(axis, keepdims, True)(a)


def min(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return MaxMin(axis, keepdims, False)(a)


def reshape(a: Tensor, shape: Sequence[int]) -> Tensor:
    return Reshape(tuple(shape))(a)


def transpose(a: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    return Transpose(axes)(a)


def getitem(a: Tensor, index: Any) -> Tensor:
    """a[index]; Tensor indices (integer or boolean) are unwrapped."""
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, Tensor):
        index = index.data
    return GetItem(index)(a)


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
