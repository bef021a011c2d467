"""Check a Function's backward against central finite differences.

For a function f(x₁, …, xₙ) with output y, pick a random projection r (same shape as y)
and the scalar L = Σ y·r. Backward gives the analytic ∂L/∂xᵢ; the numeric one is

    ∂L/∂x[j] ≈ (L(x + ε e_j) − L(x − ε e_j)) / 2ε     (error O(ε²))

and they must agree to |analytic − numeric| <= atol + rtol·|numeric| elementwise. In float32
rounding would swamp ε², so inputs must be float64. Fast mode checks only the directional
derivative along a random u (vᵀJu with v = r), one pair of evaluations per input.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import backend
from .autograd import Tensor


def _objective(fn: Callable, inputs: tuple, r: Any) -> float:
    out = fn(*inputs)
    return float((out.data * r).sum())


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, fast: bool = False, seed: int = 0) -> bool:
    """Compare ``fn``'s analytic gradients with central differences; raise AssertionError if they differ.

    ``inputs`` are Tensors (those with ``requires_grad=True`` are checked, and must be
    float64) or anything else ``fn`` accepts. Returns True when every gradient agrees. The
    error message names the input, the worst element, both values and the tolerance.
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need "
                            "float64 (make it with dtype='float64')")
    for i in checked:
        inputs[i].grad = None
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    xp = backend.array_module(out.data)
    rng = np.random.default_rng(seed)
    r = backend.to_device(rng.standard_normal(out.shape), out.device)
    out.backward(r)

    for i in checked:
        x = inputs[i]
        analytic = x.grad if x.grad is not None else xp.zeros_like(x.data)
        if fast:
            u = backend.to_device(rng.standard_normal(x.shape), x.device)
            saved = x.data.copy()
            x.data = saved + eps * u
            f_plus = _objective(fn, inputs, r)
            x.data = saved - eps * u
            f_minus = _objective(fn, inputs, r)
            x.data = saved
            numeric, exact = (f_plus - f_minus) / (2 * eps), float((analytic * u).sum())
            if abs(exact - numeric) > atol + rtol * abs(numeric):
                raise AssertionError(f"gradcheck (fast) failed for input {i} of shape {x.shape}: "
                                     f"analytic vᵀJu = {exact:.8g}, numeric = {numeric:.8g}, "
                                     f"difference {abs(exact - numeric):.3g} > atol + rtol·|numeric| = "
                                     f"{atol + rtol * abs(numeric):.3g}")
            continue
        numeric = np.zeros(x.shape)
        flat = x.data.reshape(-1)  # a view: writing into it perturbs x.data
        for j in range(flat.size):
            v = float(flat[j])
            flat[j] = v + eps
            f_plus = _objective(fn, inputs, r)
            flat[j] = v - eps
            f_minus = _objective(fn, inputs, r)
            flat[j] = v
            numeric.reshape(-1)[j] = (f_plus - f_minus) / (2 * eps)
        analytic = backend.to_numpy(analytic)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and excess.max() > 0:
            k = np.unravel_index(int(np.argmax(excess)), x.shape)
            bad = int((excess > 0).sum())
            raise AssertionError(
                f"gradcheck failed for input {i} of shape {x.shape}: {bad} of {excess.size} elements "
                f"differ; worst at index {tuple(int(v) for v in k)}: analytic {analytic[k]:.8g}, "
                f"numeric {numeric[k]:.8g}, |difference| {abs(analytic[k] - numeric[k]):.3g} > "
                f"atol + rtol·|numeric| = {atol + rtol * abs(numeric[k]):.3g}")
    return True
