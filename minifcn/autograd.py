"""Reverse-mode automatic differentiation: ``Tensor``, ``Function`` and ``backward``.

A ``Tensor`` holds a backend array (``.data``, NumPy or CuPy), an optional gradient
(``.grad``) and the ``Function`` node that produced it (``.creator``). A ``Function`` has
``forward(*arrays)`` and ``backward(*grads)`` on raw arrays; calling it on tensors runs
``forward`` and, when a gradient is wanted, remembers its inputs so that
``Tensor.backward()`` can visit the graph in reverse topological order, applying the
chain rule: each node receives dL/d(output) and returns dL/d(input) for every input.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from . import backend

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


def _default_dtype(data: Any) -> Any:
    """Python numbers and lists become float32 (ints int64, bools bool), as in the contract."""
    kind = np.asarray(data).dtype.kind
    return {"b": np.bool_, "i": np.int64, "u": np.int64}.get(kind, np.float32)


def tensor(data: Any, requires_grad: bool = False, device: str | None = None, dtype: Any = None) -> "Tensor":
    """Make a Tensor on ``device`` ("cpu" or "cuda"; None: where ``data`` already is, which
    is "cpu" for Python data and NumPy arrays, as in PyTorch).

    Python numbers/lists become float32 (integers int64); NumPy/CuPy arrays keep their dtype;
    ``dtype`` (a NumPy dtype or its name, e.g. "float64") overrides both.
    """
    if isinstance(data, Tensor):
        data = data.data
    device = backend.check_device(device) if device is not None else backend.device_of(data)
    if not backend.is_array(data):
        data = np.asarray(data, dtype=dtype or _default_dtype(data))
    if dtype is not None:
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
        self.name: str | None = None

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
        """The array module (numpy or cupy) of this tensor's data."""
        return backend.array_module(self.data)

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
        return _ops.astype(self, dtype)

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
        xp = self.xp
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward() without grad needs a one-element tensor, got shape "
                                   f"{self.shape}; pass grad= of that shape")
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
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

    # ---- operators (implemented in functional.basic) -----------------------------------
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.sub(self, o)
    def __rsub__(self, o): return _ops.sub(o, self)
    def __mul__(self, o): return _ops.mul(self, o)
    def __rmul__(self, o): return _ops.mul(o, self)
    def __truediv__(self, o): return _ops.div(self, o)
    def __rtruediv__(self, o): return _ops.div(o, self)
    def __pow__(self, o): return _ops.pow(self, o)
    def __rpow__(self, o): return _ops.pow(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __neg__(self): return _ops.neg(self)
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.getitem(self, index)
    # comparisons give boolean tensors outside the graph
    def __lt__(self, o): return Tensor(self.data < _raw(o))
    def __le__(self, o): return Tensor(self.data <= _raw(o))
    def __gt__(self, o): return Tensor(self.data > _raw(o))
    def __ge__(self, o): return Tensor(self.data >= _raw(o))
    def __eq__(self, o): return Tensor(self.data == _raw(o))  # type: ignore[override]
    def __ne__(self, o): return Tensor(self.data != _raw(o))  # type: ignore[override]
    __hash__ = object.__hash__

    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _ops.min(self, axis, keepdims)
    def reshape(self, *shape): return _ops.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)
    def transpose(self, *axes): return _ops.transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None))
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def relu(self): return _ops.relu(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def tanh(self): return _ops.tanh(self)
    def clip(self, lo=None, hi=None): return _ops.clip(self, lo, hi)

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self, None)


def _raw(x: Any) -> Any:
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
        outputs = self.forward(*(_raw(x) for x in inputs))
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


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor (on ``like``'s device and dtype when x is a Python number)."""
    if isinstance(x, Tensor):
        return x
    if backend.is_array(x):
        return Tensor(x)
    if like is not None:
        return Tensor(like.xp.asarray(x, dtype=like.dtype))
    return tensor(x)


from .functional import basic as _ops  # noqa: E402  (operators above resolve at call time)
