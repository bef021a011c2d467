"""Argument checks: the one module where the library checks what it is handed.

One rule for the kind of error: a wrong **type** (a float where an integer is needed, a
list where a tensor is needed, an integer dtype where floats are needed) raises
``TypeError``; a wrong **value** of the right type (out of range, a wrong shape, an unknown
choice, a label outside the classes) raises ``ValueError``. Every message names the
argument, the value it got and what would be valid, e.g.

    stride must be an integer >= 1, got 0
    momentum must be a number in [0, 1], got 1.5
    cross_entropy: reduction='avg' is not one of ('mean', 'sum', 'none')

Ops check their arguments once, here; layers (``nn``) call the same checks for their
constructor arguments and leave the rest to the functional op they call.
(``check_int`` and ``pair`` live in ``arith``, which must import nothing, and are
re-exported here.)
"""
from __future__ import annotations

import numbers
from typing import Any

from .arith import check_int, pair  # noqa: F401  (the integer rule; see the docstring)
from .autograd import Tensor, as_tensor, unwrap  # noqa: F401
from .gpu import skip_device_check

__all__ = ["check_int", "pair", "check_float", "check_choice", "check_nchw", "check_groups",
           "check_label_range", "unwrap"]


def _prefix(fn: str | None) -> str:
    return f"{fn}: " if fn else ""


def check_float(name: str, value: Any, low: float, high: float | None = None,
                high_open: bool = False, low_open: bool = False) -> float:
    """``value`` as a float in [low, high] (open at either end with ``low_open`` /
    ``high_open``; no upper bound when ``high`` is None). Non-numbers raise TypeError,
    numbers out of range (or NaN) ValueError."""
    if high is None:
        valid = f"> {low}" if low_open else f">= {low}"
    else:
        valid = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {valid}, got {value!r} of type {type(value).__name__}")
    above = high is not None and (value >= high if high_open else value > high)
    below = not (value > low if low_open else value >= low)     # also true for NaN
    if below or above:
        raise ValueError(f"{name} must be a number {valid}, got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, allowed: tuple, fn: str | None = None) -> Any:
    """``value`` if it is one of ``allowed``, else ValueError listing them."""
    if not isinstance(value, str) and all(isinstance(a, str) for a in allowed):
        raise TypeError(f"{_prefix(fn)}{name}={value!r} must be a string, one of {allowed}")
    if value not in allowed:
        raise ValueError(f"{_prefix(fn)}{name}={value!r} is not one of {allowed}")
    return value


def check_nchw(x: Any, fn: str) -> Tensor:
    """``x`` as a Tensor, which must be a floating (N, C, H, W) batch of images."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{fn}: x must have 4 axes (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: x must be a floating array (float32 or float64), got {x.dtype}")
    return x


def check_groups(groups: Any, channels: dict[str, int], fn: str | None = None) -> int:
    """``groups`` as an int >= 1 that divides every channel count in ``channels``
    ({description: count}, e.g. {"in_channels": 4, "out_channels": 6})."""
    groups = check_int(f"{_prefix(fn)}groups", groups, 1)
    if any(n % groups for n in channels.values()):
        what = " and ".join(f"{name} = {n}" for name, n in channels.items())
        raise ValueError(f"{_prefix(fn)}groups={groups} must divide {what}")
    return groups


def check_label_range(labels: Any, num_classes: int, name: str = "target", fn: str | None = None,
                      ignore_index: int | None = None, hint: str = "") -> None:
    """Every label (a backend integer array) lies in [0, num_classes) or is ``ignore_index``.

    One host sync (``bool(...)``); the message names the first label that is not.
    """
    if skip_device_check(labels):  # device labels already checked on the host (minifcn.gpu.deferred_checks)
        return
    K = num_classes
    bad = (labels < 0) | (labels >= K)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if bool(bad.any()):
        label = int(labels[bad][0])
        also = f" and is not ignore_index={ignore_index}" if ignore_index is not None else ""
        verb = "hold" if name.endswith("s") else "holds"
        raise ValueError(f"{_prefix(fn)}{name} {verb} label {label}, outside [0, {K}) for K={K} classes"
                         f"{also}{hint}")


def check_conv_padding(padding: Any, stride: Any, fn: str | None = None) -> Any:
    """conv2d's padding: "valid", "same" (stride 1 only), or an int / (PH, PW) pair.

    Returns the string, or the (PH, PW) pair of ints."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{_prefix(fn)}padding must be an int, a pair (PH, PW), 'valid' or 'same', "
                             f"got {padding!r}")
        if padding == "same" and pair(stride, "stride") != (1, 1):
            raise ValueError(f"{_prefix(fn)}padding='same' needs stride=1, got stride={stride!r} "
                             "(a strided convolution cannot keep the size; give padding as numbers)")
        return padding
    return pair(padding, "padding")
