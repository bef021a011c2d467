"""Optimisers (SGD, Adam, AdamW) and learning-rate schedules (StepLR, CosineAnnealingLR).

An optimiser holds a list of parameters and, after ``loss.backward()`` has filled each
``p.grad``, ``step()`` moves every ``p.data`` a little against its gradient. The update
rules are PyTorch's, written with g = p.grad and t = the step number (from 1):

    SGD:    g ← g + λ·p;  b ← g (t = 1) or μ·b + (1 - τ)·g;  g ← g + μ·b (Nesterov) or b;
            p ← p - lr·g
    Adam:   g ← g + λ·p;  m ← β₁·m + (1 - β₁)·g;  v ← β₂·v + (1 - β₂)·g²;
            p ← p - lr · (m / (1 - β₁ᵗ)) / (sqrt(v / (1 - β₂ᵗ)) + ε)
    AdamW:  p ← p·(1 - lr·λ) (decoupled weight decay), then Adam's update without λ in g.

Updates happen in place on ``p.data`` with the parameter's own array module (NumPy or
CuPy), outside the autograd graph. Parameters whose ``grad`` is None are skipped.

On a GPU the readable update lines below would cost 4-14 kernel launches per parameter
tensor; there each update runs as one fused kernel (:mod:`minifcn.kernels`, the same
arithmetic in one pass), and when every parameter has a gradient, one kernel for all of them
over flat buffers that the parameters' data are views into (``Optimizer._multi_tensor_step``).
Set ``optimizer.fused = False`` (or ``MINIFCN_FUSED=0``) to run the readable lines on the GPU
too; the CPU always runs them.

``state_dict()`` holds only numbers, strings and arrays (so ``minifcn.save`` can store it
without pickle); per-parameter state is keyed by the parameter's *position* ("0", "1", ...),
so load it into an optimiser built over the same parameters in the same order.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from . import backend, kernels
from .autograd import Tensor
from .checks import check_float, check_int


class Optimizer:
    """Base class: keeps ``params`` (a list), ``lr`` and per-parameter ``state``.

    Subclasses name their hyperparameters in ``hyperparameters`` and implement ``_update``.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    fused: bool = True   # fused GPU kernels (minifcn.kernels; all parameters in one if possible); False: readable lines

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Parameters (e.g. model.parameters()), "
                            "not a single Tensor; wrap it in a list")
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError("the optimiser got an empty parameter list (did the model register "
                             "its layers as attributes after super().__init__()?)")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}] is a {type(p).__name__}, expected a Parameter/Tensor")
            if not p.requires_grad:
                raise ValueError(f"params[{i}] (shape {p.shape}) does not require grad, so it "
                                 "can never be updated")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("some parameters appear more than once in params")
        self.lr = check_float("lr", lr, 0)
        self.state: dict[int, dict[str, Any]] = {}   # position -> {"step": t, "<buffer>": array}

    def zero_grad(self) -> None:
        """Forget every gradient (``p.grad = None``) before the next backward pass."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        if self._multi_tensor_step():
            return
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if tuple(p.grad.shape) != tuple(p.data.shape):
                raise ValueError(f"params[{i}] has shape {p.shape} but its grad has shape "
                                 f"{tuple(p.grad.shape)}")
            state = self.state.setdefault(i, {"step": 0})
            state["step"] += 1
            if self._use_fused(p.data, p.grad):
                self._fused_update(p.data, p.grad, state)
            else:
                self._update(p.data, p.grad, state)

    # ---- all parameters in one kernel (GPU) ---------------------------------------------------
    # One fused kernel per parameter tensor is still one launch each (64 for a small U-Net). When
    # every parameter has a gradient and they share dtype, device and step count, the update runs
    # once over flat buffers instead: the parameters' data and their state (exp_avg, ...) become
    # views into one flat array each (made on the first such step, ``_flat``), the gradients are
    # concatenated (1 call) and ``_fused_update`` runs on the flat arrays (1 call): the same
    # arithmetic, element by element. The per-parameter arrays stay what ``p.data``/``state``
    # hold, so the readable path, ``state_dict`` and resuming see nothing different. When someone
    # replaces ``p.data`` (``model.to``, ``load_state_dict``) or the state, the views are found
    # stale by identity and the flat arrays are rebuilt from the current values.
    def _multi_tensor_step(self) -> bool:
        ps = self.params
        if not (self.fused and type(self)._fused_update is not Optimizer._fused_update):
            return False
        first = ps[0].data
        xp = backend.array_module(first)
        if not kernels.enabled(xp):
            return False
        for p in ps:
            g = p.grad
            if g is None or g.dtype != first.dtype or p.data.dtype != first.dtype \
                    or backend.array_module(g) is not xp or backend.array_module(p.data) is not xp \
                    or tuple(g.shape) != tuple(p.data.shape) or backend.device_of(p.data) != backend.device_of(first):
                return False
        steps = {self.state[i]["step"] if i in self.state else 0 for i in range(len(ps))}
        if len(steps) != 1:
            return False
        flat = self._flat_buffers(xp)
        if flat is None:
            return False
        g = xp.concatenate([p.grad.reshape(-1) for p in ps])
        state = {"step": steps.pop() + 1, **flat["buffers"]}
        self._fused_update(flat["p"], g, state)
        for name in state.keys() - {"step"} - flat["buffers"].keys():   # made by the first update (SGD's momentum)
            flat["buffers"][name] = state[name]
            flat["views"][name] = self._views(state[name])
        for i in range(len(ps)):
            entry = self.state.setdefault(i, {})
            entry["step"] = state["step"]
            for name, views in flat["views"].items():
                entry[name] = views[i]
        return True

    def _views(self, flat: Any) -> list:
        views, a = [], 0
        for p in self.params:
            n = p.data.size
            views.append(flat[a:a + n].reshape(p.data.shape))
            a += n
        return views

    def _flat_buffers(self, xp: Any) -> dict | None:
        """The flat parameter and state arrays, checked against what ``p.data`` and ``state``
        hold now (by identity) and rebuilt from them when stale; None when the per-parameter
        state differs in kind (some parameters have a buffer, others not)."""
        flat = getattr(self, "_flat", None)
        names = {frozenset(k for k in self.state.get(i, {}) if k != "step") for i in range(len(self.params))}
        if len(names) != 1:
            return None
        names = names.pop()
        if flat is not None and len(flat["param_views"]) == len(self.params) \
                and all(p.data is v for p, v in zip(self.params, flat["param_views"])) \
                and names == flat["buffers"].keys() \
                and all(self.state[i][n] is flat["views"][n][i] for n in names for i in range(len(self.params))):
            return flat
        flat = {"p": xp.concatenate([p.data.reshape(-1) for p in self.params]), "buffers": {}, "views": {}}
        flat["param_views"] = self._views(flat["p"])
        for p, v in zip(self.params, flat["param_views"]):
            p.data = v
        for n in names:
            flat["buffers"][n] = xp.concatenate([self.state[i][n].reshape(-1) for i in range(len(self.params))])
            flat["views"][n] = self._views(flat["buffers"][n])
            for i in range(len(self.params)):
                self.state[i][n] = flat["views"][n][i]
        self._flat = flat
        return flat

    def _use_fused(self, p: Any, g: Any) -> bool:
        return (self.fused and type(self)._fused_update is not Optimizer._fused_update
                and kernels.enabled(backend.array_module(p)) and g.dtype == p.dtype
                and backend.array_module(g) is backend.array_module(p))

    def _fused_update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        """The same update as ``_update`` as one GPU kernel (subclasses that have one)."""
        raise NotImplementedError

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"type": name, "hyperparameters": {name: number}, "state": {position: {name: value}}}``,
        position being the parameter's index as a string ("0", "1", ...), with arrays copied
        (still on the parameters' device; ``minifcn.save`` copies to host)."""
        hyper = {name: _plain(getattr(self, name)) for name in self.hyperparameters}
        state = {str(i): {k: (v.copy() if backend.is_array(v) else v) for k, v in s.items()}
                 for i, s in sorted(self.state.items())}
        return {"type": type(self).__name__, "hyperparameters": hyper, "state": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters (lr included) and per-parameter state; arrays are moved to
        each parameter's device and dtype. Checks type, positions and shapes first."""
        if not isinstance(state_dict, dict) or not {"type", "hyperparameters", "state"} <= set(state_dict):
            raise ValueError("optimizer state_dict must be a dict with keys 'type', "
                             "'hyperparameters', 'state' (from Optimizer.state_dict())")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"this state_dict is from a {state_dict['type']} optimiser, "
                             f"cannot load it into {type(self).__name__}")
        new_state: dict[int, dict[str, Any]] = {}
        for key, entries in state_dict["state"].items():
            if not str(key).isdigit() or int(key) >= len(self.params):
                raise ValueError(f"optimizer state has an entry for parameter position {key!r}, but "
                                 f"this optimiser has {len(self.params)} parameters (0..{len(self.params) - 1})")
            p = self.params[int(key)]
            restored = {}
            for name, value in entries.items():
                if backend.is_array(value) and name != "step":
                    if tuple(value.shape) != p.shape:
                        raise ValueError(f"optimizer state '{key}.{name}' has shape {tuple(value.shape)} "
                                         f"but parameter {key} has shape {p.shape}: a different model?")
                    value = backend.to_device(value, p.device).astype(p.dtype)  # a copy
                else:
                    value = int(value) if name == "step" else value
                restored[name] = value
            new_state[int(key)] = restored
        for name in self.hyperparameters:
            if name in state_dict["hyperparameters"]:
                value = state_dict["hyperparameters"][name]
                setattr(self, name, tuple(value) if isinstance(value, (list, tuple)) else value)
        self.state = new_state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _plain(value: Any) -> Any:
    """Hyperparameters as JSON-friendly numbers / lists."""
    return list(value) if isinstance(value, tuple) else value


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum μ, dampening τ, Nesterov momentum
    and L2 weight decay λ (PyTorch's rule; see the module docstring)."""

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, dampening: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = check_float("momentum", momentum, 0)
        self.weight_decay = check_float("weight_decay", weight_decay, 0)
        self.dampening = check_float("dampening", dampening, 0, 1)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={momentum}, dampening={dampening}")

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()            # b₁ = g₁ (no dampening)
            else:
                b = state["momentum_buffer"]
                b *= self.momentum
                b += (1 - self.dampening) * g                   # b ← μb + (1 - τ)g
            b = state["momentum_buffer"]
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g

    def _fused_update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        first = self.momentum and "momentum_buffer" not in state
        if first:
            state["momentum_buffer"] = backend.array_module(p).empty_like(p)  # written before read
        kernels.sgd_update(p, g, state.get("momentum_buffer"), self.lr, self.momentum, self.dampening,
                           self.weight_decay, self.nesterov, bool(first))


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter steps scaled by running estimates of the
    gradient's first and second moments, bias-corrected; ``weight_decay`` adds λ·p to g
    (L2 regularisation, PyTorch's Adam)."""

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas={betas!r} must be a pair (beta1, beta2)")
        self.betas = (check_float("betas[0]", betas[0], 0, 1, high_open=True),
                      check_float("betas[1]", betas[1], 0, 1, high_open=True))
        self.eps = check_float("eps", eps, 0)
        self.weight_decay = check_float("weight_decay", weight_decay, 0)

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        xp = backend.array_module(p)
        beta1, beta2 = self.betas
        t = state["step"]
        if self.weight_decay:
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay           # AdamW: shrink p directly
            else:
                g = g + self.weight_decay * p                  # Adam: L2 term in the gradient
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(p), xp.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g                                   # m ← β₁m + (1 - β₁)g
        v *= beta2
        v += (1 - beta2) * (g * g)                             # v ← β₂v + (1 - β₂)g²
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        p -= self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)

    def _fused_update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        if "exp_avg" not in state:
            xp = backend.array_module(p)
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(p), xp.zeros_like(p)
        kernels.adam_update(p, g, state["exp_avg"], state["exp_avg_sq"], self.lr, self.betas, self.eps,
                            self.weight_decay, self.decoupled, state["step"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): p ← p·(1 - lr·λ) before
    the Adam step, instead of adding λ·p to the gradient. PyTorch's default λ = 0.01."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules: each sets ``optimizer.lr`` from a closed form of the epoch count.
# ---------------------------------------------------------------------------------------------
class LRScheduler:
    """Call ``step()`` once per epoch, after the epoch's ``optimizer.step()`` calls.

    ``last_epoch`` counts the ``step()`` calls; ``optimizer.lr = lr_at(last_epoch)``.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a minifcn Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        """The learning rate set by the last step (PyTorch returns a list, one per group)."""
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("type") != type(self).__name__:
            raise ValueError(f"this state_dict is from a {state_dict.get('type')!r} schedule, "
                             f"cannot load it into {type(self).__name__}")
        self.base_lr, self.last_epoch = float(state_dict["base_lr"]), int(state_dict["last_epoch"])
        self.optimizer.lr = self.lr_at(self.last_epoch)


class StepLR(LRScheduler):
    """lr = base_lr · γ^⌊epoch / step_size⌋: divide by 1/γ every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = check_float("gamma", gamma, 0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = η_min + (base_lr - η_min) · (1 + cos(π · epoch / T_max)) / 2 (Loshchilov & Hutter,
    2017, without restarts): from base_lr down to η_min at epoch T_max, then back up."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        self.T_max = check_int("T_max", T_max, 1)
        self.eta_min = check_float("eta_min", eta_min, 0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
