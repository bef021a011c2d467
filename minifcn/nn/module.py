"""``Module`` and ``Parameter``: the bookkeeping that turns functions into layers.

A ``Module`` holds three kinds of state, each registered by plain attribute assignment:

- **parameters** (``self.weight = Parameter(...)``): tensors the optimiser updates;
- **sub-modules** (``self.conv1 = Conv2d(...)``): layers inside layers, forming a tree;
- **buffers** (``self.register_buffer("running_mean", array)``): arrays that are part of
  the state (saved and loaded, moved with ``to``) but not learned by gradient descent,
  such as BatchNorm's running statistics.

Walking the tree gives every parameter a dotted name, as in PyTorch: the weight of the
first convolution of the first down block of a U-Net is ``down.0.conv1.weight``
(``Sequential`` and ``ModuleList`` name their children by index). ``state_dict()`` maps
those names to copies of the arrays, and ``load_state_dict()`` puts them back.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from .. import backend
from ..autograd import Tensor, unwrap


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable (``requires_grad=True`` by default).

    An array passed in is used as is, not copied (like ``torch.from_numpy``): optimisers
    update it in place.
    """

    def __init__(self, data: Any, requires_grad: bool = True):
        if isinstance(data, Tensor):
            data = data.data
        if not backend.is_array(data):
            data = np.asarray(data, dtype=np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class LoadResult(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped: keys the model has but the state lacks,
    and keys the state has but the model lacks."""
    missing_keys: list
    unexpected_keys: list


class _HookHandle:
    """Returned by ``register_forward_hook``; ``remove()`` takes the hook off again."""

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)


class Module:
    """Base class of every layer and model: subclass it, assign parameters and sub-modules
    in ``__init__`` (after ``super().__init__()``), and write ``forward``.

        class TwoConvs(Module):
            def __init__(self):
                super().__init__()
                self.conv1 = Conv2d(3, 8, 3, padding=1)
                self.conv2 = Conv2d(8, 8, 3, padding=1)

            def forward(self, x):
                return F.relu(self.conv2(F.relu(self.conv1(x))))

    ``model(x)`` calls ``forward(x)`` and then any forward hooks.
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__ because our own __setattr__ needs these dicts to exist
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration by attribute assignment ----------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() ran: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params and value is None:
            params[name] = None            # e.g. ``self.bias = None``: no bias, name kept
        elif name in buffers:
            if value is not None and not backend.is_array(value):
                raise TypeError(f"buffer {name!r} must be a NumPy/CuPy array or None, "
                                f"got {type(value).__name__}")
            buffers[name] = value
        else:
            if name in params or name in modules:
                kind, cls = ("parameter", "Parameter") if name in params else ("sub-module", "Module")
                hint = f" (to change its values, assign to {name}.data)" if name in params else ""
                raise TypeError(f"{type(self).__name__}.{name} is a registered {kind}; assign a {cls} "
                                f"or None, not {type(value).__name__}{hint}")
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        """Drop ``name`` from every registry, so one name means one thing."""
        for registry in (self._parameters, self._buffers, self._modules, self.__dict__):
            registry.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registries
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_buffer(self, name: str, array: Any) -> None:
        """Register a non-learned array (or None) saved in ``state_dict`` and moved by ``to``."""
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"buffer name {name!r} must be a non-empty string without '.'")
        if array is not None and not backend.is_array(array):
            raise TypeError(f"register_buffer({name!r}, ...) needs a NumPy/CuPy array or None, "
                            f"got {type(array).__name__}")
        if "_buffers" not in self.__dict__:
            raise AttributeError("call super().__init__() before register_buffer()")
        self._forget(name)
        self._buffers[name] = array

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register a sub-module under any string name (``Sequential`` uses "0", "1", ...)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}, ...) needs a Module, got {type(module).__name__}")
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"module name {name!r} must be a non-empty string without '.'")
        self._forget(name)
        self._modules[name] = module

    # ---- walking the tree ------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """(dotted name, module) for this module ("" ) and every descendant, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:                     # depth first, children in registration order
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct sub-modules only."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), each parameter once even if shared between layers."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        """(dotted name, array) of every buffer that is not None."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes, devices, gradients ---------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on this module and all descendants (Dropout, BatchNorm read it)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """``train(False)``: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def to(self, device: str | None = None, dtype: Any = None) -> "Module":
        """Move parameters (and their gradients) and buffers to ``device`` and/or cast floating
        ones to ``dtype``, in place.

        Each Parameter keeps its identity (only ``p.data`` is replaced), so an optimiser built
        before the move still updates the same objects. Returns ``self``.
        """
        if device is not None:
            backend.check_device(device)
        if dtype is not None and np.dtype(dtype).kind != "f":
            raise ValueError(f"to(dtype={dtype!r}): only floating dtypes are allowed")

        def convert(a: Any) -> Any:
            if device is not None:
                a = backend.to_device(a, device)
            if dtype is not None and a.dtype.kind == "f":
                a = a.astype(dtype, copy=False)
            return a

        for p in self.parameters():
            p.data = convert(p.data)
            if p.grad is not None:
                p.grad = convert(p.grad)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = convert(b)
        return self

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``, PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    # ---- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, Any]":
        """An ordered dict: dotted name -> a *copy* of each parameter's and buffer's array.

        Arrays stay on the device the module is on (NumPy on the CPU, CuPy on the GPU);
        ``minifcn.save`` copies them to the host. Per module, parameters come before buffers,
        modules in registration order, as in PyTorch.
        """
        state: OrderedDict[str, Any] = OrderedDict()
        for mod_name, m in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                if p is not None:
                    state.setdefault(pre + name, p.data.copy())
            for name, b in m._buffers.items():
                if b is not None:
                    state[pre + name] = b.copy()
        return state

    def load_state_dict(self, state: Any, strict: bool = True) -> LoadResult:
        """Copy arrays from ``state`` (name -> NumPy/CuPy array or Tensor) into this module.

        Values are moved to the device and cast to the dtype of the parameter or buffer they
        replace. With ``strict=True`` any missing or unexpected key is an error; a shape
        mismatch is always an error. All problems are reported together, by name, before
        anything is changed. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state, "keys"):
            raise TypeError(f"load_state_dict needs a dict of name -> array, got {type(state).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        mismatched = []
        for key, (_, _, current) in targets.items():
            if key in state:
                value = state[key]
                value = unwrap(value)
                if not backend.is_array(value):
                    raise TypeError(f"load_state_dict: state[{key!r}] is a {type(value).__name__}, "
                                    "expected a NumPy/CuPy array or Tensor")
                if tuple(value.shape) != tuple(current.shape):
                    mismatched.append(f"{key!r}: checkpoint {tuple(value.shape)}, "
                                      f"model {tuple(current.shape)}")
        problems = []
        if strict and missing:
            problems.append("missing keys (in the model, not in the state): " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            problems.append("unexpected keys (in the state, not in the model): "
                            + ", ".join(map(repr, unexpected)))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if problems:
            raise ValueError(f"Error(s) in loading state_dict for {type(self).__name__} "
                             "(is the checkpoint from a different model or configuration?):\n  "
                             + "\n  ".join(problems))
        for key, (module, name, current) in targets.items():
            if key not in state:
                continue
            value = state[key]
            value = unwrap(value)
            value = backend.to_device(value, backend.device_of(current)).astype(current.dtype)  # a copy
            if name in module._parameters:
                module._parameters[name].data = value
            else:
                module._buffers[name] = value
        return LoadResult(missing, unexpected)

    def _state_targets(self) -> "OrderedDict[str, tuple[Module, str, Any]]":
        """dotted name -> (owning module, local name, current array), in state_dict order."""
        targets: OrderedDict[str, tuple[Module, str, Any]] = OrderedDict()
        for mod_name, m in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                if p is not None:
                    targets.setdefault(pre + name, (m, name, p.data))
            for name, b in m._buffers.items():
                if b is not None:
                    targets[pre + name] = (m, name, b)
        return targets

    # ---- calling -----------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook: Callable[["Module", tuple, Any], Any]) -> _HookHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return value
        replaces the output. ``handle.remove()`` unregisters it (``summary`` uses this)."""
        key = max(self._forward_hooks, default=-1) + 1
        self._forward_hooks[key] = hook
        return _HookHandle(self._forward_hooks, key)

    # ---- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses (its hyperparameters)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"
