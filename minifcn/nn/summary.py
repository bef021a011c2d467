"""``summary(model, input_shape)``: a table of each layer's output shape and parameter count.

It runs one forward pass on zeros with a forward hook on every leaf module (a module with
no sub-modules), recording what each one returns, the way Keras' ``model.summary()`` and
torchinfo do. The model runs in eval mode under ``no_grad`` and its modes are restored.

``measured_receptive_field(model, input_shape)`` measures what ``arith.receptive_field``
derives: the input region that can change one output pixel, found by backpropagation.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad, tensor
from ..backend import array_module
from .module import Module


def _shape_of(output: Any) -> str:
    """(N, C, H, W) of a Tensor; for a tuple (e.g. max-pool values and indices) the first's."""
    if isinstance(output, (tuple, list)) and output:
        return _shape_of(output[0])
    if isinstance(output, Tensor) or backend.is_array(output):
        return str(tuple(output.shape))
    return type(output).__name__


def count_parameters(model: Module) -> int:
    """Number of learnable values (each shared parameter once)."""
    return sum(p.size for p in model.parameters())


def summary(model: Module, input_shape: tuple, device: str = "cpu") -> str:
    """The layer table of ``model`` for one input of ``input_shape`` (batch included, e.g.
    ``(1, 3, 64, 64)``), built on ``device`` (where the model must already be).

    Returns the table as a string ending with the total parameter count; print it:
    ``print(nn.summary(model, (1, 3, 64, 64)))``. A layer called twice appears twice.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary needs a Module, got {type(model).__name__}")
    if (not isinstance(input_shape, (tuple, list)) or not input_shape
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0
                       for n in input_shape)):
        raise ValueError(f"input_shape={input_shape!r} must be a tuple of positive ints, batch "
                         "included, e.g. (1, 3, 64, 64)")
    rows: list[tuple[str, str, str, int]] = []

    def record(name: str):
        def hook(module: Module, inputs: tuple, output: Any) -> None:
            rows.append((name or type(module).__name__, type(module).__name__, _shape_of(output),
                         sum(p.size for p in module.parameters(recurse=False))))
        return hook

    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(record(n)) for n, m in leaves]
    modes = [(m, m.training) for m in model.modules()]
    x = Tensor(backend.module_for(device).zeros(tuple(int(n) for n in input_shape), dtype=np.float32))
    try:
        model.eval()
        with no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)

    header = ("Layer", "Type", "Output shape", "Params")
    table = [header] + [(n, t, s, f"{p:,}") for n, t, s, p in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]

    def line(r: tuple) -> str:
        return "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                          r[3].rjust(widths[3])])

    rule = "-" * len(line(header))
    total = count_parameters(model)
    return "\n".join([line(header), rule] + [line(r) for r in table[1:]] + [
        rule,
        f"Input shape: {tuple(input_shape)}   Output shape: {_shape_of(out)}",
        f"Total params: {total:,}"])


def measured_receptive_field(model: Any, input_shape: tuple, seed: int = 0) -> tuple[int, int]:
    """Height and width of the input region that can change the centre output pixel.

    Measured, not derived: run the model (eval mode) on a random (C, H, W) input, backpropagate
    from the centre pixel of the first output channel, and take the bounding box of the
    nonzero input gradient. (A unit that ReLU switched off for this input can hide a few
    pixels at the edge; the box is then a lower bound.)
    """
    c, h, w = input_shape
    x = tensor(np.random.default_rng(seed).standard_normal((1, c, h, w)), requires_grad=True,
                  device=next(model.parameters()).device if any(True for _ in model.parameters()) else "cpu",
                  dtype="float32")
    was_training = model.training
    model.eval()
    try:
        y = model(x)
        grad = array_module(y.data).zeros(y.shape, dtype=y.dtype)
        grad[0, 0, y.shape[2] // 2, y.shape[3] // 2] = 1
        y.backward(grad)
    finally:
        model.train(was_training)
    hit = np.abs(backend.to_numpy(x.grad))[0].sum(axis=0) > 0
    rows, cols = np.nonzero(hit.any(axis=1))[0], np.nonzero(hit.any(axis=0))[0]
    if rows.size == 0:
        return 0, 0
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
