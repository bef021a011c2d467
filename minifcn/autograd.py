"""Reverse-mode automatic differentiation: ``Tensor``, ``Function`` and ``backward``.

A ``Tensor`` holds a backend array (``.data``, NumPy or CuPy), an optional gradient
(``.grad``) and the ``Function`` node that produced it (``.creator``). A ``Function`` has
``forward(*arrays)`` and ``backward(*grads)`` on raw arrays; calling it on tensors runs
``forward`` and, when a gradient is wanted, remembers its inputs so that
``Tensor.backward()`` can visit the graph in reverse topological order, applying the
chain rule: each node receives dL/d(output) and returns dL/d(input) for every input.

This file is the whole core, read top to bottom:

1. ``Tensor`` (what it holds, its operators and methods),
2. ``Function`` and the backward pass,
3. the elementary Functions that Tensor's operators and methods use (arithmetic,
   elementwise math, relu/sigmoid/tanh, reductions, shape changes), each class followed by
   its function.

It imports only ``backend``; the ops built on it (convolution, pooling, losses, ...) live in
``minifcn.functional``, which imports it, never the other way round.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, Sequence

import numpy as np

from . import backend
from .backend import array_module

_grad_enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside ``with no_grad():`` operations record no graph (inference, optimiser steps)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def _default_dtype(kind: str) -> Any:
    """Python numbers and lists become float32 (ints int64, bools bool), as in the contract."""
    return {"b": np.bool_, "i": np.int64, "u": np.int64}.get(kind, np.float32)


NUMERIC_KINDS = "biuf"   # bool, signed and unsigned integers, floating point


def _check_numeric(dtype: Any) -> None:
    if np.dtype(dtype).kind not in NUMERIC_KINDS:
        raise TypeError(f"tensor(data=...) needs numbers (bool, integer or floating point), got dtype "
                        f"{np.dtype(dtype)}; convert strings or Python objects to numbers first")


def tensor(data: Any, requires_grad: bool = False, device: str | None = None, dtype: Any = None) -> "Tensor":
    """Make a Tensor on ``device`` ("cpu" or "cuda"; None: where ``data`` already is, which
    is "cpu" for Python data and NumPy arrays, as in PyTorch).

    Python numbers/lists become float32 (integers int64); NumPy/CuPy arrays keep their dtype;
    ``dtype`` (a NumPy dtype or its name, e.g. "float64") overrides both. Strings and
    Python objects are refused (TypeError).
    """
    if isinstance(data, Tensor):
        data = data.data
    device = backend.check_device(device) if device is not None else backend.device_of(data)
    if not backend.is_array(data):
        data = np.asarray(data)
        _check_numeric(data.dtype)
        data = data.astype(dtype or _default_dtype(data.dtype.kind), copy=False)
    _check_numeric(data.dtype)
    if dtype is not None:
        _check_numeric(dtype)
        data = data.astype(np.dtype(dtype), copy=False)
    return Tensor(backend.to_device(data, device), requires_grad=requires_grad)


class Tensor:
    """An array with a gradient and a link to the Function that made it."""

    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, creator: "Function | None" = None):
        if not backend.is_array(data):
            raise TypeError(f"Tensor(data=...) needs a NumPy or CuPy array, got {type(data).__name__}; "
                            "use minifcn.tensor(...) to convert Python data")
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"requires_grad=True needs a floating dtype, got {data.dtype}")
        self.data = data
        self.grad: Any = None
        self.requires_grad = requires_grad
        self.creator = creator

    # ---- what it is --------------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    device = property(lambda self: backend.device_of(self.data))

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = str(backend.to_numpy(self.data)).replace("\n", "\n       ")
        return f"tensor({body}, dtype={self.dtype}, device='{self.device}'{grad})"

    @property
    def xp(self) -> Any:
        """The array module (numpy or cupy) of this tensor's data: ``array_module(self.data)``."""
        return array_module(self.data)

    # ---- moving and copying ------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A host NumPy array (a copy when the tensor lives on the GPU)."""
        return backend.to_numpy(self.data)

    def item(self) -> float:
        """The Python number of a one-element tensor."""
        if self.size != 1:
            raise ValueError(f"item() needs a one-element tensor, this one has shape {self.shape}")
        return self.data.item()

    def to(self, device: str) -> "Tensor":
        """This tensor on ``device``: a new leaf tensor when it has to move, else itself."""
        if backend.check_device(device) == self.device:
            return self
        return Tensor(backend.to_device(self.data, device), requires_grad=self.requires_grad)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def astype(self, dtype: Any) -> "Tensor":
        """A differentiable dtype cast."""
        return astype(self, dtype)

    def zero_grad(self) -> None:
        self.grad = None

    # ---- backward ----------------------------------------------------------------------
    def backward(self, grad: Any = None) -> None:
        """Accumulate dL/dleaf into ``leaf.grad`` for every leaf that requires a gradient.

        ``grad`` is dL/dself; it may be omitted only when self has one element (then 1).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of "
                               "the computation had requires_grad=True (or it ran under no_grad())")
        xp = array_module(self.data)
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward() without grad needs a one-element tensor, got shape "
                                   f"{self.shape}; pass grad= of that shape")
            grad = xp.ones_like(self.data)
        else:
            grad = unwrap(grad)
            if tuple(grad.shape) != self.shape:
                raise ValueError(f"backward(grad=...) has shape {tuple(grad.shape)}, expected {self.shape}")
        grads = {id(self): grad}
        for t in _topological_order(self):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t.creator is None:  # a leaf: keep its gradient
                t.grad = g if t.grad is None else t.grad + g
                continue
            fn = t.creator
            in_grads = fn.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for inp, ig in zip(fn.inputs, in_grads):
                if ig is None or not isinstance(inp, Tensor) or not inp.requires_grad:
                    continue
                ig = unbroadcast(ig, inp.shape)
                grads[id(inp)] = ig if id(inp) not in grads else grads[id(inp)] + ig

    # ---- operators and methods ----------------------------------------------------------
    # add, sum, max, ... here are this module's functions (part 3 below), not Python builtins.
    def __add__(self, o): return add(self, o)
    def __radd__(self, o): return add(o, self)
    def __sub__(self, o): return sub(self, o)
    def __rsub__(self, o): return sub(o, self)
    def __mul__(self, o): return mul(self, o)
    def __rmul__(self, o): return mul(o, self)
    def __truediv__(self, o): return div(self, o)
    def __rtruediv__(self, o): return div(o, self)
    def __pow__(self, o): return pow(self, o)
    def __rpow__(self, o): return pow(o, self)
    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o, self)
    def __neg__(self): return neg(self)
    def __abs__(self): return abs(self)
    def __getitem__(self, index): return getitem(self, index)
    # comparisons give boolean tensors outside the graph
    def __lt__(self, o): return Tensor(self.data < unwrap(o))
    def __le__(self, o): return Tensor(self.data <= unwrap(o))
    def __gt__(self, o): return Tensor(self.data > unwrap(o))
    def __ge__(self, o): return Tensor(self.data >= unwrap(o))
    def __eq__(self, o): return Tensor(self.data == unwrap(o))  # type: ignore[override]
    def __ne__(self, o): return Tensor(self.data != unwrap(o))  # type: ignore[override]
    __hash__ = object.__hash__

    def sum(self, axis=None, keepdims=False): return sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return min(self, axis, keepdims)
    def reshape(self, *shape): return reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)
    def transpose(self, *axes): return transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None))
    def exp(self): return exp(self)
    def log(self): return log(self)
    def sqrt(self): return sqrt(self)
    def relu(self): return relu(self)
    def sigmoid(self): return sigmoid(self)
    def tanh(self): return tanh(self)
    def clip(self, lo=None, hi=None): return clip(self, lo, hi)

    @property
    def T(self) -> "Tensor":
        return transpose(self, None)


def unwrap(x: Any) -> Any:
    """The array inside a Tensor; anything else (array, number, None) as it is."""
    return x.data if isinstance(x, Tensor) else x


def unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors reachable from ``root``, each after every tensor that depends on it.

    Iterative depth-first search (deep networks would overflow Python's recursion limit).
    """
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t.creator is not None:
            stack.extend((i, False) for i in t.creator.inputs if isinstance(i, Tensor) and i.requires_grad)
    return order[::-1]


class Function:
    """One differentiable operation: ``forward`` and ``backward`` on raw arrays.

    Subclasses keep hyperparameters from ``__init__`` and whatever ``forward`` must hand to
    ``backward`` on ``self``. Inputs may be Tensors, backend arrays, Python numbers or None;
    only Tensors that require a gradient receive one.
    """

    inputs: tuple

    def __call__(self, *inputs: Any) -> Any:
        devices = {t.device for t in inputs if isinstance(t, Tensor)}
        devices |= {backend.device_of(a) for a in inputs if backend.is_array(a)}
        if len(devices) > 1:
            raise ValueError(f"{type(self).__name__} got inputs on different devices: "
                             f"{' and '.join(sorted(devices))}; move them with .to(device) first")
        outputs = self.forward(*(unwrap(x) for x in inputs))
        single = not isinstance(outputs, tuple)
        # NumPy reductions return scalars (np.float32 ...); keep everything an array
        outputs = tuple(np.asarray(y) if isinstance(y, np.generic) else y
                        for y in ((outputs,) if single else outputs))
        needs_grad = _grad_enabled and any(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        if needs_grad:
            self.inputs = inputs
        wrapped = tuple(Tensor(y, requires_grad=needs_grad and y.dtype.kind == "f",
                               creator=self if needs_grad else None)
                        for y in outputs)
        return wrapped[0] if single else wrapped

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no backward")


def as_tensor(x: Any) -> Tensor:
    """``x`` as a Tensor: Tensors as they are, arrays wrapped, Python data via ``tensor``."""
    if isinstance(x, Tensor):
        return x
    if backend.is_array(x):
        return Tensor(x)
    return tensor(x)



# =============================================================================================
# 3. The elementary Functions (what Tensor's operators and methods call)
#
# Gradients are written for the *broadcast* output shape; ``backward`` above sums them back
# to each input's own shape (``unbroadcast``).
# =============================================================================================

# ---- arithmetic ---------------------------------------------------------------------------
class Add(Function):
    """y = a + b;  dy/da = dy/db = 1."""
    def forward(self, a, b): return a + b
    def backward(self, g): return g, g


def add(a, b) -> Tensor: return Add()(a, b)


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""
    def forward(self, a, b): return a - b
    def backward(self, g): return g, -g


def sub(a, b) -> Tensor: return Sub()(a, b)


class Mul(Function):
    """y = a b;  dy/da = b, dy/db = a."""
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g): return g * self.b, g * self.a


def mul(a, b) -> Tensor: return Mul()(a, b)


class Div(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b² = -y/b."""
    def forward(self, a, b):
        self.b, self.y = b, a / b
        return self.y

    def backward(self, g): return g / self.b, -g * self.y / self.b


def div(a, b) -> Tensor: return Div()(a, b)


class Pow(Function):
    """y = a^b;  dy/da = b a^(b-1), dy/db = y ln a (only needed where a > 0)."""
    def forward(self, a, b):
        self.a, self.b, self.y = a, b, a ** b
        return self.y

    def backward(self, g):
        ga = g * self.b * self.a ** (self.b - 1)
        gb = None
        if isinstance(self.inputs[1], Tensor) and self.inputs[1].requires_grad:
            a, xp = self.a, array_module(self.a)
            log_a = xp.log(xp.where(a > 0, a, 1)) if backend.is_array(a) else (math.log(a) if a > 0 else 0.0)
            gb = g * self.y * log_a
        return ga, gb


def pow(a, b) -> Tensor:  # noqa: A001  (the name students expect)
    """a ** b for tensors or numbers on either side."""
    return Pow()(a, b)


class Neg(Function):
    """y = -a;  dy/da = -1."""
    def forward(self, a): return -a
    def backward(self, g): return -g


def neg(a) -> Tensor: return Neg()(a)


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


def matmul(a, b) -> Tensor: return MatMul()(a, b)


# ---- elementwise math ---------------------------------------------------------------------
class Exp(Function):
    """y = eᵃ;  dy/da = y."""
    def forward(self, a):
        self.y = array_module(a).exp(a)
        return self.y

    def backward(self, g): return g * self.y


def exp(a) -> Tensor: return Exp()(a)


class Log(Function):
    """y = ln a;  dy/da = 1/a."""
    def forward(self, a):
        self.a = a
        return array_module(a).log(a)

    def backward(self, g): return g / self.a


def log(a) -> Tensor: return Log()(a)


class Sqrt(Function):
    """y = √a;  dy/da = 1/(2y)."""
    def forward(self, a):
        self.y = array_module(a).sqrt(a)
        return self.y

    def backward(self, g): return g / (2 * self.y)


def sqrt(a) -> Tensor: return Sqrt()(a)


class Abs(Function):
    """y = |a|;  dy/da = sign(a)."""
    def forward(self, a):
        self.a = a
        return array_module(a).abs(a)

    def backward(self, g): return g * array_module(self.a).sign(self.a)


def abs(a) -> Tensor: return Abs()(a)  # noqa: A001


class Clip(Function):
    """y = min(max(a, lo), hi);  gradient 1 inside [lo, hi], 0 where clipped."""
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, a):
        xp = array_module(a)
        self.inside = xp.ones(a.shape, dtype=bool)
        if self.lo is not None:
            self.inside &= a >= self.lo
        if self.hi is not None:
            self.inside &= a <= self.hi
        return xp.clip(a, self.lo, self.hi)

    def backward(self, g): return g * self.inside


def clip(a: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Clamp values to [lo, hi] (either bound may be None)."""
    if lo is None and hi is None:
        raise ValueError("clip needs lo or hi (both are None)")
    return Clip(lo, hi)(a)


class AsType(Function):
    """A dtype cast; the gradient is cast back."""
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, a):
        self.src = a.dtype
        return a.astype(self.dtype)

    def backward(self, g): return g.astype(self.src)


def astype(a: Tensor, dtype: Any) -> Tensor:
    """``a`` cast to ``dtype``, differentiably."""
    return AsType(dtype)(a)


# ---- activations that are also Tensor methods ---------------------------------------------
class ReLU(Function):
    """y = max(a, 0);  dy/da = 1 where a > 0, else 0."""
    def forward(self, a):
        self.mask = a > 0
        return a * self.mask

    def backward(self, g): return g * self.mask


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0)."""
    return ReLU()(x)


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ᵃ), computed as (1 + tanh(a/2)) / 2 to avoid overflow;  dy/da = y(1 - y)."""
    def forward(self, a):
        self.y = 0.5 * (1 + array_module(a).tanh(0.5 * a))
        return self.y

    def backward(self, g): return g * self.y * (1 - self.y)


def sigmoid(x: Tensor) -> Tensor:
    """y = 1 / (1 + e^-x)."""
    return Sigmoid()(x)


class Tanh(Function):
    """y = tanh a;  dy/da = 1 - y²."""
    def forward(self, a):
        self.y = array_module(a).tanh(a)
        return self.y

    def backward(self, g): return g * (1 - self.y * self.y)


def tanh(x: Tensor) -> Tensor:
    """y = tanh x."""
    return Tanh()(x)


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
        return array_module(g).broadcast_to(_keep(g, self.shape, self.axis, self.keepdims), self.shape)


def sum(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Σ over ``axis`` (all axes when None)."""
    return Sum(axis, keepdims)(a)


def mean(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:
    """Sum divided by the number of elements reduced."""
    a = as_tensor(a)
    axes = range(a.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    count = int(np.prod([a.shape[i] for i in axes]))
    return Sum(axis, keepdims)(a) * (1.0 / count)


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


def max(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; tied winners share the gradient."""
    return MaxMin(axis, keepdims, True)(a)


def min(a: Tensor, axis: int | tuple | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; tied winners share the gradient."""
    return MaxMin(axis, keepdims, False)(a)


# ---- shape changes ------------------------------------------------------------------------
class Reshape(Function):
    """Same values, new shape; the gradient is reshaped back."""
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.src = a.shape
        return a.reshape(self.shape)

    def backward(self, g): return g.reshape(self.src)


def reshape(a: Tensor, shape: Sequence[int]) -> Tensor:
    """``a`` with a new shape of the same size."""
    return Reshape(tuple(shape))(a)


class Transpose(Function):
    """Permute axes; the gradient is permuted back by the inverse permutation."""
    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        self.axes = tuple(range(a.ndim))[::-1] if self.axes is None else tuple(self.axes)
        return a.transpose(self.axes)

    def backward(self, g): return g.transpose(tuple(np.argsort(self.axes)))


def transpose(a: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None)."""
    return Transpose(axes)(a)


class GetItem(Function):
    """y = a[index] (slices, integer arrays, boolean masks).

    Backward scatters g into zeros with ``add.at`` so that repeated integer indices add up;
    basic indexing (slices, ints) never repeats an element, so there a plain assignment does.
    """
    def __init__(self, index):
        self.index = index

    def forward(self, a):
        self.shape, self.dtype = a.shape, a.dtype
        return a[self.index]

    def backward(self, g):
        xp = array_module(g)
        out = xp.zeros(self.shape, dtype=self.dtype)
        parts = self.index if isinstance(self.index, tuple) else (self.index,)
        if all(isinstance(i, (slice, int)) or i is None or i is Ellipsis for i in parts):
            out[self.index] = g
        else:
            xp.add.at(out, self.index, g)
        return out


def getitem(a: Tensor, index: Any) -> Tensor:
    """a[index]; Tensor indices (integer or boolean) are unwrapped."""
    index = tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)
    return GetItem(index)(a)
