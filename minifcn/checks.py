"""Argument checks shared by the library: each names the argument, the value and what is valid."""
from __future__ import annotations

import numbers


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``low..high``, or a ValueError naming ``name`` and the range."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        valid = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name}={value!r} is not valid; use an integer {valid}")
    return int(value)


def check_float(name: str, value, low: float, high: float | None = None) -> float:
    """``value`` as a float in ``[low, high]``, or a ValueError naming ``name`` and the range."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not (value >= low) or (high is not None and value > high):
        valid = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}={value!r} is not valid; use a number {valid}")
    return float(value)
